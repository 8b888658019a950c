//! End to end with the official Python client (pip `kubernetes`): CRUD, list with
//! selectors and pagination, and a watch that sees every event in order.

mod common;

use std::process::Command;

use common::{TestServer, python_path};

#[test]
fn python_client_crud_selectors_and_ordered_watch() {
    let server = TestServer::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client_e2e.py");
    let out = Command::new(python_path())
        .arg(script)
        .env("KUBECONFIG", &server.kubeconfig)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python client checks failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
