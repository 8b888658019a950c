//! Objects the API server itself keeps present: the system namespaces.

use serde_json::json;
use skiff_store::Store;

use crate::object;
use crate::status::ApiError;

/// Namespaces every cluster has.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates the system namespaces that are missing.
pub async fn ensure_system_namespaces(store: &dyn Store) -> Result<(), ApiError> {
    let resources = skiff_api::builtin_resources();
    let namespaces = resources
        .iter()
        .find(|r| r.group.is_empty() && r.plural == "namespaces")
        .ok_or_else(|| ApiError::internal("namespaces are not a built-in resource"))?;
    for name in SYSTEM_NAMESPACES {
        let key = namespaces.storage_key(None, name);
        if store.get(&key).await?.is_some() {
            continue;
        }
        let mut ns = json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": object::now_rfc3339(),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        let bytes = object::encode_for_store(&mut ns)?;
        match store.create(&key, bytes).await {
            Ok(_) | Err(skiff_store::Error::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(namespace = name, "created system namespace");
    }
    Ok(())
}
