//! Event expiry: events live one hour after their last write, as upstream's event TTL.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::handlers::Api;

/// How long an event is kept after it was last written.
pub const EVENT_TTL: Duration = Duration::from_secs(3600);

const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Deletes expired events every minute until the runtime stops.
pub fn spawn_expiry(api: Arc<Api>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            ticker.tick().await;
            let removed = sweep(&api, Utc::now()).await;
            if removed > 0 {
                tracing::debug!(removed, "expired events deleted");
            }
        }
    });
}

/// Deletes every event last written more than [`EVENT_TTL`] before `now`.
pub async fn sweep(api: &Api, now: DateTime<Utc>) -> usize {
    let ttl = chrono::Duration::from_std(EVENT_TTL).unwrap_or_else(|_| chrono::Duration::hours(1));
    let mut removed = 0;
    for resource in api.registry.all().into_iter().filter(|r| r.kind == "Event") {
        let prefix = resource.storage_prefix();
        let snapshot = api
            .cache
            .resource(&prefix)
            .snapshot(&prefix, api.cache.revision());
        for cached in snapshot.objects {
            let Ok(event) = cached.value() else { continue };
            if last_written(&event).is_some_and(|t| now - t > ttl) {
                let deleted = api
                    .store
                    .delete(&cached.key, Some(cached.mod_revision))
                    .await;
                if deleted.is_ok() {
                    removed += 1;
                }
            }
        }
    }
    removed
}

/// The latest time an event records for itself, in either API's fields.
fn last_written(event: &Value) -> Option<DateTime<Utc>> {
    let candidates = [
        "/series/lastObservedTime",
        "/lastTimestamp",
        "/deprecatedLastTimestamp",
        "/eventTime",
        "/metadata/creationTimestamp",
    ];
    candidates
        .iter()
        .filter_map(|p| event.pointer(p).and_then(Value::as_str))
        .filter_map(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use skiff_store::{SqliteOptions, SqliteStore, Store};

    async fn api_with_events(events: &[(&str, &str)]) -> (Arc<Api>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let sqlite =
            SqliteStore::open(&dir.path().join("state.db"), SqliteOptions::default()).unwrap();
        let store: Arc<dyn Store> = sqlite;
        for (name, last) in events {
            let event = json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": "default", "creationTimestamp": last},
                "lastTimestamp": last,
            });
            let key = format!("/registry/core/events/default/{name}");
            store
                .create(&key, serde_json::to_vec(&event).unwrap().into())
                .await
                .unwrap();
        }
        let cache = crate::cache::Cache::start(store.clone()).await.unwrap();
        let registry = crate::registry::Registry::new(skiff_api::builtin_resources());
        (
            Arc::new(Api {
                store,
                cache,
                registry,
            }),
            dir,
        )
    }

    #[tokio::test]
    async fn events_older_than_an_hour_are_deleted_and_newer_ones_kept() {
        let now = Utc::now();
        let old = (now - chrono::Duration::minutes(61)).to_rfc3339();
        let fresh = (now - chrono::Duration::minutes(59)).to_rfc3339();
        let (api, _dir) = api_with_events(&[("old", &old), ("fresh", &fresh)]).await;
        assert_eq!(sweep(&api, now).await, 1);
        assert!(
            api.store
                .get("/registry/core/events/default/old")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            api.store
                .get("/registry/core/events/default/fresh")
                .await
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn last_written_takes_the_latest_of_the_event_times() {
        let e = json!({
            "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
            "lastTimestamp": "2026-01-01T02:00:00Z",
            "series": {"lastObservedTime": "2026-01-01T01:00:00.000000Z"},
        });
        assert_eq!(
            last_written(&e).unwrap().to_rfc3339(),
            "2026-01-01T02:00:00+00:00"
        );
    }
}
