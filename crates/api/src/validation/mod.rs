//! Decoding checks, unknown-field detection, defaulting and validation of the
//! built-in kinds, with upstream's rules and messages.
//!
//! The API server calls, on create: [`check_decodes`], [`unknown_fields`] (for
//! fieldValidation Strict or Warn), [`apply_defaults`], [`validate_create`]; on update
//! the same with [`validate_update`] against the stored object.

mod access;
mod batch;
mod cluster;
mod common;
mod config;
mod containers;
mod cron;
mod custom;
mod decode;
mod defaults;
mod diff;
mod field;
pub(crate) mod meta;
pub(crate) mod names;
mod pod;
mod pod_update;
mod policy;
mod quantity;
mod schema;
mod service;
mod storage;
mod strict;
mod volumes;
mod workloads;

use serde_json::Value;

use crate::ResourceInfo;

pub use decode::check_decodes;
pub use defaults::apply_defaults;
pub use field::{BadValue, FieldError, Path, reason};
pub use quantity::Quantity;
pub use strict::unknown_fields;

/// Removes the fields a custom resource's schema does not know (upstream prunes them
/// always); returns their paths. Built-in kinds keep their fields.
pub fn prune_unknown(resource: &ResourceInfo, obj: &mut Value) -> Vec<String> {
    match &resource.custom {
        Some(c) => custom::prune(c, obj),
        None => Vec::new(),
    }
}

use meta::MetaRules;
use names::NameRule;

/// The built-in kinds this module knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Namespace,
    Pod,
    Service,
    Endpoints,
    ConfigMap,
    Secret,
    ServiceAccount,
    CoreEvent,
    Node,
    PersistentVolume,
    PersistentVolumeClaim,
    LimitRange,
    ResourceQuota,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    ControllerRevision,
    Job,
    CronJob,
    Lease,
    EndpointSlice,
    EventsEvent,
    StorageClass,
    PodDisruptionBudget,
}

impl Kind {
    fn of(r: &ResourceInfo) -> Option<Kind> {
        use Kind::*;
        let kind = match (r.group.as_str(), r.version.as_str(), r.kind.as_str()) {
            ("", "v1", "Namespace") => Namespace,
            ("", "v1", "Pod") => Pod,
            ("", "v1", "Service") => Service,
            ("", "v1", "Endpoints") => Endpoints,
            ("", "v1", "ConfigMap") => ConfigMap,
            ("", "v1", "Secret") => Secret,
            ("", "v1", "ServiceAccount") => ServiceAccount,
            ("", "v1", "Event") => CoreEvent,
            ("", "v1", "Node") => Node,
            ("", "v1", "PersistentVolume") => PersistentVolume,
            ("", "v1", "PersistentVolumeClaim") => PersistentVolumeClaim,
            ("", "v1", "LimitRange") => LimitRange,
            ("", "v1", "ResourceQuota") => ResourceQuota,
            ("apps", "v1", "Deployment") => Deployment,
            ("apps", "v1", "ReplicaSet") => ReplicaSet,
            ("apps", "v1", "StatefulSet") => StatefulSet,
            ("apps", "v1", "DaemonSet") => DaemonSet,
            ("apps", "v1", "ControllerRevision") => ControllerRevision,
            ("batch", "v1", "Job") => Job,
            ("batch", "v1", "CronJob") => CronJob,
            ("coordination.k8s.io", "v1", "Lease") => Lease,
            ("discovery.k8s.io", "v1", "EndpointSlice") => EndpointSlice,
            ("events.k8s.io", "v1", "Event") => EventsEvent,
            ("storage.k8s.io", "v1", "StorageClass") => StorageClass,
            ("policy", "v1", "PodDisruptionBudget") => PodDisruptionBudget,
            _ => return None,
        };
        Some(kind)
    }

    fn meta_rules(self, namespaced: bool) -> MetaRules {
        let name = match self {
            Kind::Namespace | Kind::StatefulSet => NameRule::Label,
            Kind::Service => NameRule::Dns1035,
            Kind::CoreEvent => NameRule::PathSegment,
            _ => NameRule::Subdomain,
        };
        MetaRules {
            namespaced,
            name,
            kube_finalizers: self != Kind::CoreEvent,
        }
    }

