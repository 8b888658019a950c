//! Bad input gets the upstream status code and a Status body that says what is
//! wrong, and nothing is stored.

mod common;

use common::TestServer;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

const CM_URL: &str = "/api/v1/namespaces/default/configmaps";

fn post(
    server: &TestServer,
    client: &Client,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::blocking::Body>,
) -> Response {
    client
        .post(format!("{}{path}", server.url()))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .expect("request")
}

/// Checks the code and the Status body, and returns the Status.
fn expect_status(response: Response, code: u16, reason: &str) -> Value {
    assert_eq!(response.status().as_u16(), code);
    let status: Value = response.json().expect("a Status body");
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["code"], code);
    assert_eq!(status["reason"], reason, "{status}");
    assert!(status["message"].as_str().is_some_and(|m| !m.is_empty()));
    status
}

fn stored_configmaps(server: &TestServer, client: &Client) -> usize {
    let list: Value = client
        .get(format!("{}{CM_URL}", server.url()))
        .send()
        .expect("list")
        .json()
        .expect("json");
    list["items"].as_array().map_or(0, Vec::len)
}

#[test]
fn malformed_bodies_are_bad_requests_and_store_nothing() {
    let server = TestServer::start();
    let client = server.http();
    let s = expect_status(
        post(&server, &client, CM_URL, "application/json", "{\"kind\": "),
        400,
        "BadRequest",
    );
    assert!(s["message"].as_str().unwrap().contains("JSON"), "{s}");
    let s = expect_status(
        post(
            &server,
            &client,
            CM_URL,
            "application/yaml",
            "kind: [unclosed",
        ),
        400,
        "BadRequest",
    );
    assert!(s["message"].as_str().unwrap().contains("YAML"), "{s}");
    let s = expect_status(
        post(
            &server,
            &client,
            CM_URL,
            "application/vnd.kubernetes.protobuf",
            vec![1u8, 2, 3],
        ),
        400,
        "BadRequest",
    );
    assert!(s["message"].as_str().unwrap().contains("protobuf"), "{s}");
    expect_status(
        post(&server, &client, CM_URL, "text/plain", "hello"),
        415,
        "UnsupportedMediaType",
    );
    assert_eq!(stored_configmaps(&server, &client), 0);
}

#[test]
fn wrong_api_version_or_kind_is_rejected() {
    let server = TestServer::start();
    let client = server.http();
    let body = json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    let s = expect_status(
        post(
            &server,
            &client,
            CM_URL,
            "application/json",
            body.to_string(),
        ),
        400,
        "BadRequest",
    );
    assert!(s["message"].as_str().unwrap().contains("apps/v1"), "{s}");
    let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}});
    expect_status(
        post(
            &server,
            &client,
            CM_URL,
            "application/json",
            body.to_string(),
        ),
        400,
        "BadRequest",
    );
    assert_eq!(stored_configmaps(&server, &client), 0);
}

#[test]
fn invalid_names_are_unprocessable_with_field_causes() {
    let server = TestServer::start();
    let client = server.http();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_Valid"}});
    let s = expect_status(
        post(
            &server,
            &client,
            CM_URL,
            "application/json",
            body.to_string(),
        ),
        422,
        "Invalid",
    );
    let causes = s["details"]["causes"].as_array().expect("causes");
    assert!(causes.iter().any(|c| c["field"] == "metadata.name"), "{s}");
    assert_eq!(s["details"]["name"], "Not_Valid");
    assert_eq!(stored_configmaps(&server, &client), 0);
}

#[test]
fn bodies_over_three_mebibytes_are_too_large() {
    let server = TestServer::start();
    let client = server.http();
    let big = "x".repeat(3 * 1024 * 1024 + 1);
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"a": big}});
    expect_status(
        post(
            &server,
            &client,
            CM_URL,
            "application/json",
            body.to_string(),
        ),
        413,
        "RequestEntityTooLarge",
    );
    assert_eq!(stored_configmaps(&server, &client), 0);
}

