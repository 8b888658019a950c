//! The service account controller: every namespace that is not being deleted has a
//! `default` ServiceAccount, recreated if someone deletes it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{reflector::ObjectRef, watcher};
use kube::{Client, ResourceExt};

use crate::Stop;
use crate::backoff::Backoff;

/// The controller's name in logs and errors.
pub const NAME: &str = "serviceaccount";

/// The account every namespace gets.
const DEFAULT: &str = "default";

#[derive(Debug, thiserror::Error)]
#[error("failed to create the {DEFAULT} service account of namespace {namespace}")]
pub struct ServiceAccountError {
    namespace: String,
    #[source]
    source: kube::Error,
}

struct Context {
    client: Client,
    failing: Backoff,
}

/// Runs the controller until shutdown is requested; returns its name.
pub async fn run(client: Client, stop: Stop) -> &'static str {
    let context = Arc::new(Context {
        client: client.clone(),
        failing: Backoff::new(Duration::from_millis(500), Duration::from_secs(60)),
    });
    tracing::info!(controller = NAME, "controller started");
    let defaults = watcher::Config::default().fields(&format!("metadata.name={DEFAULT}"));
    Controller::new(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<ServiceAccount>::all(client),
        defaults,
        |account: ServiceAccount| {
            account
                .namespace()
                .map(|namespace| ObjectRef::<Namespace>::new(&namespace))
        },
    )
    .graceful_shutdown_on(stop.clone().requested())
    .run(reconcile, error_policy, context)
    .take_until(stop.overdue())
    .for_each(|outcome| async move {
        if let Err(error) = outcome {
            tracing::debug!(%error, controller = NAME, "reconcile did not complete");
        }
    })
    .await;
    tracing::info!(controller = NAME, "controller stopped");
    NAME
}

async fn reconcile(
    namespace: Arc<Namespace>,
    context: Arc<Context>,
) -> Result<Action, ServiceAccountError> {
    let name = namespace.name_any();
    let terminating = namespace.metadata.deletion_timestamp.is_some()
        || namespace.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    if terminating {
        return Ok(Action::await_change());
    }
    let accounts = Api::<ServiceAccount>::namespaced(context.client.clone(), &name);
    let error = |source| ServiceAccountError {
        namespace: name.clone(),
        source,
    };
    if accounts.get_opt(DEFAULT).await.map_err(error)?.is_some() {
        context.failing.forget(&name);
        return Ok(Action::await_change());
    }
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT.into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    match accounts.create(&PostParams::default(), &account).await {
        Ok(_) => tracing::debug!(namespace = %name, "default service account created"),
        // Created meanwhile, or the namespace began terminating: nothing to do.
        Err(kube::Error::Api(status)) if status.code == 409 || status.code == 403 => {}
        Err(source) => return Err(error(source)),
    }
    context.failing.forget(&name);
    Ok(Action::await_change())
}

fn error_policy(
    namespace: Arc<Namespace>,
    error: &ServiceAccountError,
    context: Arc<Context>,
) -> Action {
    let delay = context.failing.next(&namespace.name_any());
    tracing::warn!(%error, ?delay, "retrying");
    Action::requeue(delay)
}
