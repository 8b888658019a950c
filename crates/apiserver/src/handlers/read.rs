//! get and list, served from the watch cache, or from the store for paginated and
//! exact-revision lists.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::{Value, json};
use skiff_api::selectors::{FieldSelector, LabelSelector};
use skiff_store::Revision;

use super::{Api, Items, Reply, ResourceRequest};
use crate::cache::CachedObject;
use crate::conversion;
use crate::object;
use crate::request::Query;
use crate::status::ApiError;

/// How fresh a read must be, from `resourceVersion` and `resourceVersionMatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// No resourceVersion: the latest state, including the caller's own writes.
    Latest,
    /// resourceVersion=0: whatever the cache holds.
    Any,
    /// At least this revision.
    NotOlderThan(Revision),
    /// Exactly this revision.
    Exact(Revision),
}

impl Freshness {
    pub fn from_query(query: &Query) -> Result<Self, ApiError> {
        let rv = query.get("resourceVersion");
        let matching = query.get("resourceVersionMatch");
        match (rv, matching) {
            (None, None) => Ok(Freshness::Latest),
            (None, Some(m)) => Err(ApiError::bad_request(format!(
                "resourceVersionMatch {m:?} is forbidden unless resourceVersion is provided"
            ))),
            (Some("0"), None | Some("NotOlderThan")) => Ok(Freshness::Any),
            (Some(rv), None | Some("NotOlderThan")) => {
                Ok(Freshness::NotOlderThan(object::parse_resource_version(rv)?))
            }
            (Some(rv), Some("Exact")) => {
                let rev = object::parse_resource_version(rv)?;
                if rev == 0 {
                    return Err(ApiError::bad_request(
                        "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
                    ));
                }
                Ok(Freshness::Exact(rev))
            }
            (Some(_), Some(m)) => Err(ApiError::bad_request(format!(
                "Unsupported value: {m:?}: supported values: \"Exact\", \"NotOlderThan\""
            ))),
        }
    }

    /// Waits until the cache may answer; returns the revision it has reached.
    pub async fn wait(self, api: &Api) -> Result<Revision, ApiError> {
        match self {
            Freshness::Any => Ok(api.cache.revision()),
            Freshness::Latest => api.cache.wait_fresh(None).await,
            Freshness::NotOlderThan(rev) | Freshness::Exact(rev) => {
                api.cache.wait_fresh(Some(rev)).await
            }
        }
    }
}

pub async fn get(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    req.require_namespace()?;
    let value = get_object(api, &req).await?;
    Ok(Reply::Object {
        code: StatusCode::OK,
        value,
    })
}

/// The current object a request names, from the cache, as fresh as it asks.
pub async fn get_object(api: &Api, req: &ResourceRequest) -> Result<Value, ApiError> {
    let freshness = match Freshness::from_query(&req.query)? {
        Freshness::Exact(_) => Freshness::Latest,
        f => f,
    };
    freshness.wait(api).await?;
    let cache = api.cache.resource(&req.resource.storage_prefix());
    match cache.get(&req.key()?) {
        Some(o) => conversion::served_value(&req.resource, &o),
        None => Err(ApiError::not_found(&req.resource, req.name()?)),
    }
}

/// Label and field selectors of a list or watch.
pub struct Filter {
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
}

