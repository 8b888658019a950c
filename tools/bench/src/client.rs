//! A `skiff server` started for a benchmark, and the loads run against it.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use futures::StreamExt;
use serde_json::{Value, json};
use skiff_store::{SqliteOptions, SqliteStore, Store};

pub struct Server {
    child: tokio::process::Child,
    dir: tempfile::TempDir,
    pub url: String,
    pub client: reqwest::Client,
    pub ready_after: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Server {
    /// Starts a server on an empty data dir and times exec to `/readyz` 200.
    pub async fn start(skiff: &Path) -> anyhow::Result<Self> {
        Server::start_with(skiff, &[]).await
    }

    /// Starts a server with extra `skiff server` flags.
    pub async fn start_with(skiff: &Path, flags: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let url = format!("https://127.0.0.1:{port}");
        let anonymous = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()?;
        let started = Instant::now();
        let child = tokio::process::Command::new(skiff)
            .args(["server", "--data-dir"])
            .arg(dir.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(flags)
            .env("SKIFF_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("spawn skiff server")?;
        let deadline = started + Duration::from_secs(30);
        loop {
            let ready = anonymous.get(format!("{url}/readyz")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "server not ready within 30 s");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let ready_after = started.elapsed();
        let client = admin_client(&dir.path().join("admin.kubeconfig"))?;
        Ok(Server {
            child,
            dir,
            url,
            client,
            ready_after,
        })
    }

    /// The admin kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> std::path::PathBuf {
        self.dir.path().join("admin.kubeconfig")
    }

    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("server exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .context("no VmRSS")?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("VmRSS value")?
            .parse()?)
    }

    /// Creates `n` objects from `clients` concurrent tasks; returns creates per second.
    async fn create_many(
        &self,
        path: &str,
        n: usize,
        clients: usize,
        make: fn(usize) -> Value,
    ) -> anyhow::Result<f64> {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let client = self.client.clone();
            let url = format!("{}{path}", self.url);
            tasks.push(tokio::spawn(async move {
                for i in (c..n).step_by(clients) {
                    let r = client.post(&url).json(&make(i)).send().await?;
                    anyhow::ensure!(r.status().as_u16() == 201, "create {i}: {}", r.status());
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        Ok(n as f64 / started.elapsed().as_secs_f64())
    }

    pub async fn create_configmaps(&self, n: usize, clients: usize) -> anyhow::Result<f64> {
        self.create_many(
            "/api/v1/namespaces/default/configmaps",
            n,
            clients,
            configmap,
        )
        .await
    }

    pub async fn create_pods(&self, n: usize, clients: usize) -> anyhow::Result<f64> {
        self.create_many("/api/v1/namespaces/default/pods", n, clients, pod)
            .await
    }

    /// Times `times` full lists of the pods; returns the durations and the body size.
    pub async fn list_pods(&self, times: usize) -> anyhow::Result<(Vec<Duration>, usize)> {
        let mut durations = Vec::new();
        let mut size = 0;
        for _ in 0..times {
            let t = Instant::now();
            let body = self
                .client
                .get(format!("{}/api/v1/namespaces/default/pods", self.url))
                .send()
                .await?
                .bytes()
                .await?;
            durations.push(t.elapsed());
            size = body.len();
        }
        Ok((durations, size))
    }

    pub async fn get_pod(&self, times: usize) -> anyhow::Result<Vec<Duration>> {
        let mut durations = Vec::new();
        for _ in 0..times {
            let t = Instant::now();
            let r = self
                .client
                .get(format!("{}/api/v1/namespaces/default/pods/pod-1", self.url))
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "get pod-1: {}", r.status());
            r.bytes().await?;
            durations.push(t.elapsed());
        }
        Ok(durations)
    }

    /// Opens `watchers` watches on configmaps, then creates `writes` ConfigMaps one by
    /// one; returns per-delivery latencies (write sent to event received) and the
    /// writes' own acknowledgement times.
    pub async fn watch_latency(
        &self,
        watchers: usize,
        writes: usize,
    ) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
        let base = format!("{}/api/v1/namespaces/watched/configmaps", self.url);
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "watched"}});
        self.client
            .post(format!("{}/api/v1/namespaces", self.url))
            .json(&ns)
            .send()
            .await?
            .error_for_status()?;
        let list: Value = self.client.get(&base).send().await?.json().await?;
        let rv = list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("0")
            .to_string();
        let arrivals: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
        let mut streams = Vec::new();
        for _ in 0..watchers {
            let r = self
                .client
                .get(format!("{base}?watch=true&resourceVersion={rv}"))
                .send()
                .await?
                .error_for_status()?;
            let arrivals = arrivals.clone();
            streams.push(tokio::spawn(follow(r, arrivals, writes)));
        }
        let mut sent = HashMap::new();
        let mut acks = Vec::new();
        for i in 0..writes {
            let name = format!("w-{i}");
            let t = Instant::now();
            sent.insert(name.clone(), t);
            let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
            self.client
                .post(&base)
                .json(&body)
                .send()
                .await?
                .error_for_status()?;
            acks.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for s in streams {
            tokio::time::timeout(Duration::from_secs(30), s)
                .await
                .context("watchers did not see every write")??;
        }
        let arrivals = arrivals.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let mut latencies = Vec::new();
        for (name, times) in arrivals.iter() {
            let sent = sent[name];
            latencies.extend(times.iter().map(|t| t.saturating_duration_since(sent)));
        }
        anyhow::ensure!(
            latencies.len() == watchers * writes,
            "expected {} deliveries, got {}",
            watchers * writes,
            latencies.len()
        );
        Ok((latencies, acks))
    }
}

async fn follow(
    response: reqwest::Response,
    arrivals: Arc<Mutex<HashMap<String, Vec<Instant>>>>,
    expect: usize,
) {
    let mut stream = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut seen = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let now = Instant::now();
            // A substring search instead of a JSON parse keeps the watchers' own CPU
            // use, which shares this machine with the server, from skewing the figure.
            if !line.starts_with(br#"{"type":"ADDED""#) {
                continue;
            }
            let Some(name) = object_name(&line) else {
                continue;
            };
            if let Ok(mut a) = arrivals.lock() {
                a.entry(name).or_default().push(now);
            }
            seen += 1;
            if seen == expect {
                return;
            }
        }
    }
}

