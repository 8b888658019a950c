//! `skiff-bench scheduler`: how fast `skiff scheduler` binds pods, against how fast
//! the API takes the same number of bindings sent directly.
//!
//! A server runs without its in-process scheduler and controllers (as upstream's
//! scheduler_perf runs only an API server and the scheduler); 100 Node objects and the pods
//! (no requests beyond a small CPU share) are created first. Then `skiff scheduler`
//! starts as its own process and a watch counts the pods that got a node: reported
//! are the time from the scheduler's exec to the last binding, and the rate between
//! the first and the last binding. Baseline: the same number of other pods bound by
//! this tool itself, 64 bindings in flight, to round-robin nodes (no decision made).

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::client::Server;
use crate::report::Report;

const CONCURRENCY: usize = 64;

fn node(i: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": format!("node-{i}"), "labels": {"zone": format!("z{}", i % 4)}},
        "status": {
            "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"},
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
        },
    })
}

fn pod(namespace: &str, i: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("pod-{i}"), "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "registry.local/app:1",
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
    })
}

async fn create_all(server: &Server, path: &str, objects: Vec<Value>) -> anyhow::Result<()> {
    let url = format!("{}{path}", server.url);
    let results = futures::stream::iter(objects)
        .map(|object| {
            let (client, url) = (server.client.clone(), url.clone());
            async move {
                let r = client.post(&url).json(&object).send().await?;
                anyhow::ensure!(r.status() == 201, "create: {}", r.status());
                anyhow::Ok(())
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    results.into_iter().collect()
}

async fn create_namespace(server: &Server, name: &str) -> anyhow::Result<()> {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    create_all(server, "/api/v1/namespaces", vec![ns]).await
}

/// Waits until `count` pods of `namespace` have a node; returns when the first and
/// the last were seen.
async fn watch_bound(
    server: &Server,
    namespace: &str,
    count: usize,
    since: &str,
) -> anyhow::Result<(Instant, Instant)> {
    let url = format!(
        "{}/api/v1/namespaces/{namespace}/pods?watch=true&resourceVersion={since}",
        server.url
    );
    let response = server.client.get(url).send().await?;
    anyhow::ensure!(response.status() == 200, "watch: {}", response.status());
    let mut body = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut bound = std::collections::HashSet::new();
    let mut first = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    while bound.len() < count {
        let chunk = tokio::time::timeout_at(deadline.into(), body.next())
            .await
            .context("pods not bound within 300 s")?
            .context("watch ended")??;
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let event: Value = serde_json::from_slice(&line)?;
            let object = &event["object"];
            if object["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
            {
                first.get_or_insert_with(Instant::now);
                bound.insert(
                    object["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
    }
    Ok((first.unwrap_or_else(Instant::now), Instant::now()))
}

async fn list_revision(server: &Server, namespace: &str) -> anyhow::Result<String> {
    let list: Value = server
        .client
        .get(format!(
            "{}/api/v1/namespaces/{namespace}/pods?limit=1",
            server.url
        ))
        .send()
        .await?
        .json()
        .await?;
    list["metadata"]["resourceVersion"]
        .as_str()
        .map(String::from)
        .context("list resourceVersion")
}

pub async fn figures(
    skiff: &std::path::Path,
    nodes: usize,
    pods: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let server =
        Server::start_with(skiff, &["--disable-scheduler", "--disable-controllers"]).await?;
    create_all(&server, "/api/v1/nodes", (0..nodes).map(node).collect()).await?;
    for namespace in ["sched", "direct"] {
        create_namespace(&server, namespace).await?;
        let all = (0..pods).map(|i| pod(namespace, i)).collect();
        create_all(
            &server,
            &format!("/api/v1/namespaces/{namespace}/pods"),
            all,
        )
        .await?;
    }

    // Baseline: bindings sent straight from here.
    let since = list_revision(&server, "direct").await?;
    let watch = watch_bound(&server, "direct", pods, &since);
    let started = Instant::now();
    let send = async {
        let results = futures::stream::iter(0..pods)
            .map(|i| {
                let client = server.client.clone();
                let url = format!(
                    "{}/api/v1/namespaces/direct/pods/pod-{i}/binding",
                    server.url
                );
                let binding = json!({"apiVersion": "v1", "kind": "Binding",
                    "metadata": {"name": format!("pod-{i}")},
                    "target": {"kind": "Node", "name": format!("node-{}", i % nodes)}});
                async move {
                    let r = client.post(&url).json(&binding).send().await?;
                    anyhow::ensure!(r.status() == 201, "bind: {}", r.status());
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        results.into_iter().collect::<anyhow::Result<()>>()
    };
    let (watched, sent) = tokio::join!(watch, send);
    sent?;
    let (_, direct_last) = watched?;
    let direct = direct_last - started;

    // The scheduler, started as its own process once everything waits for it.
    let since = list_revision(&server, "sched").await?;
    let watch = watch_bound(&server, "sched", pods, &since);
    let started = Instant::now();
    let mut scheduler = tokio::process::Command::new(skiff)
        .arg("scheduler")
        .arg("--kubeconfig")
        .arg(server.kubeconfig())
        .env("SKIFF_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .context("spawn skiff scheduler")?;
    let (first, last) = watch.await?;
    let _ = scheduler.start_kill();
    let _ = scheduler.wait().await;

    let total = last - started;
    let rate = pods as f64 / (last - first).as_secs_f64().max(1e-6);
    let direct_rate = pods as f64 / direct.as_secs_f64();
    report.add(
        &format!("schedule {pods} pods onto {nodes} nodes: first to last binding"),
        format!("{rate:.0} pods/s"),
        format!("bindings sent directly, {CONCURRENCY} in flight: {direct_rate:.0} pods/s"),
        format!("{:.2}", rate / direct_rate),
        ">= 5000 pods/s",
    );
    report.add(
        &format!("schedule {pods} pods: scheduler exec to last binding"),
        format!("{:.2} s", total.as_secs_f64()),
        format!("direct bindings: {:.2} s", direct.as_secs_f64()),
        format!("{:.2}", total.as_secs_f64() / direct.as_secs_f64()),
        "-",
    );
    Ok(())
}