    /// Rules of the object itself, beyond its metadata.
    fn validate(self, obj: &Value, errs: &mut Vec<FieldError>) {
        match self {
            Kind::Namespace => cluster::validate_namespace(obj, errs),
            Kind::Pod => pod::validate_pod(obj, errs),
            Kind::Service => service::validate_service(obj, errs),
            Kind::Endpoints => service::validate_endpoints(obj, errs),
            Kind::ConfigMap => config::validate_config_map(obj, errs),
            Kind::Secret => config::validate_secret(obj, errs),
            Kind::CoreEvent => cluster::validate_core_event(obj, errs),
            Kind::Node => cluster::validate_node(obj, errs),
            Kind::PersistentVolume => storage::validate_pv(obj, errs),
            Kind::PersistentVolumeClaim => storage::validate_pvc(obj, errs),
            Kind::LimitRange => policy::validate_limit_range(obj, errs),
            Kind::ResourceQuota => policy::validate_resource_quota(obj, errs),
            Kind::Deployment => workloads::validate_deployment(obj, errs),
            Kind::ReplicaSet => workloads::validate_replica_set(obj, errs),
            Kind::StatefulSet => workloads::validate_stateful_set(obj, errs),
            Kind::DaemonSet => workloads::validate_daemon_set(obj, errs),
            Kind::ControllerRevision => workloads::validate_controller_revision(obj, errs),
            Kind::Job => batch::validate_job(obj, errs),
            Kind::CronJob => batch::validate_cron_job(obj, None, errs),
            Kind::Lease => cluster::validate_lease(obj, errs),
            Kind::EndpointSlice => service::validate_endpoint_slice(obj, errs),
            Kind::EventsEvent => cluster::validate_events_event(obj, errs),
            Kind::StorageClass => cluster::validate_storage_class(obj, errs),
            Kind::PodDisruptionBudget => policy::validate_pdb(obj, errs),
            Kind::ServiceAccount => {}
        }
    }

    /// Rules of an update: the object's own rules with the old one in view, and what
    /// may not change.
    fn validate_update(self, new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
        match self {
            Kind::Pod => pod_update::validate_pod_update(new, old, errs),
            Kind::Job => batch::validate_job_update(new, old, errs),
            Kind::CronJob => batch::validate_cron_job(new, Some(old), errs),
            _ => self.validate(new, errs),
        }
        match self {
            Kind::Service => service::validate_service_update(new, old, errs),
            Kind::ConfigMap => config::validate_config_map_update(new, old, errs),
            Kind::Secret => config::validate_secret_update(new, old, errs),
            Kind::Node => cluster::validate_node_update(new, old, errs),
            Kind::PersistentVolumeClaim => storage::validate_pvc_update(new, old, errs),
            Kind::Deployment | Kind::ReplicaSet | Kind::DaemonSet => {
                workloads::validate_selector_immutable(new, old, errs)
            }
            Kind::StatefulSet => workloads::validate_stateful_set_update(new, old, errs),
            Kind::ControllerRevision => {
                workloads::validate_controller_revision_update(new, old, errs)
            }
            Kind::EndpointSlice => service::validate_endpoint_slice_update(new, old, errs),
            Kind::StorageClass => cluster::validate_storage_class_update(new, old, errs),
            _ => {}
        }
    }
}

/// Validation of a new object: metadata (name rules, labels, annotations...) and the
/// kind's own rules (required fields, enumerations, consistency).
pub fn validate_create(resource: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    if resource.custom.is_some() || custom::is_crd(resource) {
        return dedup(custom::validate_create(resource, obj));
    }
    let mut errs = Vec::new();
    let Some(kind) = Kind::of(resource) else {
        return errs;
    };
    meta::validate_create(obj, kind.meta_rules(resource.namespaced), &mut errs);
    kind.validate(obj, &mut errs);
    dedup(errs)
}

/// Validation of an update: the rules of [`validate_create`] bar those on names, plus
/// the fields that may not change from `old`.
pub fn validate_update(resource: &ResourceInfo, new: &Value, old: &Value) -> Vec<FieldError> {
    if resource.custom.is_some() || custom::is_crd(resource) {
        return dedup(custom::validate_update(resource, new, old));
    }
    let mut errs = Vec::new();
    let Some(kind) = Kind::of(resource) else {
        return errs;
    };
    meta::validate_update(new, old, kind.meta_rules(resource.namespaced), &mut errs);
    kind.validate_update(new, old, &mut errs);
    dedup(errs)
}

