//! `skiff-bench declarative`: the figures of the declarative API issue.
//!
//! - server-side apply of a Deployment with 200 containers, in process (the apply
//!   engine against a strategic merge of the same config) and through the API (an
//!   apply-patch against a PUT of the same object), plus re-applying an unchanged
//!   config, which must not write;
//! - OpenAPI memory: the server's RSS and the served document bytes with 20
//!   CustomResourceDefinitions, against the same server before it had any.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use skiff_api::apply::{self, FieldSet, Request};

use crate::client::{Server, median};
use crate::report::Report;
use crate::{ms, ratio};

const CONTAINERS: usize = 200;
const ROUNDS: usize = 30;
const CRDS: usize = 20;
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

pub async fn figures(skiff: &std::path::Path, report: &mut Report) -> anyhow::Result<()> {
    engine_figures(report)?;
    let server = Server::start(skiff).await?;
    api_figures(&server, report).await?;
    drop(server);
    let server = Server::start(skiff).await?;
    openapi_figures(&server, report).await
}

/// A Deployment whose 200 containers each carry a port, env, mounts and resources,
/// with every image tagged `tag`.
fn deployment(name: &str, tag: &str) -> Value {
    let containers: Vec<Value> = (0..CONTAINERS)
        .map(|i| {
            json!({
                "name": format!("c{i}"),
                "image": format!("registry.local/app{i}:{tag}"),
                "ports": [{"containerPort": 8000 + i, "protocol": "TCP"}],
                "env": [{"name": "INDEX", "value": i.to_string()}, {"name": "MODE", "value": "bench"}],
                "volumeMounts": [{"name": "data", "mountPath": format!("/data/{i}")}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            })
        })
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": containers, "volumes": [{"name": "data", "emptyDir": {}}]},
            },
        },
    })
}

fn engine_figures(report: &mut Report) -> anyhow::Result<()> {
    let schema = apply::builtin_schema("apps", "v1", "Deployment").context("deployment schema")?;
    let reset = FieldSet::top_level(&["status"]);
    let request = Request {
        manager: "bench",
        api_version: "apps/v1",
        kind: "Deployment",
        subresource: None,
        schema: &schema,
        reset_fields: Some(&reset),
        now: "2026-12-03T00:00:00Z",
    };
    let configs = [deployment("big", "1"), deployment("big", "2")];
    let mut live = apply::apply(None, &configs[0], false, &request)?;
    let mut applies = Vec::new();
    let mut merges = Vec::new();
    for round in 0..ROUNDS {
        let config = &configs[(round + 1) % 2];
        let t = Instant::now();
        let merged =
            skiff_api::patch::strategic_merge_kind("apps", "v1", "Deployment", &live, config)?;
        merges.push(t.elapsed());
        std::hint::black_box(merged);
        let t = Instant::now();
        live = apply::apply(Some(&live), config, false, &request)?;
        applies.push(t.elapsed());
    }
    let (apply, merge) = (median(&mut applies), median(&mut merges));
    report.add(
        &format!(
            "apply engine: {CONTAINERS}-container Deployment, new images (median of {ROUNDS})"
        ),
        format!("{:.2} ms", ms(apply)),
        format!("strategic merge of the same config: {:.2} ms", ms(merge)),
        ratio(apply, merge),
        "< 20 ms",
    );
    Ok(())
}

async fn api_figures(server: &Server, report: &mut Report) -> anyhow::Result<()> {
    let applied = format!("{}{DEPLOYMENTS}/applied?fieldManager=bench", server.url);
    let configs = [deployment("applied", "1"), deployment("applied", "2")];
    let send_apply = |config: &Value| {
        server
            .client
            .patch(&applied)
            .header("Content-Type", "application/apply-patch+yaml")
            .body(config.to_string())
            .send()
    };
    let response = send_apply(&configs[0]).await?;
    anyhow::ensure!(
        response.status() == 201,
        "first apply: {}",
        response.status()
    );

    let mut applies = Vec::new();
    for round in 0..ROUNDS {
        let t = Instant::now();
        let response = send_apply(&configs[(round + 1) % 2]).await?;
        anyhow::ensure!(response.status() == 200, "apply: {}", response.status());
        response.bytes().await?;
        applies.push(t.elapsed());
    }

    let mut unchanged = Vec::new();
    let before = resource_version(server, "applied").await?;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let response = send_apply(&configs[ROUNDS % 2]).await?;
        anyhow::ensure!(response.status() == 200, "re-apply: {}", response.status());
        response.bytes().await?;
        unchanged.push(t.elapsed());
    }
    let after = resource_version(server, "applied").await?;
    anyhow::ensure!(
        before == after,
        "re-applying an unchanged config wrote to the store ({before} -> {after})"
    );

    let put_url = format!("{}{DEPLOYMENTS}/updated?fieldManager=bench", server.url);
    let create = server
        .client
        .post(format!("{}{DEPLOYMENTS}", server.url))
        .json(&deployment("updated", "1"))
        .send()
        .await?;
    anyhow::ensure!(create.status() == 201, "create: {}", create.status());
    let mut puts = Vec::new();
    for round in 0..ROUNDS {
        let t = Instant::now();
        let response = server
            .client
            .put(&put_url)
            .json(&deployment(
                "updated",
                if round % 2 == 0 { "2" } else { "1" },
            ))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "put: {}", response.status());
        response.bytes().await?;
        puts.push(t.elapsed());
    }

    let (apply, put, same) = (
        median(&mut applies),
        median(&mut puts),
        median(&mut unchanged),
    );
    report.add(
        &format!("server-side apply through the API, {CONTAINERS} containers, new images (median of {ROUNDS})"),
        format!("{:.1} ms", ms(apply)),
        format!("PUT of the same Deployment: {:.1} ms", ms(put)),
        ratio(apply, put),
        "< 20 ms",
    );
    report.add(
        &format!("re-apply of an unchanged config (median of {ROUNDS})"),
        format!("{:.1} ms, resourceVersion unchanged", ms(same)),
        format!("PUT of the same Deployment: {:.1} ms", ms(put)),
        ratio(same, put),
        "no store write",
    );
    Ok(())
}

