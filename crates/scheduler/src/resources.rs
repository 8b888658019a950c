//! Resource amounts of pods and nodes, in the units the scheduler compares: CPU in
//! millicores, memory and storage in bytes, extended resources in their own units.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use skiff_api::validation::Quantity as Parsed;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// What a pod without requests counts for when nodes are scored (upstream's
/// non-zero defaults), so that such pods still spread.
const DEFAULT_MILLI_CPU: i64 = 100;
const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// An amount of each resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources (`example.com/gpu`, hugepages), by name.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// Reads a resource list (`requests`, `allocatable`); unparsable values count as 0,
    /// since the API server validated them.
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Self {
        let mut out = Resources::default();
        for (name, quantity) in list.into_iter().flatten() {
            let Ok(parsed) = Parsed::parse(&quantity.0) else {
                continue;
            };
            match name.as_str() {
                CPU => out.milli_cpu = parsed.milli_value(),
                MEMORY => out.memory = parsed.value(),
                EPHEMERAL_STORAGE => out.ephemeral_storage = parsed.value(),
                PODS => {}
                other if is_scalar(other) => {
                    out.scalar.insert(other.to_string(), parsed.value());
                }
                _ => {}
            }
        }
        out
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        for (name, v) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() += v;
        }
    }

    pub fn subtract(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        for (name, v) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() -= v;
        }
    }

    /// Each resource at the larger of the two.
    fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, v) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_default();
            *entry = (*entry).max(*v);
        }
    }
}

/// Extended resources and hugepages: names with a domain, or `hugepages-*`.
fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("kubernetes.io/"))
}

fn container_requests(container: &Container) -> Resources {
    Resources::from_list(
        container
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref()),
    )
}

/// What a pod asks of a node, as upstream computes it: the app containers and the
/// sidecars (restartable init containers) together, or the largest single init step
/// if that is more, plus the pod overhead.
pub fn pod_requests(pod: &Pod) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for init in spec.init_containers.iter().flatten() {
        let requests = container_requests(init);
        if init.restart_policy.as_deref() == Some("Always") {
            sidecars.add(&requests);
            init_peak.max_with(&sidecars);
        } else {
            let mut step = sidecars.clone();
            step.add(&requests);
            init_peak.max_with(&step);
        }
    }
    let mut total = sidecars;
    for container in &spec.containers {
        total.add(&container_requests(container));
    }
    total.max_with(&init_peak);
    total.add(&Resources::from_list(spec.overhead.as_ref()));
    total
}

/// The requests used to score nodes: a container without a CPU or memory request
/// counts as upstream's defaults.
pub fn non_zero_requests(pod: &Pod) -> (i64, i64) {
    let Some(spec) = pod.spec.as_ref() else {
        return (0, 0);
    };
    spec.containers.iter().fold((0, 0), |(cpu, memory), c| {
        let r = container_requests(c);
        let cpu_request = if r.milli_cpu == 0 {
            DEFAULT_MILLI_CPU
        } else {
            r.milli_cpu
        };
        let memory_request = if r.memory == 0 {
            DEFAULT_MEMORY
        } else {
            r.memory
        };
        (cpu + cpu_request, memory + memory_request)
    })
}

/// A node's allocatable resources and its pod limit.
pub fn node_allocatable(node: &Node) -> (Resources, i64) {
    let status = node.status.as_ref();
    let list = status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()));
    let pods = list
        .and_then(|l| l.get(PODS))
        .and_then(|q| Parsed::parse(&q.0).ok())
        .map_or(0, |q| q.value());
    (Resources::from_list(list), pods)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn app_containers_add_up() {
        let p = pod(json!({"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "1", "example.com/gpu": "2"}}},
        ]}));
        let r = pod_requests(&p);
        assert_eq!(r.milli_cpu, 1250);
        assert_eq!(r.memory, 64 << 20);
        assert_eq!(r.scalar["example.com/gpu"], 2);
    }

    #[test]
    fn a_larger_init_container_sets_the_request() {
        let p = pod(json!({
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}],
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}],
        }));
        let r = pod_requests(&p);
        assert_eq!((r.milli_cpu, r.memory), (2000, 1 << 30));
    }

    #[test]
    fn sidecars_run_beside_the_app_containers() {
        let p = pod(json!({
            "initContainers": [
                {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
                {"name": "i", "resources": {"requests": {"cpu": "300m"}}},
            ],
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}}}],
            "overhead": {"cpu": "10m"},
        }));
        assert_eq!(pod_requests(&p).milli_cpu, 610);
    }

    #[test]
    fn pods_without_requests_score_with_defaults() {
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b", "resources": {"requests": {"cpu": "1"}}}]}),
        );
        assert_eq!(non_zero_requests(&p), (1100, 2 * DEFAULT_MEMORY));
        assert!(pod_requests(&p).memory == 0);
    }
}
