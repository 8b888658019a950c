//! End to end with the real kubectl: the ReplicaSet controller keeps the declared
//! number of pods, adopts matching pods nobody controls, scales down, and its pods
//! go with it through the garbage collector. No node runs the pods here: the
//! controller's work is the pod objects.

mod common;

use std::time::Duration;

use common::{TestServer, eventually};

const SET: &str = "apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox}]
";

fn pods(server: &TestServer) -> Vec<String> {
    let out = server.kubectl_ok(&["get", "pods", "-l", "app=web", "-o", "name"]);
    out.lines().map(str::to_string).collect()
}

fn settles_at(server: &TestServer, count: usize) -> bool {
    eventually(Duration::from_secs(20), || pods(server).len() == count)
}

#[test]
fn a_replicaset_keeps_its_pods_adopts_and_releases_them_and_takes_them_along() {
    let server = TestServer::start();
    server.kubectl_apply_stdin(&["create", "-f", "-"], SET);
    assert!(settles_at(&server, 3), "three pods: {:?}", pods(&server));
    let owner = server.kubectl_ok(&[
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[*].metadata.ownerReferences[0].name}",
    ]);
    assert_eq!(owner, "web web web");
    let reported = eventually(Duration::from_secs(10), || {
        server.kubectl_ok(&["get", "rs", "web", "-o", "jsonpath={.status.replicas}"]) == "3"
    });
    assert!(reported, "status.replicas follows");

    // A lost pod is replaced.
    let first = pods(&server)[0].clone();
    server.kubectl_ok(&["delete", &first, "--wait=false"]);
    assert!(settles_at(&server, 3));
    assert!(!pods(&server).contains(&first));

    server.kubectl_ok(&["scale", "rs", "web", "--replicas=1"]);
    assert!(settles_at(&server, 1), "scaled down: {:?}", pods(&server));

    // A bare pod with matching labels is adopted, and then it is one too many.
    server.kubectl_ok(&["run", "stray", "--image=busybox", "--labels=app=web"]);
    assert!(
        settles_at(&server, 1),
        "adopted and trimmed: {:?}",
        pods(&server)
    );

    // A pod relabelled out of the selector is released and replaced.
    let kept = pods(&server)[0].clone();
    server.kubectl_ok(&["label", &kept, "app=other", "--overwrite"]);
    assert!(settles_at(&server, 1));
    let released = eventually(Duration::from_secs(10), || {
        server
            .kubectl_ok(&["get", &kept, "-o", "jsonpath={.metadata.ownerReferences}"])
            .trim()
            .trim_matches(|c| c == '[' || c == ']')
            .is_empty()
    });
    assert!(released, "the relabelled pod loses its owner");

    server.kubectl_ok(&["delete", "rs", "web"]);
    assert!(settles_at(&server, 0), "the set's pods go with it");
}
