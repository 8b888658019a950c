//! End to end with the real kubectl: the garbage collector deletes dependents whose
//! owner was deleted (background), keeps them without their reference (orphan), and
//! deletes them before the owner (foreground).

mod common;

use std::time::Duration;

use common::{TestServer, eventually};

fn create_owner(server: &TestServer, name: &str) -> String {
    server.kubectl_ok(&["create", "configmap", name]);
    server.kubectl_ok(&["get", "configmap", name, "-o", "jsonpath={.metadata.uid}"])
}

fn create_dependent(server: &TestServer, name: &str, owner: &str, uid: &str) {
    let dependent = format!(
        r#"{{"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {{"name": "{name}", "ownerReferences": [{{"apiVersion": "v1",
            "kind": "ConfigMap", "name": "{owner}", "uid": "{uid}", "blockOwnerDeletion": true}}]}}}}"#
    );
    server.kubectl_apply_stdin(&["create", "-f", "-"], &dependent);
}

fn exists(server: &TestServer, name: &str) -> bool {
    server.kubectl(&["get", "configmap", name]).status.success()
}

#[test]
fn deleting_an_owner_cascades_as_its_propagation_policy_says() {
    let server = TestServer::start();

    let uid = create_owner(&server, "bg-owner");
    create_dependent(&server, "bg-dep", "bg-owner", &uid);
    server.kubectl_ok(&["delete", "configmap", "bg-owner"]);
    assert!(
        eventually(Duration::from_secs(20), || !exists(&server, "bg-dep")),
        "background: the dependent goes after its owner"
    );

    let uid = create_owner(&server, "orphan-owner");
    create_dependent(&server, "orphan-dep", "orphan-owner", &uid);
    server.kubectl_ok(&[
        "delete",
        "configmap",
        "orphan-owner",
        "--cascade=orphan",
        "--timeout=30s",
    ]);
    assert!(eventually(Duration::from_secs(20), || !exists(
        &server,
        "orphan-owner"
    )));
    let refs = server.kubectl_ok(&[
        "get",
        "configmap",
        "orphan-dep",
        "-o",
        "jsonpath={.metadata.ownerReferences}",
    ]);
    assert!(
        refs.trim().is_empty() || refs.trim() == "[]",
        "orphaned: {refs}"
    );

    let uid = create_owner(&server, "fg-owner");
    create_dependent(&server, "fg-dep", "fg-owner", &uid);
    server.kubectl_ok(&[
        "delete",
        "configmap",
        "fg-owner",
        "--cascade=foreground",
        "--timeout=30s",
    ]);
    assert!(
        !exists(&server, "fg-owner"),
        "kubectl waited for the owner to go"
    );
    assert!(
        !exists(&server, "fg-dep"),
        "foreground: the dependent went first"
    );

    // An object whose owner never existed is collected too.
    create_dependent(
        &server,
        "stray",
        "nobody",
        "00000000-0000-0000-0000-000000000000",
    );
    assert!(eventually(Duration::from_secs(20), || !exists(
        &server, "stray"
    )));
    assert!(exists(&server, "orphan-dep"), "objects without owners stay");
}