#[test]
fn unknown_fields_fail_strict_field_validation() {
    let server = TestServer::start();
    let client = server.http();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "strict"}, "dataa": {"a": "b"}});
    let path = format!("{CM_URL}?fieldValidation=Strict");
    let s = expect_status(
        post(
            &server,
            &client,
            &path,
            "application/json",
            body.to_string(),
        ),
        400,
        "BadRequest",
    );
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"dataa\""),
        "{s}"
    );
    assert_eq!(stored_configmaps(&server, &client), 0);
    let ok = post(
        &server,
        &client,
        &format!("{CM_URL}?fieldValidation=Ignore"),
        "application/json",
        body.to_string(),
    );
    assert_eq!(ok.status().as_u16(), 201);
    assert!(
        ok.headers().get("warning").is_none(),
        "Ignore sends no warning"
    );
    let created: Value = ok.json().expect("json");
    assert!(
        created.get("dataa").is_none(),
        "unknown fields are dropped, not stored"
    );
}

#[test]
fn unknown_fields_are_warned_about_by_default() {
    let server = TestServer::start();
    let client = server.http();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "warned"}, "dataa": {"a": "b"}});
    let r = post(
        &server,
        &client,
        CM_URL,
        "application/json",
        body.to_string(),
    );
    assert_eq!(r.status().as_u16(), 201);
    let warning = r
        .headers()
        .get("warning")
        .expect("a Warning header")
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(warning, r#"299 - "unknown field \"dataa\"""#);
}

#[test]
fn stale_resource_versions_conflict_and_keep_the_stored_object() {
    let server = TestServer::start();
    let client = server.http();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "v"}, "data": {"a": "1"}});
    let created: Value = post(
        &server,
        &client,
        CM_URL,
        "application/json",
        body.to_string(),
    )
    .json()
    .expect("json");
    let mut first = created.clone();
    first["data"]["a"] = json!("2");
    let url = format!("{}{CM_URL}/v", server.url());
    let r = client.put(&url).json(&first).send().expect("put");
    assert_eq!(r.status().as_u16(), 200);
    let mut stale = created;
    stale["data"]["a"] = json!("3");
    let s = expect_status(
        client.put(&url).json(&stale).send().expect("put"),
        409,
        "Conflict",
    );
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("the object has been modified"),
        "{s}"
    );
    let now: Value = client.get(&url).send().expect("get").json().expect("json");
    assert_eq!(now["data"]["a"], "2");
}

#[test]
fn watches_from_before_the_retained_window_get_gone() {
    let server = TestServer::start();
    let client = server.http();
    // The system namespaces are written before the watch cache loads, so revision 1
    // lies before the window of events the server keeps.
    let r = client
        .get(format!(
            "{}{CM_URL}?watch=true&resourceVersion=1",
            server.url()
        ))
        .send()
        .expect("watch");
    let s = expect_status(r, 410, "Expired");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("too old resource version"),
        "{s}"
    );
}

#[test]
fn unauthenticated_requests_get_401_except_health_and_version() {
    let server = TestServer::start();
    let anon = server.anonymous_http();
    for path in ["/livez", "/readyz", "/healthz", "/version"] {
        let r = anon
            .get(format!("{}{path}", server.url()))
            .send()
            .expect("get");
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    let r = anon
        .get(format!("{}/api/v1/namespaces", server.url()))
        .send()
        .expect("get");
    expect_status(r, 401, "Unauthorized");
}

#[test]
fn unknown_paths_and_methods_get_404_and_405() {
    let server = TestServer::start();
    let client = server.http();
    let r = client
        .get(format!("{}/api/v1/nothings", server.url()))
        .send()
        .expect("get");
    expect_status(r, 404, "NotFound");
    let r = client
        .post(format!("{}{CM_URL}/x", server.url()))
        .body("{}")
        .send()
        .expect("post");
    expect_status(r, 405, "MethodNotAllowed");
}
