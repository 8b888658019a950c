//! End to end with the real kubectl: `apply --prune`, strategic merge patches on each
//! merge-key list, and server-side apply with managedFields, conflicts and force.

mod common;

use common::TestServer;
use serde_json::{Value, json};

fn get_json(server: &TestServer, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&server.kubectl_ok(&all)).expect("kubectl prints JSON")
}

fn patch(server: &TestServer, kind: &str, name: &str, body: &str) {
    server.kubectl_ok(&["patch", kind, name, "--type=strategic", "-p", body]);
}

const PRUNE_SET: &str = "
apiVersion: v1
kind: ConfigMap
metadata: {name: keep, labels: {set: demo}}
data: {a: '1'}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: drop, labels: {set: demo}}
data: {b: '2'}
";

#[test]
fn apply_prune_deletes_what_left_the_file() {
    let server = TestServer::start();
    server.kubectl_apply_stdin(&["apply", "-f", "-"], PRUNE_SET);
    server.kubectl_ok(&["create", "configmap", "unlabelled"]);

    let only_keep = PRUNE_SET.split("---").next().expect("first document");
    let out = server.kubectl_apply_stdin(
        &[
            "apply",
            "--prune",
            "-l",
            "set=demo",
            "--prune-allowlist=core/v1/ConfigMap",
            "-f",
            "-",
        ],
        only_keep,
    );
    assert!(out.contains("configmap/drop pruned"), "{out}");
    assert!(server.kubectl(&["get", "cm", "keep"]).status.success());
    assert!(!server.kubectl(&["get", "cm", "drop"]).status.success());
    assert!(
        server
            .kubectl(&["get", "cm", "unlabelled"])
            .status
            .success(),
        "objects outside the selector stay"
    );
}

/// A Deployment rather than a Pod: a Pod's spec is immutable past its images, and
/// the merge keys live in the same PodSpec inside the template.
const LISTS: &str = r#"{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "lists", "finalizers": ["a.example/one"]},
  "spec": {
    "selector": {"matchLabels": {"app": "lists"}},
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
    "template": {
      "metadata": {"labels": {"app": "lists"}},
      "spec": {
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [{
          "name": "web", "image": "nginx",
          "env": [{"name": "A", "value": "1"}],
          "ports": [{"containerPort": 80}],
          "volumeMounts": [{"name": "data", "mountPath": "/data"}]
        }],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "k1", "operator": "Exists"}]
      }
    }
  }
}"#;

#[test]
fn strategic_merge_patch_merges_each_list_by_its_key() {
    let server = TestServer::start();
    server.kubectl_stdin(&["create", "-f", "-"], Some(LISTS));
    let pod_spec = |deploy: &Value| deploy["spec"]["template"]["spec"].clone();

    patch(
        &server,
        "deploy",
        "lists",
        r#"{"spec":{"template":{"spec":{
            "containers":[{"name":"web","env":[{"name":"B","value":"2"}],
              "ports":[{"containerPort":443}],
              "volumeMounts":[{"name":"cache","mountPath":"/cache"}]}],
            "volumes":[{"name":"cache","emptyDir":{}}]}}}}"#,
    );
    let spec = pod_spec(&get_json(&server, &["get", "deploy", "lists"]));
    let web = &spec["containers"][0];
    assert_eq!(web["image"], "nginx", "merged by name, image kept");
    let names: Vec<&str> = web["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["B", "A"], "env merged by name, patch items first");
    let ports: Vec<&Value> = web["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| &p["containerPort"])
        .collect();
    assert_eq!(ports, [&json!(443), &json!(80)], "ports by containerPort");
    assert_eq!(
        web["volumeMounts"].as_array().map(Vec::len),
        Some(2),
        "mounts by mountPath"
    );
    assert_eq!(
        spec["volumes"].as_array().map(Vec::len),
        Some(2),
        "volumes by name"
    );

    patch(
        &server,
        "deploy",
        "lists",
        r#"{"spec":{"template":{"spec":{
            "initContainers":[{"name":"init","image":"busybox:1.36"}],
            "tolerations":[{"key":"k2","operator":"Exists"}]}}}}"#,
    );
    patch(
        &server,
        "deploy",
        "lists",
        r#"{"metadata":{"finalizers":["a.example/two"]}}"#,
    );
    let deploy = get_json(&server, &["get", "deploy", "lists"]);
    let spec = pod_spec(&deploy);
    assert_eq!(spec["initContainers"][0]["image"], "busybox:1.36");
    assert_eq!(spec["initContainers"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        spec["tolerations"],
        json!([{"key": "k2", "operator": "Exists"}]),
        "tolerations have no merge key upstream: the patch replaces them"
    );
    assert_eq!(
        deploy["metadata"]["finalizers"],
        json!(["a.example/two", "a.example/one"]),
        "finalizers merge as a set, new items ahead of the server's as upstream orders them"
    );

    patch(
        &server,
        "deploy",
        "lists",
        r#"{"spec":{"template":{"spec":{
              "containers":[{"name":"web","env":[{"name":"A","$patch":"delete"}]}],
              "$setElementOrder/volumes":[{"name":"data"},{"name":"cache"}]}},
            "strategy":{"$retainKeys":["type"],"type":"Recreate"}},
            "metadata":{"$deleteFromPrimitiveList/finalizers":["a.example/one"]}}"#,
    );
    let deploy = get_json(&server, &["get", "deploy", "lists"]);
    let spec = pod_spec(&deploy);
    assert_eq!(
        spec["containers"][0]["env"],
        json!([{"name": "B", "value": "2"}])
    );
    let volumes: Vec<&Value> = spec["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .map(|v| &v["name"])
        .collect();
    assert_eq!(
        volumes,
        [&json!("data"), &json!("cache")],
        "$setElementOrder"
    );
    assert_eq!(
        deploy["spec"]["strategy"],
        json!({"type": "Recreate"}),
        "$retainKeys drops rollingUpdate"
    );
    assert_eq!(deploy["metadata"]["finalizers"], json!(["a.example/two"]));

    patch(
        &server,
        "deploy",
        "lists",
        r#"{"spec":{"template":{"spec":{"tolerations":[{"$patch":"replace"}]}}}}"#,
    );
    let spec = pod_spec(&get_json(&server, &["get", "deploy", "lists"]));
    // Upstream then drops the empty list through its Go types' omitempty; skiff keeps
    // it (docs/LIMITATIONS.md). Either way no toleration is left.
    assert!(
        spec.get("tolerations").is_none_or(|t| t == &json!([])),
        "$patch: replace with nothing empties the list: {spec}"
    );

    patch(
        &server,
        "deploy",
        "lists",
        r#"{"metadata":{"finalizers":null}}"#,
    );
}

