//! End to end with a kube-rs operator: a custom resource defined by Rust types, its
//! CustomResourceDefinition installed through the API, and a `kube::runtime`
//! Controller that server-side applies one owned ConfigMap per object and writes
//! the object's status, all against a real skiff server.

mod common;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{conditions, wait::await_condition, watcher};
use kube::{Client, CustomResource, CustomResourceExt, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use common::TestServer;

/// The field manager of every write the operator makes.
const MANAGER: &str = "greeting-operator";
const NAMESPACE: &str = "greetings";
/// How long any awaited outcome may take before the test fails.
const LIMIT: Duration = Duration::from_secs(30);

/// A message the operator publishes as a ConfigMap named after the Greeting.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[kube(
    group = "ops.skiff.dev",
    version = "v1",
    kind = "Greeting",
    namespaced,
    status = "GreetingStatus",
    shortname = "greet",
    printcolumn(name = "Message", type_ = "string", json_path = ".spec.message")
)]
struct GreetingSpec {
    message: String,
    replicas: Option<i32>,
}

/// What the operator last did for a Greeting.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
struct GreetingStatus {
    config_map: String,
    observed_generation: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
enum ReconcileError {
    #[error("greeting {0} has no namespace")]
    NoNamespace(String),
    #[error("greeting {0} has no uid to own its configmap with")]
    NoUid(String),
    #[error("failed to apply configmap {name}")]
    ApplyConfigMap {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to write the status of greeting {name}")]
    WriteStatus {
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// Shared by every reconcile; `failures` keeps what went wrong so that a test
/// that times out can say why.
struct Context {
    client: Client,
    failures: Mutex<Vec<String>>,
}

impl Context {
    fn record(&self, failure: String) {
        self.failures.lock().expect("failures lock").push(failure);
    }

    fn failures(&self) -> String {
        let failures = self.failures.lock().expect("failures lock");
        // The last few are enough: a failing request repeats on every retry.
        let start = failures.len().saturating_sub(5);
        failures[start..].join("\n")
    }
}

/// An error with its sources, one after the other.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn desired_config_map(greeting: &Greeting, owner: OwnerReference) -> ConfigMap {
    let replicas = greeting.spec.replicas.unwrap_or(1);
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(greeting.name_any()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_owned(),
                MANAGER.to_owned(),
            )])),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            ("message".to_owned(), greeting.spec.message.clone()),
            ("replicas".to_owned(), replicas.to_string()),
        ])),
        ..ConfigMap::default()
    }
}

async fn reconcile(greeting: Arc<Greeting>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let name = greeting.name_any();
    let namespace = greeting
        .namespace()
        .ok_or_else(|| ReconcileError::NoNamespace(name.clone()))?;
    let owner = greeting
        .controller_owner_ref(&())
        .ok_or_else(|| ReconcileError::NoUid(name.clone()))?;
    let apply = PatchParams::apply(MANAGER).force();

    let config_map = desired_config_map(&greeting, owner);
    Api::<ConfigMap>::namespaced(ctx.client.clone(), &namespace)
        .patch(&name, &apply, &Patch::Apply(&config_map))
        .await
        .map_err(|source| ReconcileError::ApplyConfigMap {
            name: name.clone(),
            source,
        })?;

    let status = serde_json::json!({
        "apiVersion": Greeting::api_version(&()),
        "kind": Greeting::kind(&()),
        "status": GreetingStatus {
            config_map: name.clone(),
            observed_generation: greeting.metadata.generation,
        },
    });
    Api::<Greeting>::namespaced(ctx.client.clone(), &namespace)
        .patch_status(&name, &apply, &Patch::Apply(&status))
        .await
        .map_err(|source| ReconcileError::WriteStatus { name, source })?;
    Ok(Action::requeue(Duration::from_secs(300)))
}

fn error_policy(greeting: Arc<Greeting>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    ctx.record(format!(
        "reconcile {}: {}",
        greeting.name_any(),
        chain(error)
    ));
    Action::requeue(Duration::from_millis(500))
}

