//! skiff's controllers: reconcile loops that watch the API and converge the world toward it.
//!
//! Each controller talks to the API server only through the Kubernetes API, with the
//! client [`run`] is given; none of them reaches into the store.

mod backoff;
mod gc;
mod namespace;
mod replicaset;
mod service_account;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use tokio::sync::watch;
use tokio::task::{JoinError, JoinSet};

/// How long reconciles in flight at shutdown may take before they are abandoned.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Why the controllers could not start or stopped unexpectedly.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("failed to load the kubeconfig {path}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: KubeconfigError,
    },
    #[error("failed to build an API client from the kubeconfig {path}")]
    Client {
        path: PathBuf,
        #[source]
        source: kube::Error,
    },
    #[error("the {controller} controller stopped before shutdown was requested")]
    StoppedEarly { controller: &'static str },
    #[error("a controller panicked")]
    Panicked(#[source] JoinError),
}

/// The cluster, user and context the kubeconfig at `path` selects.
async fn config_from_kubeconfig(path: &Path) -> Result<kube::Config, ControllerError> {
    let kubeconfig_error = |source| ControllerError::Kubeconfig {
        path: path.to_path_buf(),
        source,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(kubeconfig_error)
}

/// An API client for the cluster, user and context the kubeconfig at `path` selects:
/// kube's own, over a pool of HTTP/1.1 connections, which suits many concurrent
/// short requests (the scheduler's bindings).
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client, ControllerError> {
    let config = config_from_kubeconfig(path).await?;
    kube::Client::try_from(config).map_err(|source| ControllerError::Client {
        path: path.to_path_buf(),
        source,
    })
}

/// An API client like [`client_from_kubeconfig`]'s that speaks HTTP/2 only, so the
/// many long watches of the controllers (the garbage collector alone watches every
/// served resource) share one connection instead of holding a TLS connection each.
pub async fn multiplexed_client_from_kubeconfig(
    path: &Path,
) -> Result<kube::Client, ControllerError> {
    use kube::client::ConfigExt;

    let config = config_from_kubeconfig(path).await?;
    let client_error = |source| ControllerError::Client {
        path: path.to_path_buf(),
        source,
    };
    // The connector offers ALPN h2 itself.
    let tls = config.rustls_client_config().map_err(client_error)?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http2()
        .build();
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build::<_, kube::client::Body>(https);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer().map_err(client_error)?)
        .map_err(tower::BoxError::from)
        .service(http);
    Ok(kube::Client::new(service, config.default_namespace))
}

/// Runs every controller until `shutdown` resolves; returns when they stopped.
pub async fn run(
    client: kube::Client,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ControllerError> {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(namespace::run(client.clone(), Stop(stopped.clone())));
    tasks.spawn(service_account::run(client.clone(), Stop(stopped.clone())));
    tasks.spawn(gc::run(client.clone(), Stop(stopped.clone())));
    tasks.spawn(replicaset::run(client, Stop(stopped)));

    tokio::select! {
        () = shutdown => {}
        Some(early) = tasks.join_next() => {
            stop.send_replace(true);
            // The others' outcomes add nothing to the first failure.
            while tasks.join_next().await.is_some() {}
            return Err(match early {
                Ok(controller) => ControllerError::StoppedEarly { controller },
                Err(panic) => ControllerError::Panicked(panic),
            });
        }
    }

    stop.send_replace(true);
    while let Some(finished) = tasks.join_next().await {
        finished.map_err(ControllerError::Panicked)?;
    }
    Ok(())
}

/// The shutdown request every controller shares.
#[derive(Debug, Clone)]
struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Resolves once shutdown is requested (or whoever could request it is gone).
    async fn requested(mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    /// Resolves [`SHUTDOWN_GRACE`] after shutdown was requested: a controller whose
    /// graceful stop hangs (its cache never filled because the API was unreachable)
    /// stops then regardless.
    async fn overdue(self) {
        self.requested().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A client for an address nothing listens on: every request fails at once.
    fn unreachable_client() -> kube::Client {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let uri = format!("http://127.0.0.1:{port}").parse().expect("uri");
        kube::Client::try_from(kube::Config::new(uri)).expect("client")
    }

    #[tokio::test]
    async fn run_returns_once_shutdown_resolves_even_while_the_api_is_unreachable() {
        let shutdown = tokio::time::sleep(Duration::from_millis(200));
        let finished =
            tokio::time::timeout(Duration::from_secs(10), run(unreachable_client(), shutdown))
                .await;
        assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_is_reported_with_its_path() {
        let result = client_from_kubeconfig(Path::new("/nonexistent/admin.kubeconfig")).await;
        let Err(error) = result else {
            panic!("a client without a kubeconfig");
        };
        assert_eq!(
            error.to_string(),
            "failed to load the kubeconfig /nonexistent/admin.kubeconfig"
        );
    }
}
