//! End to end with the real kubectl: a CustomResourceDefinition's lifecycle (served
//! within a second, printer columns, short names and categories, scale and status
//! subresources, explain, strict validation, several versions, deletion with its
//! objects) and the errors for bad definitions and bad objects.

mod common;

use std::time::Duration;

use common::{TestServer, eventually};
use serde_json::Value;

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.demo.skiff.dev}
spec:
  group: demo.skiff.dev
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wg]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the widget should look like.
            required: [size]
            properties:
              size:
                type: string
                description: How big the widget is.
                enum: [small, large]
              replicas: {type: integer, minimum: 0, maximum: 10, default: 1}
              color: {type: string, pattern: '^[a-z]+$'}
          status:
            type: object
            properties:
              replicas: {type: integer}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

const WIDGET: &str = "
apiVersion: demo.skiff.dev/v1
kind: Widget
metadata: {name: w1}
spec: {size: small, color: blue}
";

fn install_crd(server: &TestServer) {
    server.kubectl_apply_stdin(&["create", "-f", "-"], CRD);
    let established = eventually(Duration::from_secs(1), || {
        server
            .kubectl(&[
                "wait",
                "--for=condition=Established",
                "crd/widgets.demo.skiff.dev",
                "--timeout=1s",
            ])
            .status
            .success()
    });
    assert!(established, "the definition is established within a second");
}