/// The first `"name":"..."` of an event line: the object's metadata.name.
fn object_name(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let start = text.find(r#""name":""#)? + 8;
    let end = start + text[start..].find('"')?;
    Some(text[start..end].to_string())
}

fn configmap(i: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": format!("cm-{i}"), "labels": {"app": "bench", "shard": (i % 16).to_string()}},
        "data": {"config.yaml": "x".repeat(512)},
    })
}

fn pod(i: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("pod-{i}"), "labels": {"app": "bench", "shard": (i % 16).to_string()}},
        "spec": {
            "containers": [{
                "name": "app",
                "image": "registry.local/bench/app:1.0",
                "command": ["/bin/app", "--serve"],
                "ports": [{"containerPort": 8080}],
                "env": [{"name": "MODE", "value": "bench"}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            }],
        },
    })
}

/// The same creates straight into a SqliteStore with the server's default options.
pub async fn bare_store_writes(n: usize, clients: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("state.db"), SqliteOptions::default())?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (c..n).step_by(clients) {
                let value = serde_json::to_vec(&configmap(i))?;
                store
                    .create(
                        &format!("/registry/core/configmaps/default/cm-{i}"),
                        value.into(),
                    )
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// A client authenticated with the admin kubeconfig's certificate.
fn admin_client(kubeconfig: &Path) -> anyhow::Result<reqwest::Client> {
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&std::fs::read(kubeconfig)?)?;
    let field = |v: &serde_yaml_ng::Value| -> anyhow::Result<Vec<u8>> {
        let s = v.as_str().context("kubeconfig field")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(s)?)
    };
    let ca = field(&config["clusters"][0]["cluster"]["certificate-authority-data"])?;
    let mut identity = field(&config["users"][0]["user"]["client-certificate-data"])?;
    identity.extend(field(&config["users"][0]["user"]["client-key-data"])?);
    Ok(reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
        .identity(reqwest::Identity::from_pem(&identity)?)
        .http1_only()
        .build()?)
}

pub fn median(v: &mut [Duration]) -> Duration {
    percentile(v, 0.5)
}

pub fn percentile(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    let idx = ((v.len() - 1) as f64 * p).round() as usize;
    v[idx]
}
