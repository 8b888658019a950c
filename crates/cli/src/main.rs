//! `skiff`: the one binary. `skiff server` runs the control plane.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

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
    }
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
    let controllers = (!args.disable_controllers).then(|| {
        let kubeconfig = server.kubeconfig.clone();
        let (stop, stopped) = (stop.clone(), stopped(&stop));
        tokio::spawn(async move {
            let result = async {
                let client = skiff_controllers::client_from_kubeconfig(&kubeconfig).await?;
                skiff_controllers::run(client, stopped).await
            }
            .await;
            stop.send_replace(true);
            result
        })
    });

    server.run(stopped(&stop)).await;
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