/// The operator running on a tokio task until `stop`.
struct Operator {
    ctx: Arc<Context>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Operator {
    fn start(client: Client) -> Self {
        let ctx = Arc::new(Context {
            client: client.clone(),
            failures: Mutex::new(Vec::new()),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let owned =
            watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGER}"));
        let events = ctx.clone();
        let controller = Controller::new(
            Api::<Greeting>::all(client.clone()),
            watcher::Config::default(),
        )
        .owns(Api::<ConfigMap>::all(client), owned)
        .graceful_shutdown_on(async move {
            let _ = stopped.await;
        })
        .run(reconcile, error_policy, ctx.clone())
        .for_each(move |result| {
            if let Err(error) = result {
                events.record(format!("controller: {}", chain(&error)));
            }
            futures::future::ready(())
        });
        Operator {
            ctx,
            stop,
            task: tokio::spawn(controller),
        }
    }

    /// Asks for a graceful shutdown and waits for the controller to end.
    async fn stop(self) {
        let _ = self.stop.send(());
        let ended = tokio::time::timeout(LIMIT, self.task).await;
        assert!(
            matches!(ended, Ok(Ok(()))),
            "the controller did not stop: {ended:?}"
        );
    }
}

/// Polls `check` until it returns a value or `LIMIT` passes.
async fn eventually<T, F, Fut>(mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + LIMIT;
    while tokio::time::Instant::now() < deadline {
        if let Some(value) = check().await {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

async fn install_crd(client: &Client) {
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    let crd = Greeting::crd();
    let name = crd.name_any();
    if let Err(error) = crds.create(&PostParams::default(), &crd).await {
        panic!(
            "creating the CustomResourceDefinition {name} failed: {}",
            chain(&error)
        );
    }
    let established = tokio::time::timeout(
        LIMIT,
        await_condition(crds.clone(), &name, conditions::is_crd_established()),
    )
    .await;
    match established {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => panic!(
            "watching {name} until Established failed: {}",
            chain(&error)
        ),
        Err(_) => {
            let status = crds.get(&name).await.map(|crd| crd.status);
            panic!("{name} was not Established within {LIMIT:?}; its status: {status:?}")
        }
    }
}

async fn create_namespace(client: &Client) {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create the namespace");
}

async fn create_greeting(
    api: &Api<Greeting>,
    name: &str,
    message: &str,
    replicas: Option<i32>,
) -> Greeting {
    let spec = GreetingSpec {
        message: message.to_owned(),
        replicas,
    };
    let greeting = Greeting::new(name, spec);
    match api.create(&PostParams::default(), &greeting).await {
        Ok(created) => created,
        Err(error) => panic!("creating greeting {name} failed: {}", chain(&error)),
    }
}

/// Waits for the ConfigMap of `greeting` to carry `message` and `replicas`.
async fn config_map_of(
    operator: &Operator,
    greeting: &Greeting,
    message: &str,
    replicas: &str,
) -> ConfigMap {
    let name = greeting.name_any();
    let api = Api::<ConfigMap>::namespaced(operator.ctx.client.clone(), NAMESPACE);
    let want = BTreeMap::from([
        ("message".to_owned(), message.to_owned()),
        ("replicas".to_owned(), replicas.to_owned()),
    ]);
    let found = eventually(|| async {
        let config_map = api.get_opt(&name).await.ok().flatten()?;
        (config_map.data.as_ref() == Some(&want)).then_some(config_map)
    })
    .await;
    let last = api.get_opt(&name).await;
    found.unwrap_or_else(|| {
        panic!(
            "configmap {name} never held {want:?}; last seen: {last:?}\noperator failures:\n{}",
            operator.ctx.failures()
        )
    })
}

fn assert_owned_and_applied(config_map: &ConfigMap, greeting: &Greeting) {
    let owner = OwnerReference {
        api_version: "ops.skiff.dev/v1".to_owned(),
        kind: "Greeting".to_owned(),
        name: greeting.name_any(),
        uid: greeting.uid().expect("a created greeting has a uid"),
        controller: Some(true),
        // kube-rs' controller_owner_ref leaves blockOwnerDeletion unset.
        block_owner_deletion: None,
    };
    assert_eq!(config_map.metadata.owner_references, Some(vec![owner]));

    let managed = config_map
        .metadata
        .managed_fields
        .as_deref()
        .unwrap_or_default();
    let applied = managed.iter().any(|entry| {
        entry.manager.as_deref() == Some(MANAGER) && entry.operation.as_deref() == Some("Apply")
    });
    assert!(
        applied,
        "no Apply entry of {MANAGER} in managedFields: {managed:?}"
    );
}

/// Waits for the status of `name` to report its configmap at the current generation.
async fn assert_status_reported(operator: &Operator, api: &Api<Greeting>, name: &str) {
    let reported = eventually(|| async {
        let greeting = api.get(name).await.ok()?;
        let want = GreetingStatus {
            config_map: name.to_owned(),
            observed_generation: greeting.metadata.generation,
        };
        (greeting.status.as_ref() == Some(&want)).then_some(())
    })
    .await;
    let last = api
        .get(name)
        .await
        .map(|g| (g.metadata.generation, g.status));
    assert!(
        reported.is_some(),
        "greeting {name} never reported its status; last (generation, status): {last:?}\n\
         operator failures:\n{}",
        operator.ctx.failures()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_keeps_an_owned_configmap_per_greeting_and_reports_status() {
    let server = tokio::task::spawn_blocking(TestServer::start)
        .await
        .expect("start the server");
    let client = skiff_controllers::client_from_kubeconfig(&server.kubeconfig)
        .await
        .expect("client from the admin kubeconfig");
    install_crd(&client).await;
    create_namespace(&client).await;
    let operator = Operator::start(client.clone());
    let greetings = Api::<Greeting>::namespaced(client.clone(), NAMESPACE);

    let hello = create_greeting(&greetings, "hello", "hello world", Some(2)).await;
    let bye = create_greeting(&greetings, "bye", "goodbye", None).await;
    let config_map = config_map_of(&operator, &hello, "hello world", "2").await;
    assert_owned_and_applied(&config_map, &hello);
    let config_map = config_map_of(&operator, &bye, "goodbye", "1").await;
    assert_owned_and_applied(&config_map, &bye);
    assert_status_reported(&operator, &greetings, "hello").await;
    assert_status_reported(&operator, &greetings, "bye").await;

    let change = serde_json::json!({"spec": {"message": "hello again"}});
    let changed = greetings
        .patch("hello", &PatchParams::default(), &Patch::Merge(&change))
        .await
        .expect("change the message of hello");
    assert_eq!(
        changed.metadata.generation,
        Some(2),
        "a spec change bumps the generation"
    );
    config_map_of(&operator, &hello, "hello again", "2").await;
    assert_status_reported(&operator, &greetings, "hello").await;
    let untouched = config_map_of(&operator, &bye, "goodbye", "1").await;
    assert_owned_and_applied(&untouched, &bye);

    operator.stop().await;
    tokio::task::spawn_blocking(move || drop(server))
        .await
        .expect("stop the server");
}
