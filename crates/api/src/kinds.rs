//! Maps a built-in group/version/kind to its Rust type from `k8s-openapi`, so that
//! decoding checks, schemas and protobuf conversions share one table.

use k8s_openapi::api;

/// Calls `$m!(Type)` for the type of `($group, $version, $kind)` and evaluates to
/// `Some(result)`, or to `None` when the kind is not built in.
///
/// Besides the served resources this knows the request-only kinds clients send as
/// bodies: Scale, Binding and Eviction. DeleteOptions is no resource and is handled
/// on its own by the decoders.
#[macro_export]
macro_rules! with_builtin_type {
    ($group:expr, $version:expr, $kind:expr, $m:ident) => {
        $crate::kinds::__dispatch!(($group, $version, $kind), $m)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __dispatch_impl {
    (($g:expr, $v:expr, $k:expr), $m:ident) => {{
        use $crate::kinds::types::*;
        match ($g, $v, $k) {
            ("", "v1", "Namespace") => Some($m!(Namespace)),
            ("", "v1", "Pod") => Some($m!(Pod)),
            ("", "v1", "Service") => Some($m!(Service)),
            ("", "v1", "Endpoints") => Some($m!(Endpoints)),
            ("", "v1", "ConfigMap") => Some($m!(ConfigMap)),
            ("", "v1", "Secret") => Some($m!(Secret)),
            ("", "v1", "ServiceAccount") => Some($m!(ServiceAccount)),
            ("", "v1", "Event") => Some($m!(CoreEvent)),
            ("", "v1", "Node") => Some($m!(Node)),
            ("", "v1", "PersistentVolume") => Some($m!(PersistentVolume)),
            ("", "v1", "PersistentVolumeClaim") => Some($m!(PersistentVolumeClaim)),
            ("", "v1", "LimitRange") => Some($m!(LimitRange)),
            ("", "v1", "ResourceQuota") => Some($m!(ResourceQuota)),
            ("", "v1", "Binding") => Some($m!(Binding)),
            ("apps", "v1", "Deployment") => Some($m!(Deployment)),
            ("apps", "v1", "ReplicaSet") => Some($m!(ReplicaSet)),
            ("apps", "v1", "StatefulSet") => Some($m!(StatefulSet)),
            ("apps", "v1", "DaemonSet") => Some($m!(DaemonSet)),
            ("apps", "v1", "ControllerRevision") => Some($m!(ControllerRevision)),
            ("batch", "v1", "Job") => Some($m!(Job)),
            ("batch", "v1", "CronJob") => Some($m!(CronJob)),
            ("coordination.k8s.io", "v1", "Lease") => Some($m!(Lease)),
            ("discovery.k8s.io", "v1", "EndpointSlice") => Some($m!(EndpointSlice)),
            ("events.k8s.io", "v1", "Event") => Some($m!(EventsEvent)),
            ("storage.k8s.io", "v1", "StorageClass") => Some($m!(StorageClass)),
            ("policy", "v1", "PodDisruptionBudget") => Some($m!(PodDisruptionBudget)),
            ("policy", "v1", "Eviction") => Some($m!(Eviction)),
            ("autoscaling", "v1", "Scale") => Some($m!(Scale)),
            ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => {
                Some($m!(CustomResourceDefinition))
            }
            _ => None,
        }
    }};
}

#[doc(hidden)]
pub use crate::__dispatch_impl as __dispatch;

/// The Rust types behind [`with_builtin_type!`], under unambiguous names.
pub mod types {
    pub use super::api::apps::v1::{
        ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
    };
    pub use super::api::autoscaling::v1::Scale;
    pub use super::api::batch::v1::{CronJob, Job};
    pub use super::api::coordination::v1::Lease;
    pub use super::api::core::v1::{
        Binding, ConfigMap, Endpoints, Event as CoreEvent, LimitRange, Namespace, Node,
        PersistentVolume, PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service,
        ServiceAccount,
    };
    pub use super::api::discovery::v1::EndpointSlice;
    pub use super::api::events::v1::Event as EventsEvent;
    pub use super::api::policy::v1::{Eviction, PodDisruptionBudget};
    pub use super::api::storage::v1::StorageClass;
    pub use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
}

#[cfg(test)]
mod tests {
    use crate::builtin_resources;

    macro_rules! gvk_of {
        ($t:ty) => {
            (
                <$t as k8s_openapi::Resource>::GROUP,
                <$t as k8s_openapi::Resource>::VERSION,
                <$t as k8s_openapi::Resource>::KIND,
                <$t as k8s_openapi::Resource>::URL_PATH_SEGMENT,
            )
        };
    }

    #[test]
    fn every_served_resource_maps_to_its_upstream_type() {
        for r in builtin_resources() {
            let (group, version, kind, plural) = with_builtin_type!(
                r.group.as_str(),
                r.version.as_str(),
                r.kind.as_str(),
                gvk_of
            )
            .unwrap_or_else(|| panic!("{} has no type", r.kind));
            assert_eq!(
                (group, version, kind, plural),
                (&*r.group, &*r.version, &*r.kind, &*r.plural)
            );
        }
    }
}
