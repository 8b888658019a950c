//! Objects and helpers the patch tests share.

use serde_json::{Value, json};

use super::{PatchError, strategic_merge};
use crate::{ResourceInfo, builtin_resources};

pub(super) fn resource(plural: &str) -> ResourceInfo {
    let all = builtin_resources();
    let found = all
        .iter()
        .find(|r| r.plural == plural)
        .expect("served resource");
    (**found).clone()
}

pub(super) fn patch(plural: &str, original: Value, patch: Value) -> Value {
    strategic_merge(&resource(plural), &original, &patch).expect("patch applies")
}

pub(super) fn patch_err(plural: &str, original: Value, patch: Value) -> PatchError {
    strategic_merge(&resource(plural), &original, &patch).expect_err("patch fails")
}

pub(super) fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "finalizers": ["a.example.com/one", "b.example.com/two"]
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "args": ["-g", "daemon off;"],
                            "ports": [
                                {"containerPort": 80, "protocol": "TCP"},
                                {"containerPort": 443, "protocol": "TCP"}
                            ],
                            "env": [
                                {"name": "MODE", "value": "prod"},
                                {"name": "LEVEL", "value": "info"}
                            ],
                            "volumeMounts": [
                                {"name": "data", "mountPath": "/data"},
                                {"name": "cache", "mountPath": "/cache"}
                            ]
                        },
                        {"name": "sidecar", "image": "busybox:1.36"}
                    ],
                    "volumes": [
                        {"name": "data", "emptyDir": {}},
                        {"name": "cache", "emptyDir": {"medium": "Memory"}}
                    ],
                    "tolerations": [
                        {"key": "a", "operator": "Exists"},
                        {"key": "b", "operator": "Exists"}
                    ],
                    "restartPolicy": "Always"
                }
            }
        },
        "status": {
            "replicas": 2,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
            ]
        }
    })
}

pub(super) fn pod_spec(object: &Value) -> &Value {
    &object["spec"]["template"]["spec"]
}

pub(super) fn names(list: &Value, key: &str) -> Vec<Value> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|e| e[key].clone())
        .collect()
}
