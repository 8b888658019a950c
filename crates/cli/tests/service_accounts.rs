//! End to end with the real kubectl: the service account controller gives every
//! namespace a `default` ServiceAccount and brings it back when it is deleted.

mod common;

use std::time::Duration;

use common::{TestServer, eventually};

fn has_default(server: &TestServer, namespace: &str) -> bool {
    server
        .kubectl(&["get", "serviceaccount", "default", "-n", namespace])
        .status
        .success()
}

#[test]
fn every_namespace_has_a_default_service_account() {
    let server = TestServer::start();
    for namespace in ["default", "kube-system"] {
        assert!(
            eventually(Duration::from_secs(10), || has_default(&server, namespace)),
            "the system namespace {namespace} gets one"
        );
    }
    server.kubectl_ok(&["create", "namespace", "team"]);
    assert!(eventually(Duration::from_secs(10), || has_default(
        &server, "team"
    )));

    server.kubectl_ok(&["delete", "serviceaccount", "default", "-n", "team"]);
    assert!(
        eventually(Duration::from_secs(10), || has_default(&server, "team")),
        "a deleted default account comes back"
    );
    let accounts = server.kubectl_ok(&["get", "serviceaccounts", "-n", "team", "-o", "name"]);
    assert_eq!(accounts.trim(), "serviceaccount/default", "exactly one");
}
