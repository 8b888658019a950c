//! End to end with the real kubectl: the scheduler inside `skiff server` binds pods to
//! nodes by their resources, node selectors and taints, reports pods that fit
//! nowhere (PodScheduled=False and a FailedScheduling event), and places them once
//! the cluster changes. The nodes are plain Node objects: no agent runs here.

mod common;

use std::time::Duration;

use common::{TestServer, eventually};

fn node(name: &str, cpu: &str, labels: &str, taints: &str) -> String {
    format!(
        "apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels: {{{labels}}}
spec:
  taints: [{taints}]
status:
  capacity: {{cpu: '{cpu}', memory: 8Gi, pods: '110'}}
  allocatable: {{cpu: '{cpu}', memory: 8Gi, pods: '110'}}
"
    )
}

fn pod(name: &str, cpu: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: app
    image: busybox
    resources: {{requests: {{cpu: '{cpu}'}}}}
{extra}"
    )
}

fn node_of(server: &TestServer, pod: &str) -> String {
    server.kubectl_ok(&["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"])
}

fn wait_bound(server: &TestServer, pod: &str) -> String {
    let mut node = String::new();
    eventually(Duration::from_secs(10), || {
        node = node_of(server, pod);
        !node.is_empty()
    });
    node
}

#[test]
fn pods_go_where_they_fit_and_wait_with_a_reason_where_nothing_does() {
    let server = TestServer::start();
    let nodes = [
        node("small", "2", "disk: ssd", ""),
        node(
            "tainted",
            "4",
            "disk: hdd",
            "{key: dedicated, value: db, effect: NoSchedule}",
        ),
    ];
    server.kubectl_apply_stdin(&["create", "-f", "-"], &nodes.join("---\n"));

    let selected = pod("on-ssd", "100m", "  nodeSelector: {disk: ssd}\n");
    server.kubectl_apply_stdin(&["create", "-f", "-"], &selected);
    assert_eq!(wait_bound(&server, "on-ssd"), "small");
    let condition = server.kubectl_ok(&[
        "get",
        "pod",
        "on-ssd",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].status}",
    ]);
    assert_eq!(condition, "True");

    let big = pod("big", "3", "");
    server.kubectl_apply_stdin(&["create", "-f", "-"], &big);
    let message = "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: db}.";
    let reported = eventually(Duration::from_secs(10), || {
        let events = server.kubectl_ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=big,reason=FailedScheduling",
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        let condition = server.kubectl_ok(&[
            "get",
            "pod",
            "big",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].reason}",
        ]);
        events.contains(message) && condition == "Unschedulable"
    });
    assert!(
        reported,
        "FailedScheduling event and condition; events: {}",
        server.kubectl_ok(&["get", "events", "-o", "wide"])
    );
    assert_eq!(node_of(&server, "big"), "", "the pod stays Pending");

    let tolerant = pod(
        "tolerant",
        "3",
        "  tolerations: [{key: dedicated, operator: Equal, value: db, effect: NoSchedule}]\n",
    );
    server.kubectl_apply_stdin(&["create", "-f", "-"], &tolerant);
    assert_eq!(wait_bound(&server, "tolerant"), "tainted");

    // A new node with room: the waiting pod is retried and placed there.
    server.kubectl_apply_stdin(&["create", "-f", "-"], &node("roomy", "8", "disk: ssd", ""));
    assert_eq!(wait_bound(&server, "big"), "roomy");

    let events = server.kubectl_ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=big,reason=Scheduled",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(
        events.contains("Successfully assigned default/big to roomy"),
        "{events}"
    );
}

#[test]
fn full_nodes_turn_pods_away_until_room_is_freed() {
    let server = TestServer::start();
    server.kubectl_apply_stdin(&["create", "-f", "-"], &node("only", "1", "", ""));
    server.kubectl_apply_stdin(&["create", "-f", "-"], &pod("first", "800m", ""));
    assert_eq!(wait_bound(&server, "first"), "only");
    server.kubectl_apply_stdin(&["create", "-f", "-"], &pod("second", "800m", ""));
    let refused = eventually(Duration::from_secs(10), || {
        server
            .kubectl_ok(&[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=second",
                "-o",
                "jsonpath={.items[*].message}",
            ])
            .contains("0/1 nodes are available: 1 Insufficient cpu.")
    });
    assert!(refused, "the second pod does not fit beside the first");

    // Deleting the first pod frees its CPU. Nothing runs it, so the deletion is forced.
    server.kubectl_ok(&["delete", "pod", "first", "--grace-period=0", "--force"]);
    assert_eq!(wait_bound(&server, "second"), "only");
}
