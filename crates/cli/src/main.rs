//! `skiff`: the one binary. `skiff server` runs the control plane; `skiff scheduler`
//! runs the scheduler alone against any API server.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// The API server spends much of its time building and dropping JSON values; mimalloc
/// serves those small allocations faster than glibc's allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "skiff",
    version,
    about = "A light Kubernetes-compatible container platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server with its embedded datastore.
    Server(ServerArgs),
    /// Run only the scheduler, against the API server a kubeconfig names.
    Scheduler(SchedulerArgs),
}

#[derive(clap::Args)]
struct SchedulerArgs {
    /// The kubeconfig to reach the API server with.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Directory for the datastore, certificates and the admin kubeconfig.
    #[arg(long, default_value = "/var/lib/skiff", env = "SKIFF_DATA_DIR")]
    data_dir: PathBuf,
    /// Address and port of the HTTPS API.
    #[arg(long, default_value = "127.0.0.1:6443", env = "SKIFF_LISTEN")]
    listen: SocketAddr,
    /// Extra DNS names or IP addresses for the serving certificate.
    #[arg(long = "tls-san")]
    tls_san: Vec<String>,
    /// Serve the API only, without the controllers that act on it.
    #[arg(long)]
    disable_controllers: bool,
    /// Do not run the scheduler inside the server.
    #[arg(long)]
    disable_scheduler: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SKIFF_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    match cli.command {
        Command::Server(args) => runtime.block_on(server(args)),
        Command::Scheduler(args) => runtime.block_on(scheduler(args)),
    }
}

async fn scheduler(args: SchedulerArgs) -> anyhow::Result<()> {
    let client = skiff_controllers::client_from_kubeconfig(&args.kubeconfig).await?;
    skiff_scheduler::run(client, shutdown_signal()).await;
    Ok(())
}

async fn server(args: ServerArgs) -> anyhow::Result<()> {
    let config = skiff_apiserver::ServerConfig {
        data_dir: args.data_dir,
        listen: args.listen,
        extra_sans: args.tls_san,
    };
    let server = skiff_apiserver::Server::start(config)
        .await
        .map_err(anyhow::Error::new)?;

    // One signal stops the API server and the controllers; a controller failure stops
    // the API server too, rather than leaving namespaces stuck terminating.
    let (stop, _) = tokio::sync::watch::channel(false);
    let stopped = |stop: &tokio::sync::watch::Sender<bool>| {
        let mut stopped = stop.subscribe();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal_stop.send_replace(true);
    });
    // The controllers share one HTTP/2 client (their watches multiplexed on one
    // connection); the scheduler binds over kube's pool of HTTP/1.1 connections, which
    // the scheduling benchmark showed to be faster for its concurrent bindings.
    let controllers_client = match args.disable_controllers {
        true => None,
        false => {
            Some(skiff_controllers::multiplexed_client_from_kubeconfig(&server.kubeconfig).await?)
        }
    };
    let scheduler_client = match args.disable_scheduler {
        true => None,
        false => Some(skiff_controllers::client_from_kubeconfig(&server.kubeconfig).await?),
    };
    let controllers = controllers_client.map(|client| {
        let (stop, stopped) = (stop.clone(), stopped(&stop));
        tokio::spawn(async move {
            let result = skiff_controllers::run(client, stopped).await;
            stop.send_replace(true);
            result
        })
    });
    // The scheduler only returns once asked to stop.
    let scheduler =
        scheduler_client.map(|client| tokio::spawn(skiff_scheduler::run(client, stopped(&stop))));

    server.run(stopped(&stop)).await;
    if let Some(scheduler) = scheduler {
        scheduler.await.context("the scheduler task failed")?;
    }
    if let Some(controllers) = controllers {
        controllers
            .await
            .context("the controllers task failed")?
            .map_err(anyhow::Error::new)?;
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
    }
}