impl Filter {
    pub fn from_request(req: &ResourceRequest) -> Result<Self, ApiError> {
        let labels =
            match req.query.get("labelSelector") {
                None => None,
                Some(s) => Some(s.parse::<LabelSelector>().map_err(|e| {
                    ApiError::bad_request(format!("unable to parse requirement: {e}"))
                })?),
            };
        let fields = match req.query.get("fieldSelector") {
            None => None,
            Some(s) => {
                let sel =
                    FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
                sel.validate_for(&req.resource)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(sel)
            }
        };
        Ok(Filter {
            labels: labels.filter(|l| !l.is_empty()),
            fields,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    pub fn matches_cached(&self, req: &ResourceRequest, obj: &CachedObject) -> bool {
        if let Some(labels) = &self.labels
            && !labels.matches(&obj.labels)
        {
            return false;
        }
        match &self.fields {
            None => true,
            Some(fields) => obj.value().is_ok_and(|v| fields.matches(&req.resource, &v)),
        }
    }

    pub fn matches_value(&self, req: &ResourceRequest, obj: &Value) -> bool {
        let labels_ok = self.labels.as_ref().is_none_or(|l| l.matches_object(obj));
        labels_ok
            && self
                .fields
                .as_ref()
                .is_none_or(|f| f.matches(&req.resource, obj))
    }
}

pub async fn list(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    let filter = Filter::from_request(&req)?;
    let limit = req.query.int("limit")?.filter(|l| *l > 0);
    let freshness = Freshness::from_query(&req.query)?;
    let token = req
        .query
        .get("continue")
        .map(ContinueToken::decode)
        .transpose()?;
    let paginated = token.is_some() || (limit.is_some() && freshness != Freshness::Any);
    if paginated || matches!(freshness, Freshness::Exact(_)) {
        return list_from_store(api, &req, &filter, limit, freshness, token).await;
    }
    let global = freshness.wait(api).await?;
    let prefix = req.resource.namespace_prefix(req.namespace.as_deref());
    let snapshot = api
        .cache
        .resource(&req.resource.storage_prefix())
        .snapshot(&prefix, global);
    let mut objects = snapshot.objects;
    if !filter.is_empty() {
        objects.retain(|o| filter.matches_cached(&req, o));
    }
    Ok(Reply::List {
        items: Items::Cached(objects),
        revision: snapshot.revision,
        continue_token: None,
        remaining: None,
    })
}

async fn list_from_store(
    api: &Api,
    req: &ResourceRequest,
    filter: &Filter,
    limit: Option<i64>,
    freshness: Freshness,
    token: Option<ContinueToken>,
) -> Result<Reply, ApiError> {
    let prefix = req.resource.namespace_prefix(req.namespace.as_deref());
    let (at, start_after) = match (&token, freshness) {
        (Some(t), _) => (Some(t.revision), Some(format!("{prefix}{}", t.start_after))),
        (None, Freshness::Exact(rev)) => (Some(rev), None),
        (None, _) => (None, None),
    };
    let limit = limit.map(|l| l as usize);
    let page = api.store.list(&prefix, start_after.as_deref(), limit, at).await.map_err(|e| {
        match (e, &token) {
            (skiff_store::Error::Compacted { .. }, Some(_)) => ApiError::Gone {
                message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.".into(),
            },
            (e, _) => e.into(),
        }
    })?;
    let mut items = Vec::with_capacity(page.items.len());
    for kv in &page.items {
        let mut value = object::decode_from_store(&kv.value, kv.mod_revision)?;
        conversion::to_served(&req.resource, &mut value);
        if filter.matches_value(req, &value) {
            items.push(value);
        }
    }
    let continue_token = match (page.more, page.items.last()) {
        (true, Some(last)) => Some(
            ContinueToken {
                revision: page.revision,
                start_after: last
                    .key
                    .strip_prefix(&prefix)
                    .unwrap_or(&last.key)
                    .to_string(),
            }
            .encode(),
        ),
        _ => None,
    };
    Ok(Reply::List {
        items: Items::Values(items),
        revision: page.revision,
        continue_token,
        remaining: None,
    })
}

/// Where the next page of a list starts: the revision of the first page and the last
/// key returned, relative to the list's prefix.
pub struct ContinueToken {
    pub revision: Revision,
    pub start_after: String,
}

impl ContinueToken {
    pub fn encode(&self) -> String {
        let v = json!({"v": "meta.k8s.io/v1", "rv": self.revision, "start": self.start_after});
        STANDARD.encode(v.to_string())
    }

    pub fn decode(token: &str) -> Result<Self, ApiError> {
        let invalid = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
        let raw = STANDARD.decode(token).map_err(|_| invalid())?;
        let v: Value = serde_json::from_slice(&raw).map_err(|_| invalid())?;
        let revision = v
            .get("rv")
            .and_then(Value::as_i64)
            .filter(|r| *r > 0)
            .ok_or_else(invalid)?;
        let start_after = v.get("start").and_then(Value::as_str).ok_or_else(invalid)?;
        if start_after.contains("..") {
            return Err(invalid());
        }
        Ok(ContinueToken {
            revision,
            start_after: start_after.to_string(),
        })
    }
}
