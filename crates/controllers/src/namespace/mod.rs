//! The namespace controller: empties a namespace being deleted, then releases its
//! `kubernetes` finalizer so the API server can remove it.

mod conditions;
mod content;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::{reflector::ObjectRef, watcher};
use kube::{Client, ResourceExt};
use tracing::Instrument;

use crate::Stop;
use crate::backoff::Backoff;
use conditions::Outcome;

/// The controller's name in logs and errors.
pub const NAME: &str = "namespace";

/// The `spec.finalizers` entry this controller owns.
const FINALIZER: &str = "kubernetes";

/// Why one reconcile of a namespace failed; it is requeued with backoff.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("failed to discover the namespaced resources")]
    Discovery(#[source] kube::Error),
    #[error("failed to delete the {resource} in the namespace ({failed} resources failed)")]
    Content {
        resource: String,
        failed: usize,
        #[source]
        source: kube::Error,
    },
    #[error("failed to update the namespace's deletion conditions")]
    Conditions(#[source] kube::Error),
    #[error("failed to remove the {FINALIZER} finalizer")]
    Finalize(#[source] kube::Error),
}

impl NamespaceError {
    /// The API status code of a failed write to the namespace itself.
    fn namespace_write_code(&self) -> Option<u16> {
        match self {
            NamespaceError::Conditions(kube::Error::Api(status))
            | NamespaceError::Finalize(kube::Error::Api(status)) => Some(status.code),
            _ => None,
        }
    }
}

struct Context {
    client: Client,
    /// Requeues while objects are still going away (finalizers, graceful deletion).
    waiting: Backoff,
    /// Requeues after errors.
    failing: Backoff,
}

impl Context {
    fn forget(&self, name: &str) {
        self.waiting.forget(name);
        self.failing.forget(name);
    }
}

/// Runs the controller until shutdown is requested; returns its name.
pub async fn run(client: Client, stop: Stop) -> &'static str {
    let context = Arc::new(Context {
        client: client.clone(),
        waiting: Backoff::new(Duration::from_millis(200), Duration::from_secs(5)),
        failing: Backoff::new(Duration::from_millis(500), Duration::from_secs(60)),
    });
    tracing::info!(controller = NAME, "controller started");
    Controller::new(Api::<Namespace>::all(client), watcher::Config::default())
        .graceful_shutdown_on(stop.clone().requested())
        .run(reconcile_in_span, error_policy, context)
        .take_until(stop.overdue())
        .for_each(|outcome| async move { log_outcome(outcome) })
        .await;
    tracing::info!(controller = NAME, "controller stopped");
    NAME
}

fn reconcile_in_span(
    namespace: Arc<Namespace>,
    context: Arc<Context>,
) -> impl Future<Output = Result<Action, NamespaceError>> + Send {
    let span = tracing::info_span!("reconcile", namespace = %namespace.name_any());
    reconcile(namespace, context).instrument(span)
}

async fn reconcile(
    namespace: Arc<Namespace>,
    context: Arc<Context>,
) -> Result<Action, NamespaceError> {
    let name = namespace.name_any();
    if !awaits_content_removal(&namespace) {
        context.forget(&name);
        return Ok(Action::await_change());
    }
    if !context.waiting.is_backing_off(&name) && !context.failing.is_backing_off(&name) {
        tracing::info!("namespace is terminating, deleting its content");
    }

    let client = &context.client;
    let resources = match content::discover(client).await {
        Ok(resources) => resources,
        Err(error) => {
            record(client, &namespace, Outcome::DiscoveryFailed(&error)).await?;
            return Err(NamespaceError::Discovery(error));
        }
    };
    let mut sweep = content::sweep(client, &name, resources).await;
    let namespace = record(client, &namespace, Outcome::Swept(&sweep)).await?;

    if let Some(error) = content_error(std::mem::take(&mut sweep.failures)) {
        return Err(error);
    }
    if !sweep.is_clean() {
        let delay = context.waiting.next(&name);
        tracing::debug!(remaining = ?sweep.remaining, ?delay, "waiting for content to go away");
        return Ok(Action::requeue(delay));
    }
    finalize(client, namespace).await?;
    context.forget(&name);
    tracing::info!("namespace content removed, finalizer released");
    Ok(Action::await_change())
}

/// A namespace that is being deleted and still carries this controller's finalizer.
fn awaits_content_removal(namespace: &Namespace) -> bool {
    namespace.metadata.deletion_timestamp.is_some()
        && spec_finalizers(namespace).any(|f| f == FINALIZER)
}

fn spec_finalizers(namespace: &Namespace) -> impl Iterator<Item = &String> {
    namespace
        .spec
        .as_ref()
        .and_then(|spec| spec.finalizers.as_ref())
        .into_iter()
        .flatten()
}

async fn record(
    client: &Client,
    namespace: &Namespace,
    outcome: Outcome<'_>,
) -> Result<Namespace, NamespaceError> {
    conditions::record(client, namespace, outcome)
        .await
        .map_err(NamespaceError::Conditions)
}

/// The first of a sweep's failures, counting the others.
fn content_error(failures: Vec<content::Failure>) -> Option<NamespaceError> {
    let failed = failures.len();
    let first = failures.into_iter().next()?;
    Some(NamespaceError::Content {
        resource: first.resource,
        failed,
        source: first.source,
    })
}

/// Removes this controller's entry from `spec.finalizers` through the `finalize`
/// subresource, guarded by the namespace's resourceVersion.
async fn finalize(client: &Client, mut namespace: Namespace) -> Result<(), NamespaceError> {
    let name = namespace.name_any();
    if let Some(finalizers) = namespace.spec.as_mut().and_then(|s| s.finalizers.as_mut()) {
        finalizers.retain(|f| f != FINALIZER);
    }
    Api::<Namespace>::all(client.clone())
        .replace_subresource("finalize", &name, &PostParams::default(), &namespace)
        .await
        .map(drop)
        .map_err(NamespaceError::Finalize)
}

/// Requeues a failed reconcile with backoff. The reconcile may have worked from a
/// cached namespace that was already gone or changed; those are expected, not warnings.
fn error_policy(
    namespace: Arc<Namespace>,
    error: &NamespaceError,
    context: Arc<Context>,
) -> Action {
    let name = namespace.name_any();
    match error.namespace_write_code() {
        Some(404) => {
            tracing::debug!(namespace = %name, "namespace already gone");
            context.forget(&name);
            Action::await_change()
        }
        Some(409) => {
            let delay = context.waiting.next(&name);
            tracing::debug!(namespace = %name, ?delay, "namespace changed meanwhile, requeueing");
            Action::requeue(delay)
        }
        _ => {
            let delay = context.failing.next(&name);
            let error = error_chain(error);
            tracing::warn!(namespace = %name, %error, ?delay, "reconcile failed, requeueing");
            Action::requeue(delay)
        }
    }
}

/// Logs what the reconcile stream reports beyond reconcile errors (already logged by
/// `error_policy`): watch failures, and namespaces gone before their requeue.
fn log_outcome(
    outcome: Result<
        (ObjectRef<Namespace>, Action),
        controller::Error<NamespaceError, watcher::Error>,
    >,
) {
    match outcome {
        Ok((object, _)) => tracing::trace!(namespace = %object.name, "reconciled"),
        Err(controller::Error::ReconcilerFailed(..)) => {}
        Err(controller::Error::ObjectNotFound(object)) => {
            tracing::debug!(namespace = %object.name, "namespace gone before its reconcile")
        }
        Err(error) => tracing::warn!(error = %error_chain(&error), "namespace watch failed"),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::NamespaceSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn namespace(deleting: bool, finalizers: &[&str]) -> Namespace {
        let mut ns = Namespace::default();
        ns.metadata.name = Some("doomed".into());
        if deleting {
            ns.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        }
        ns.spec = Some(NamespaceSpec {
            finalizers: Some(finalizers.iter().map(|f| f.to_string()).collect()),
        });
        ns
    }

    #[test]
    fn a_deleting_namespace_with_the_kubernetes_finalizer_needs_its_content_removed() {
        assert!(awaits_content_removal(&namespace(true, &["kubernetes"])));
        assert!(awaits_content_removal(&namespace(
            true,
            &["other", "kubernetes"]
        )));
    }

    #[test]
    fn a_live_namespace_is_left_alone() {
        assert!(!awaits_content_removal(&namespace(false, &["kubernetes"])));
    }

    #[test]
    fn a_deleting_namespace_already_finalized_is_left_alone() {
        assert!(!awaits_content_removal(&namespace(true, &[])));
        assert!(!awaits_content_removal(&namespace(true, &["other"])));
        let mut no_spec = namespace(true, &[]);
        no_spec.spec = None;
        assert!(!awaits_content_removal(&no_spec));
    }

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            ..Default::default()
        }))
    }

    #[test]
    fn only_failed_writes_to_the_namespace_report_their_status_code() {
        let finalize = NamespaceError::Finalize(api_error(404));
        assert_eq!(finalize.namespace_write_code(), Some(404));
        let conditions = NamespaceError::Conditions(api_error(409));
        assert_eq!(conditions.namespace_write_code(), Some(409));
        let discovery = NamespaceError::Discovery(api_error(404));
        assert_eq!(discovery.namespace_write_code(), None);
    }

    #[test]
    fn a_content_error_names_the_first_failure_and_counts_all() {
        let failure = |resource: &str| content::Failure {
            resource: resource.into(),
            source: kube::Error::LinesCodecMaxLineLengthExceeded,
        };
        assert!(content_error(Vec::new()).is_none());
        let error = content_error(vec![failure("secrets"), failure("pods")]).expect("error");
        assert_eq!(
            error.to_string(),
            "failed to delete the secrets in the namespace (2 resources failed)"
        );
    }
}