#[test]
fn a_custom_resource_definition_serves_its_kind_until_deleted() {
    let server = TestServer::start();
    install_crd(&server);
    let crd: Value = serde_json::from_str(&server.kubectl_ok(&[
        "get",
        "crd",
        "widgets.demo.skiff.dev",
        "-o",
        "json",
    ]))
    .expect("json");
    let conditions = crd["status"]["conditions"].to_string();
    assert!(conditions.contains("NamesAccepted"), "{conditions}");
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Widget");

    server.kubectl_apply_stdin(&["apply", "-f", "-"], WIDGET);
    let table = server.kubectl_ok(&["get", "wg"]);
    assert!(
        table.contains("SIZE") && table.contains("REPLICAS"),
        "{table}"
    );
    assert!(table.contains("w1") && table.contains("small"), "{table}");
    let defaulted = server.kubectl_ok(&["get", "widget", "w1", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(defaulted, "1", "the schema default is applied");
    let all = server.kubectl_ok(&["get", "all"]);
    assert!(all.contains("widget.demo.skiff.dev/w1"), "{all}");

    server.kubectl_ok(&["scale", "widget", "w1", "--replicas=4"]);
    let replicas = server.kubectl_ok(&["get", "widget", "w1", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "4");
    server.kubectl_ok(&[
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":4}}"#,
    ]);
    let status = server.kubectl_ok(&["get", "widget", "w1", "-o", "jsonpath={.status.replicas}"]);
    assert_eq!(status, "4");
    let out = server.kubectl(&[
        "patch",
        "widget",
        "w1",
        "--type=strategic",
        "-p",
        r#"{"spec":{"size":"large"}}"#,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("application/merge-patch+json"),
        "custom resources refuse strategic merge patches with 415: {err}"
    );

    let beta = server.kubectl_ok(&[
        "get",
        "widgets.v1beta1.demo.skiff.dev",
        "w1",
        "-o",
        "jsonpath={.apiVersion}",
    ]);
    assert_eq!(
        beta, "demo.skiff.dev/v1beta1",
        "served at the asked version"
    );

    let explained = server.kubectl_ok(&["explain", "widget.spec.size"]);
    assert!(explained.contains("How big the widget is"), "{explained}");

    server.kubectl_ok(&["delete", "crd", "widgets.demo.skiff.dev"]);
    let gone = eventually(Duration::from_secs(10), || {
        !server
            .kubectl(&["get", "crd", "widgets.demo.skiff.dev"])
            .status
            .success()
    });
    assert!(gone, "the definition goes once its objects are deleted");
    let out = server.kubectl(&["get", "widgets.demo.skiff.dev"]);
    assert!(!out.status.success(), "the kind is no longer served");
}

#[test]
fn custom_resources_violating_the_schema_are_rejected_with_each_bad_field() {
    let server = TestServer::start();
    install_crd(&server);
    let bad = "apiVersion: demo.skiff.dev/v1\nkind: Widget\nmetadata: {name: bad}\nspec: {size: huge, replicas: 20, color: Blue1}\n";
    let out = server.kubectl_stdin(&["create", "-f", "-"], Some(bad));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for field in ["spec.size", "spec.replicas", "spec.color"] {
        assert!(err.contains(field), "{field} must be named: {err}");
    }
    assert!(!server.kubectl(&["get", "widget", "bad"]).status.success());

    let unknown = WIDGET.replace("color: blue", "colour: blue");
    let out = server.kubectl_stdin(&["create", "--validate=strict", "-f", "-"], Some(&unknown));
    assert!(
        !out.status.success(),
        "strict validation rejects an unknown field"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn a_non_structural_schema_is_rejected_with_causes() {
    let server = TestServer::start();
    let bad = CRD.replace(
        "              color: {type: string, pattern: '^[a-z]+$'}\n",
        "              color: {pattern: '^[a-z]+$'}\n",
    );
    let out = server.kubectl_stdin(&["create", "-f", "-"], Some(&bad));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[color].type"
        ),
        "{err}"
    );
    assert!(
        !server
            .kubectl(&["get", "crd", "widgets.demo.skiff.dev"])
            .status
            .success()
    );
}

const RANGE_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ranges.demo.skiff.dev}
spec:
  group: demo.skiff.dev
  scope: Cluster
  names: {plural: ranges, singular: range, kind: Range}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - {rule: "self.min <= self.max", message: "min must not exceed max"}
            properties:
              min: {type: integer}
              max: {type: integer}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [port]
                items:
                  type: object
                  required: [port]
                  properties:
                    port: {type: integer}
                    name: {type: string}
"#;

#[test]
fn cluster_scoped_resources_with_cel_rules_and_list_maps() {
    let server = TestServer::start();
    server.kubectl_apply_stdin(&["create", "-f", "-"], RANGE_CRD);
    let established = eventually(Duration::from_secs(1), || {
        server
            .kubectl(&[
                "wait",
                "--for=condition=Established",
                "crd/ranges.demo.skiff.dev",
                "--timeout=1s",
            ])
            .status
            .success()
    });
    assert!(established);

    let ok = "apiVersion: demo.skiff.dev/v1\nkind: Range\nmetadata: {name: r1}\nspec: {min: 1, max: 5, ports: [{port: 80, name: web}]}\n";
    server.kubectl_apply_stdin(&["apply", "--server-side", "-f", "-"], ok);
    let got: Value =
        serde_json::from_str(&server.kubectl_ok(&["get", "range", "r1", "-o", "json"]))
            .expect("json");
    assert_eq!(got["metadata"].get("namespace"), None, "cluster-scoped");

    // A second manager adds a list-map item; the first manager's item stays.
    let other = "apiVersion: demo.skiff.dev/v1\nkind: Range\nmetadata: {name: r1}\nspec: {ports: [{port: 443, name: tls}]}\n";
    server.kubectl_apply_stdin(
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        other,
    );
    let ports = server.kubectl_ok(&["get", "range", "r1", "-o", "jsonpath={.spec.ports[*].port}"]);
    assert_eq!(ports, "80 443", "list-map items are merged by their key");

    let bad = ok.replace("min: 1", "min: 9").replace("r1", "r2");
    let out = server.kubectl_stdin(&["create", "-f", "-"], Some(&bad));
    assert!(!out.status.success(), "the CEL rule rejects min > max");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("min must not exceed max"), "{err}");
}
