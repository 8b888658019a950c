//! The Kubernetes REST API over the skiff store: discovery, CRUD, watch, patch,
//! subresources and OpenAPI, served over HTTPS with client-certificate authentication.

mod apiextensions;
mod auth;
mod bootstrap;
mod cache;
mod codec;
mod conversion;
mod discovery;
mod events;
mod handlers;
mod object;
mod openapi;
pub mod pki;
mod registry;
mod request;
mod server;
mod status;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use skiff_store::{SqliteOptions, SqliteStore, Store};
use tokio::net::TcpListener;

pub use server::version_info;
pub use status::ApiError;

/// How often old revisions are compacted away, as upstream's default.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(300);

/// Revisions always kept for watches and paginated lists, whatever their age.
const COMPACTION_KEEP_REVISIONS: i64 = 10_000;

/// What `skiff server` is started with.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Holds the database, the PKI and the admin kubeconfig.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Extra names and addresses for the serving certificate.
    pub extra_sans: Vec<String>,
}

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("failed to create data directory {path}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to open the datastore")]
    Store(#[from] skiff_store::Error),
    #[error("failed to set up certificates")]
    Pki(#[from] pki::PkiError),
    #[error("failed to listen on {addr}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("failed to initialise the API")]
    Api(#[from] ApiError),
}

/// A started server: listening, with its admin kubeconfig written.
pub struct Server {
    front: Arc<server::Front>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    /// Where the admin kubeconfig was written.
    pub kubeconfig: PathBuf,
    /// The address actually bound (useful with port 0).
    pub address: SocketAddr,
}

impl Server {
    /// Opens the store, prepares certificates and the admin kubeconfig, loads the
    /// watch cache, creates the system namespaces and binds the listener.
    pub async fn start(config: ServerConfig) -> Result<Self, ServerError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let sqlite =
            SqliteStore::open(&config.data_dir.join("state.db"), SqliteOptions::default())?;
        sqlite.spawn_compactor(COMPACTION_INTERVAL, COMPACTION_KEEP_REVISIONS);
        let store: Arc<dyn Store> = sqlite;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let address = listener
            .local_addr()
            .map_err(|source| ServerError::Listen {
                addr: config.listen,
                source,
            })?;
        let pki = pki::Pki::load_or_create(&config.data_dir, &config.extra_sans)?;
        let tls = pki.server_config()?;
        let kubeconfig = config.data_dir.join("admin.kubeconfig");
        pki.write_admin_kubeconfig(
            &kubeconfig,
            &format!("https://{}", server_url_host(address)),
        )?;
        bootstrap::ensure_system_namespaces(store.as_ref()).await?;
        let cache = cache::Cache::start(store.clone()).await?;
        let resources = skiff_api::builtin_resources();
        let api = Arc::new(handlers::Api {
            store,
            cache,
            registry: registry::Registry::new(resources.clone()),
        });
        events::spawn_expiry(api.clone());
        let openapi = Arc::new(openapi::OpenApi::new(resources));
        apiextensions::Definitions::start(api.clone(), openapi.clone()).await;
        let front = Arc::new(server::Front {
            api,
            openapi,
            address,
        });
        Ok(Server {
            front,
            listener,
            tls,
            kubeconfig,
            address,
        })
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tracing::info!(address = %self.address, kubeconfig = %self.kubeconfig.display(), "API server listening");
        server::serve(self.front, self.listener, self.tls, shutdown).await;
        tracing::info!("API server stopped");
    }
}

/// `127.0.0.1:6443` for a wildcard bind, the bound address otherwise.
fn server_url_host(address: SocketAddr) -> String {
    if address.ip().is_unspecified() {
        format!("127.0.0.1:{}", address.port())
    } else {
        address.to_string()
    }
}