const SSA_DEPLOYMENT: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: ssa}
spec:
  replicas: 2
  selector: {matchLabels: {app: ssa}}
  template:
    metadata: {labels: {app: ssa}}
    spec:
      containers:
      - {name: web, image: nginx:1.27}
";

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or_default().to_string(),
                        e["operation"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn server_side_apply_records_owners_and_reports_conflicts() {
    let server = TestServer::start();
    let out = server.kubectl_apply_stdin(&["apply", "--server-side", "-f", "-"], SSA_DEPLOYMENT);
    assert!(out.contains("serverside-applied"), "{out}");
    let deploy = get_json(&server, &["get", "deploy", "ssa", "--show-managed-fields"]);
    assert_eq!(managers(&deploy), [("kubectl".into(), "Apply".into())]);
    let fields = &deploy["metadata"]["managedFields"][0]["fieldsV1"];
    assert!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
            .get("k:{\"name\":\"web\"}")
            .is_some(),
        "containers are owned by name: {fields}"
    );
    let rv = deploy["metadata"]["resourceVersion"].clone();

    server.kubectl_apply_stdin(&["apply", "--server-side", "-f", "-"], SSA_DEPLOYMENT);
    let again = get_json(&server, &["get", "deploy", "ssa"]);
    assert_eq!(
        again["metadata"]["resourceVersion"], rv,
        "the same apply writes nothing"
    );

    server.kubectl_ok(&["scale", "deploy", "ssa", "--replicas=5"]);
    let scaled = get_json(&server, &["get", "deploy", "ssa", "--show-managed-fields"]);
    assert!(
        managers(&scaled)
            .iter()
            .any(|(m, op)| m.starts_with("kubectl") && op == "Update"),
        "the scale is recorded for its manager: {:?}",
        managers(&scaled)
    );

    let out = server.kubectl_stdin(
        &["apply", "--server-side", "--field-manager=other", "-f", "-"],
        Some(&SSA_DEPLOYMENT.replace("replicas: 2", "replicas: 3")),
    );
    assert!(!out.status.success(), "a conflicting apply must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("conflict"), "{err}");
    assert!(err.contains(".spec.replicas"), "{err}");

    server.kubectl_apply_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            "-",
        ],
        &SSA_DEPLOYMENT.replace("replicas: 2", "replicas: 3"),
    );
    let forced = get_json(&server, &["get", "deploy", "ssa", "--show-managed-fields"]);
    assert_eq!(forced["spec"]["replicas"], 3);
    assert!(managers(&forced).contains(&("other".into(), "Apply".into())));
}

#[test]
fn server_side_apply_removes_fields_dropped_from_the_config() {
    let server = TestServer::start();
    let with_label = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {a: '1', b: '2'}}\ndata: {x: '1', y: '2'}\n";
    server.kubectl_apply_stdin(&["apply", "--server-side", "-f", "-"], with_label);
    let without =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {a: '1'}}\ndata: {x: '1'}\n";
    server.kubectl_apply_stdin(&["apply", "--server-side", "-f", "-"], without);
    let cm = get_json(&server, &["get", "cm", "c"]);
    assert_eq!(cm["data"], json!({"x": "1"}));
    assert_eq!(cm["metadata"]["labels"], json!({"a": "1"}));
}
