//! Watch-list, watch timeouts, delete-collection and the server's own lifecycle
//! (SIGTERM, restart on the same data dir), over HTTPS.

mod common;

use std::io::{BufRead, BufReader};

use common::TestServer;
use serde_json::{Value, json};

const CM_URL: &str = "/api/v1/namespaces/default/configmaps";

fn create_cm(server: &TestServer, client: &reqwest::blocking::Client, name: &str, labels: Value) {
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}});
    let r = client
        .post(format!("{}{CM_URL}", server.url()))
        .json(&body)
        .send()
        .expect("create");
    assert_eq!(r.status().as_u16(), 201);
}

fn events(response: reqwest::blocking::Response) -> Vec<Value> {
    BufReader::new(response)
        .lines()
        .map_while(Result::ok)
        .map(|l| serde_json::from_str(&l).expect("one JSON event per line"))
        .collect()
}

#[test]
fn watch_list_sends_current_objects_then_the_initial_events_end_bookmark() {
    let server = TestServer::start();
    let client = server.http();
    create_cm(&server, &client, "a", json!({"app": "x"}));
    create_cm(&server, &client, "b", json!({"app": "y"}));
    let url = format!(
        "{}{CM_URL}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&labelSelector=app%3Dx&timeoutSeconds=1",
        server.url()
    );
    let r = client.get(url).send().expect("watch");
    assert_eq!(r.status().as_u16(), 200);
    let events = events(r);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "a");
    assert_eq!(events[1]["type"], "BOOKMARK");
    let meta = &events[1]["object"]["metadata"];
    assert_eq!(meta["annotations"]["k8s.io/initial-events-end"], "true");
    let rv: i64 = meta["resourceVersion"].as_str().unwrap().parse().unwrap();
    let a_rv: i64 = events[0]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv >= a_rv);
}

#[test]
fn watch_list_without_bookmarks_is_invalid() {
    let server = TestServer::start();
    let client = server.http();
    let url = format!(
        "{}{CM_URL}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
        server.url()
    );
    let r = client.get(url).send().expect("watch");
    assert_eq!(r.status().as_u16(), 422);
}

#[test]
fn watch_from_a_resource_version_sees_later_changes_with_selector_transitions() {
    let server = TestServer::start();
    let client = server.http();
    create_cm(&server, &client, "m", json!({"app": "x"}));
    let list: Value = client
        .get(format!("{}{CM_URL}", server.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = |labels: Value| {
        let r = client
            .patch(format!("{}{CM_URL}/m", server.url()))
            .header("Content-Type", "application/merge-patch+json")
            .body(json!({"metadata": {"labels": labels}}).to_string())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    };
    patch(json!({"app": "y"}));
    patch(json!({"app": "x"}));
    let url = format!(
        "{}{CM_URL}?watch=true&resourceVersion={rv}&labelSelector=app%3Dx&timeoutSeconds=1",
        server.url()
    );
    let events = events(client.get(url).send().expect("watch"));
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["DELETED", "ADDED"],
        "leaving and re-entering the selector"
    );
}

#[test]
fn delete_collection_removes_only_the_selected_objects() {
    let server = TestServer::start();
    let client = server.http();
    create_cm(&server, &client, "keep", json!({"tier": "a"}));
    create_cm(&server, &client, "drop1", json!({"tier": "b"}));
    create_cm(&server, &client, "drop2", json!({"tier": "b"}));
    let r = client
        .delete(format!("{}{CM_URL}?labelSelector=tier%3Db", server.url()))
        .send()
        .expect("delete");
    assert_eq!(r.status().as_u16(), 200);
    let list: Value = client
        .get(format!("{}{CM_URL}", server.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["keep"]);
}

#[test]
fn sigterm_stops_the_server_cleanly_and_a_restart_keeps_every_object() {
    let mut server = TestServer::start();
    server.kubectl_ok(&["create", "configmap", "survivor", "--from-literal=a=1"]);
    let before = server.kubectl_ok(&[
        "get",
        "cm",
        "survivor",
        "-o",
        "jsonpath={.metadata.uid} {.metadata.resourceVersion}",
    ]);
    assert!(server.terminate(), "skiff server must exit 0 on SIGTERM");
    let dir = server.stop();
    let server = TestServer::start_in(dir);
    let after = server.kubectl_ok(&[
        "get",
        "cm",
        "survivor",
        "-o",
        "jsonpath={.metadata.uid} {.metadata.resourceVersion}",
    ]);
    assert_eq!(before, after);
    let ns = server.kubectl_ok(&["get", "ns", "-o", "name"]);
    assert_eq!(
        ns.lines().count(),
        4,
        "no duplicate system namespaces: {ns}"
    );
}

#[test]
fn a_watch_from_a_paginated_list_of_an_untouched_resource_does_not_expire() {
    let server = TestServer::start();
    // A resource nothing has listed or watched yet: a custom one, just served.
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: quiets.demo.skiff.dev}\nspec:\n  group: demo.skiff.dev\n  scope: Namespaced\n  names: {plural: quiets, singular: quiet, kind: Quiet}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n";
    server.kubectl_apply_stdin(&["create", "-f", "-"], crd);
    server.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/quiets.demo.skiff.dev",
    ]);
    let path = "/apis/demo.skiff.dev/v1/namespaces/default/quiets";
    let list = server.kubectl_ok(&["get", "--raw", &format!("{path}?limit=1")]);
    let list: serde_json::Value = serde_json::from_str(&list).expect("list JSON");
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("list resourceVersion")
        .to_string();
    // Other writes move the global revision past the list's.
    server.kubectl_ok(&["create", "configmap", "elsewhere"]);
    let watch = server.kubectl_ok(&[
        "get",
        "--raw",
        &format!("{path}?watch=1&resourceVersion={rv}&timeoutSeconds=1"),
    ]);
    assert!(
        !watch.contains("Expired") && !watch.contains("410"),
        "{watch}"
    );
}