/// Some rules are reached twice (an update re-checks what creation checks); like
/// upstream's aggregation, each distinct error is reported once.
fn dedup(errs: Vec<FieldError>) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = Vec::with_capacity(errs.len());
    for e in errs {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

/// Adds what upstream generates for a new Job unless `spec.manualSelector` is true:
/// `job-name` and `controller-uid` labels (plain and `batch.kubernetes.io/`) on the
/// pod template, a selector on `batch.kubernetes.io/controller-uid`, and the template
/// labels on the Job itself when it has none.
pub fn generate_job_selector(obj: &mut Value, uid: &str) {
    batch::generate_job_selector(obj, uid);
    let labels = access::at(obj, &["spec", "template", "metadata", "labels"]).cloned();
    defaults::copy_template_labels(obj, labels);
}

/// Helpers shared by the validation modules' unit tests.
#[cfg(test)]
mod test_support {
    use serde_json::Value;

    use super::common::Errs;

    /// Runs one validator on `obj` and renders its errors as upstream prints them.
    pub(super) fn errors(f: fn(&Value, &mut Errs), obj: Value) -> Vec<String> {
        let mut errs = Vec::new();
        f(&obj, &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_resources;
    use serde_json::json;
    use std::sync::Arc;

    fn resource(group: &str, kind: &str) -> Arc<ResourceInfo> {
        builtin_resources()
            .into_iter()
            .find(|r| r.group == group && r.kind == kind)
            .unwrap()
    }

    /// Defaults then validates, as the server does on create.
    fn create(group: &str, kind: &str, mut obj: Value) -> Vec<String> {
        let r = resource(group, kind);
        apply_defaults(&r, &mut obj);
        validate_create(&r, &obj)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn update(group: &str, kind: &str, mut old: Value, mut new: Value) -> Vec<String> {
        let r = resource(group, kind);
        apply_defaults(&r, &mut old);
        apply_defaults(&r, &mut new);
        validate_update(&r, &new, &old)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn pod(name: &str, image: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": image}]}})
    }

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": selector,
            "template": {"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}})
    }

    #[test]
    fn a_minimal_pod_is_valid_after_defaulting() {
        assert!(create("", "Pod", pod("web", "nginx")).is_empty());
    }

    #[test]
    fn an_uppercase_pod_name_is_reported_like_upstream() {
        let errs = create("", "Pod", pod("Foo", "nginx"));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with(
            "metadata.name: Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of"
        ));
    }

    #[test]
    fn service_names_must_start_with_a_letter() {
        let svc = json!({"metadata": {"name": "1svc", "namespace": "default"},
            "spec": {"ports": [{"port": 80}]}});
        let errs = create("", "Service", svc);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("metadata.name: Invalid value: \"1svc\": a DNS-1035 label"));
    }

    #[test]
    fn namespace_names_may_not_contain_dots() {
        let errs = create("", "Namespace", json!({"metadata": {"name": "a.b"}}));
        assert_eq!(
            errs,
            vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"]
        );
    }

    #[test]
    fn core_events_accept_any_path_segment_name() {
        let ev = json!({"metadata": {"name": "pod.17a2b3c4d5e6f7", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "pod"}});
        assert!(create("", "Event", ev).is_empty());
    }

    #[test]
    fn a_deployment_selector_must_match_its_template() {
        let d = deployment(
            json!({"matchLabels": {"app": "api"}}),
            json!({"app": "web"}),
        );
        assert_eq!(
            create("apps", "Deployment", d),
            vec![
                "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
    }

    #[test]
    fn a_deployment_selector_is_immutable() {
        let old = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        let new = deployment(
            json!({"matchLabels": {"app": "web", "v": "2"}}),
            json!({"app": "web", "v": "2"}),
        );
        assert_eq!(
            update("apps", "Deployment", old, new),
            vec![
                "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"v\":\"2\"}}: field is immutable"
            ]
        );
    }

    #[test]
    fn pod_updates_beyond_the_image_are_forbidden() {
        let old = pod("web", "nginx:1");
        let mut new = pod("web", "nginx:2");
        assert!(update("", "Pod", old.clone(), new.clone()).is_empty());
        new["spec"]["containers"][0]["command"] = json!(["sh"]);
        let errs = update("", "Pod", old, new);
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("spec: Forbidden: pod updates may not change fields other than")
        );
        assert!(errs[0].contains("+ spec.containers[0].command: [\"sh\"]"));
    }

    #[test]
    fn renaming_an_object_is_immutable() {
        let errs = update("", "Pod", pod("a", "nginx"), pod("b", "nginx"));
        assert_eq!(
            errs,
            vec!["metadata.name: Invalid value: \"b\": field is immutable"]
        );
    }

    #[test]
    fn a_job_without_restart_policy_is_rejected_after_selector_generation() {
        let r = resource("batch", "Job");
        let mut job = json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
            "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}});
        apply_defaults(&r, &mut job);
        generate_job_selector(&mut job, "u1");
        let errs: Vec<String> = validate_create(&r, &job)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
            ]
        );
        assert_eq!(
            job["metadata"]["labels"]["batch.kubernetes.io/job-name"],
            "pi"
        );
    }

    #[test]
    fn a_job_with_never_restart_is_valid() {
        let r = resource("batch", "Job");
        let mut job = json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "pi", "image": "perl"}]}}}});
        apply_defaults(&r, &mut job);
        generate_job_selector(&mut job, "u1");
        assert!(validate_create(&r, &job).is_empty());
    }

    #[test]
    fn a_cron_job_with_a_bad_schedule_is_invalid() {
        let cj = json!({"metadata": {"name": "c", "namespace": "default"}, "spec": {"schedule": "* * *",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                "containers": [{"name": "a", "image": "busybox"}]}}}}}});
        assert_eq!(
            create("batch", "CronJob", cj),
            vec![
                "spec.schedule: Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]"
            ]
        );
    }

    #[test]
    fn config_map_and_secret_keys_are_checked() {
        let cm = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"bad key": "v"}});
        assert_eq!(create("", "ConfigMap", cm).len(), 1);
        let secret =
            json!({"metadata": {"name": "s", "namespace": "d"}, "stringData": {"ok": "v"}});
        assert!(create("", "Secret", secret).is_empty());
    }

    #[test]
    fn every_served_kind_with_minimal_metadata_validates_without_panicking() {
        for r in builtin_resources() {
            let mut obj = json!({"apiVersion": r.api_version(), "kind": r.kind,
                "metadata": {"name": "x", "namespace": "default"}});
            apply_defaults(&r, &mut obj);
            let _ = validate_create(&r, &obj);
            let _ = validate_update(&r, &obj, &obj);
        }
    }

    /// Manifests as users and charts write them.
    fn manifests() -> Vec<(&'static str, &'static str, Value)> {
        let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web",
            "image": "nginx:1.25", "ports": [{"containerPort": 80, "name": "http"}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}});
        let mut with_volume = template.clone();
        with_volume["spec"]["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
        let meta = json!({"name": "web", "namespace": "default"});
        let selector = json!({"matchLabels": {"app": "web"}});
        vec![
            (
                "apps",
                "Deployment",
                json!({"metadata": meta, "spec": {"selector": selector, "template": with_volume}}),
            ),
            (
                "apps",
                "DaemonSet",
                json!({"metadata": meta, "spec": {"selector": selector, "template": with_volume}}),
            ),
            (
                "apps",
                "StatefulSet",
                json!({"metadata": meta, "spec": {"selector": selector, "serviceName": "web",
                "template": template, "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}),
            ),
            (
                "",
                "Service",
                json!({"metadata": meta, "spec": {"selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}, {"name": "https", "port": 443}]}}),
            ),
            (
                "",
                "ConfigMap",
                json!({"metadata": meta, "data": {"nginx.conf": "x"}}),
            ),
            (
                "",
                "Secret",
                json!({"metadata": meta, "type": "kubernetes.io/basic-auth",
                "stringData": {"username": "u", "password": "p"}}),
            ),
            (
                "",
                "PersistentVolumeClaim",
                json!({"metadata": meta, "spec": {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}}}}),
            ),
            (
                "batch",
                "CronJob",
                json!({"metadata": meta, "spec": {"schedule": "@daily", "jobTemplate": {"spec":
                {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "a", "image": "busybox"}]}}}}}}),
            ),
            (
                "policy",
                "PodDisruptionBudget",
                json!({"metadata": meta, "spec": {"minAvailable": 1, "selector": selector}}),
            ),
        ]
    }

    #[test]
    fn common_manifests_default_idempotently_and_validate_cleanly() {
        for (group, kind, obj) in manifests() {
            let r = resource(group, kind);
            let mut once = obj.clone();
            apply_defaults(&r, &mut once);
            let mut twice = once.clone();
            apply_defaults(&r, &mut twice);
            assert_eq!(once, twice, "{kind} defaults are not idempotent");
            assert!(check_decodes(&r, &obj).is_ok(), "{kind} does not decode");
            assert!(
                unknown_fields(&r, &obj).is_empty(),
                "{kind} has unknown fields"
            );
            let created = validate_create(&r, &once);
            assert!(created.is_empty(), "{kind}: {created:?}");
            let updated = validate_update(&r, &once, &once);
            assert!(updated.is_empty(), "{kind} update: {updated:?}");
        }
    }

    #[test]
    fn repeated_errors_are_reported_once() {
        let mut old = pod("web", "nginx");
        old["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("");
        assert_eq!(
            update("", "Pod", old, new),
            vec!["spec.containers[0].image: Required value"]
        );
    }

    #[test]
    fn decode_errors_and_unknown_fields_use_the_kinds_schema() {
        let r = resource("", "Pod");
        let bad = json!({"spec": {"containers": "nginx"}});
        assert!(
            check_decodes(&r, &bad)
                .unwrap_err()
                .contains("Go struct field PodSpec.spec.containers")
        );
        let typo = json!({"spec": {"containers": [{"name": "a", "imagePullPolcy": "Always"}]}});
        assert_eq!(
            unknown_fields(&r, &typo),
            vec!["spec.containers[0].imagePullPolcy"]
        );
    }
}