async fn resource_version(server: &Server, name: &str) -> anyhow::Result<String> {
    let object: Value = server
        .client
        .get(format!("{}{DEPLOYMENTS}/{name}", server.url))
        .send()
        .await?
        .json()
        .await?;
    object["metadata"]["resourceVersion"]
        .as_str()
        .map(String::from)
        .context("no resourceVersion")
}

/// A namespaced CustomResourceDefinition with a small nested schema.
fn crd(i: usize) -> Value {
    let plural = format!("things{i}");
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.bench{i}.skiff.dev")},
        "spec": {
            "group": format!("bench{i}.skiff.dev"),
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": format!("thing{i}"), "kind": format!("Thing{i}")},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "size": {"type": "integer", "minimum": 0, "description": "How many."},
                            "mode": {"type": "string", "enum": ["a", "b"]},
                            "items": {"type": "array", "items": {"type": "object",
                                "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}},
                        }},
                        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
                    },
                }},
            }],
        },
    })
}

/// Fetches /openapi/v2, the v3 root and every v3 document; returns the body bytes and
/// the group-version paths of the root.
async fn fetch_openapi(server: &Server) -> anyhow::Result<(usize, Vec<String>)> {
    let get = |path: String| async move {
        let response = server
            .client
            .get(format!("{}{path}", server.url))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "{path}: {}", response.status());
        anyhow::Ok(response.bytes().await?)
    };
    let mut total = get("/openapi/v2".into()).await?.len();
    let root = get("/openapi/v3".into()).await?;
    total += root.len();
    let root: Value = serde_json::from_slice(&root)?;
    let paths = root["paths"].as_object().context("v3 root paths")?;
    for entry in paths.values() {
        let url = entry["serverRelativeURL"]
            .as_str()
            .context("serverRelativeURL")?;
        total += get(url.to_string()).await?.len();
    }
    Ok((total, paths.keys().cloned().collect()))
}

async fn openapi_figures(server: &Server, report: &mut Report) -> anyhow::Result<()> {
    let (bytes_before, _) = fetch_openapi(server).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = server.rss_kib()? as f64 / 1024.0;

    for i in 0..CRDS {
        let response = server
            .client
            .post(format!(
                "{}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                server.url
            ))
            .json(&crd(i))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 201,
            "create crd {i}: {}",
            response.status()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let (bytes_after, paths) = loop {
        let (bytes, paths) = fetch_openapi(server).await?;
        if paths.iter().filter(|p| p.contains(".skiff.dev")).count() == CRDS {
            break (bytes, paths);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the CRDs never reached /openapi/v3"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // A second round, so that documents rendered once and cached are what is measured.
    fetch_openapi(server).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = server.rss_kib()? as f64 / 1024.0;
    report.add(
        &format!(
            "OpenAPI with {CRDS} CRDs: served bytes (v2, v3 root, {} v3 documents)",
            paths.len()
        ),
        format!("{:.2} MiB", bytes_after as f64 / 1048576.0),
        format!(
            "built-in kinds only: {:.2} MiB",
            bytes_before as f64 / 1048576.0
        ),
        format!("{:.2}", bytes_after as f64 / bytes_before as f64),
        "< 10 MiB",
    );
    report.add(
        &format!("server RSS growth from {CRDS} CRDs, documents rendered"),
        format!("{:.1} MiB (to {rss_after:.1} MiB)", rss_after - rss_before),
        format!("RSS with built-in documents rendered: {rss_before:.1} MiB"),
        format!("{:.2}", rss_after / rss_before),
        "< 10 MiB",
    );
    Ok(())
}
