//! `skiff-bench api`: the control-plane figures of the API server issue, each beside
//! a baseline measured in the same run.
//!
//! - start: exec of `skiff server` on an empty data dir to `/readyz` 200, against
//!   exec to exit of `skiff --version`; idle RSS;
//! - writes: 10,000 ConfigMaps created through the API by 8 concurrent clients,
//!   against the bare store doing the same writes with the same durability;
//! - list: listing 10,000 pods (median of repeated lists), and RSS with them stored;
//! - watch: latency from a write's acknowledgement to its arrival at 100 open
//!   watches, p50/p99.
//!
//! `skiff-bench declarative`: server-side apply and OpenAPI figures (declarative.rs).
//! `skiff-bench scheduler`: scheduling throughput (scheduling.rs).

mod client;
mod declarative;
mod report;
mod scheduling;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

use crate::client::{Server, median, percentile};
use crate::report::Report;

#[derive(Parser)]
#[command(about = "skiff benchmarks")]
struct Args {
    /// Which suite to run.
    #[arg(value_parser = ["api", "declarative", "scheduler"])]
    suite: String,
    /// The skiff binary (default: target/release/skiff next to this binary).
    #[arg(long)]
    skiff: Option<PathBuf>,
    /// Objects to create for the write and list figures.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Nodes for the scheduler suite.
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    /// Pods for the scheduler suite.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Concurrent API clients for the write figure.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Open watches for the watch-latency figure.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Rounds of the write figure; the store and the API alternate, so that a noisy
    /// machine slows both alike, and the median of the per-round ratios is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Run only these parts (start, writes, reads); all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Extra `skiff server` flags for the api suite's servers (e.g.
    /// `--server-flag=--disable-scheduler`), to see what a component costs.
    #[arg(long = "server-flag", allow_hyphen_values = true)]
    server_flags: Vec<String>,
    /// Write the report as Markdown here too.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl Args {
    fn server_flags(&self) -> Vec<&str> {
        self.server_flags.iter().map(String::as_str).collect()
    }

    fn wants(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == part)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let skiff = match &args.skiff {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("skiff"),
    };
    anyhow::ensure!(
        skiff.exists(),
        "{} not found: build it with cargo build --release -p skiff",
        skiff.display()
    );
    let mut report = Report::new();
    if args.suite == "declarative" {
        declarative::figures(&skiff, &mut report).await?;
    } else if args.suite == "scheduler" {
        scheduling::figures(&skiff, args.nodes, args.pods, &mut report).await?;
    } else {
        api_suite(&skiff, &args, &mut report).await?;
    }
    report.print();
    if let Some(out) = &args.out {
        std::fs::write(out, report.markdown())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

async fn api_suite(skiff: &Path, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    if args.wants("start") {
        start_figures(skiff, args, report).await?;
    }
    if args.wants("writes") {
        write_figures(skiff, args, report).await?;
    }
    if args.wants("reads") {
        list_and_watch_figures(skiff, args, report).await?;
    }
    Ok(())
}

async fn start_figures(skiff: &Path, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let mut starts = Vec::new();
    let mut baselines = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let status = tokio::process::Command::new(skiff)
            .arg("--version")
            .output()
            .await?;
        anyhow::ensure!(status.status.success(), "skiff --version failed");
        baselines.push(t.elapsed());
        let server = Server::start_with(skiff, &args.server_flags()).await?;
        starts.push(server.ready_after);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        rss.push(server.rss_kib()? as f64 / 1024.0);
    }
    let start = median(&mut starts);
    let base = median(&mut baselines);
    report.add(
        "start: exec to /readyz 200 (median of 10)",
        format!("{:.1} ms", ms(start)),
        format!("exec to exit of `skiff --version`: {:.1} ms", ms(base)),
        ratio(start, base),
        "< 300 ms",
    );
    let idle = rss.iter().cloned().fold(0.0, f64::max);
    report.add(
        "idle RSS after start (max of 10)",
        format!("{idle:.1} MiB"),
        "-".into(),
        "-".into(),
        "< 20 MiB",
    );
    Ok(())
}

async fn write_figures(skiff: &Path, args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let mut bare = Vec::new();
    let mut api = Vec::new();
    for _ in 0..args.rounds.max(1) {
        bare.push(client::bare_store_writes(args.objects, args.clients).await?);
        let server = Server::start_with(skiff, &args.server_flags()).await?;
        api.push(server.create_configmaps(args.objects, args.clients).await?);
    }
    let mut ratios: Vec<f64> = api.iter().zip(&bare).map(|(a, b)| a / b).collect();
    ratios.sort_by(f64::total_cmp);
    let mid = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    report.add(
        &format!(
            "create {} ConfigMaps, {} clients (median of {} rounds)",
            args.objects,
            args.clients,
            ratios.len()
        ),
        format!("{:.0} writes/s", mid(&api)),
        format!(
            "bare SqliteStore, same writes and durability: {:.0} writes/s",
            mid(&bare)
        ),
        format!("{:.2}", ratios[ratios.len() / 2]),
        ">= 0.5",
    );
    Ok(())
}

async fn list_and_watch_figures(
    skiff: &Path,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    let server = Server::start_with(skiff, &args.server_flags()).await?;
    server.create_pods(args.objects, args.clients).await?;
    let (mut lists, bytes) = server.list_pods(20).await?;
    let list = median(&mut lists);
    let mut gets = server.get_pod(200).await?;
    let get = median(&mut gets);
    report.add(
        &format!("list {} pods (JSON, median of 20)", args.objects),
        format!("{:.1} ms ({:.1} MiB)", ms(list), bytes as f64 / 1048576.0),
        format!("get of one pod: {:.2} ms", ms(get)),
        ratio(list, get),
        "< 100 ms",
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss = server.rss_kib()? as f64 / 1024.0;
    report.add(
        &format!("RSS with {} pods stored", args.objects),
        format!("{rss:.1} MiB"),
        "-".into(),
        "-".into(),
        "< 100 MiB",
    );
    let (mut latencies, mut acks) = server.watch_latency(args.watchers, 200).await?;
    let p50 = percentile(&mut latencies, 0.50);
    let p99 = percentile(&mut latencies, 0.99);
    let ack = median(&mut acks);
    report.add(
        &format!("write to {} watches, p50 / p99", args.watchers),
        format!("{:.2} / {:.2} ms", ms(p50), ms(p99)),
        format!("write acknowledged (median): {:.2} ms", ms(ack)),
        ratio(p99, ack),
        "p99 < 10 ms",
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}", a.as_secs_f64() / b.as_secs_f64().max(1e-9))
}
