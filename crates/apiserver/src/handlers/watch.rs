//! Watch: a chunked stream of JSON events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR),
//! optionally preceded by the current objects (including the watch-list mode with its
//! `k8s.io/initial-events-end` bookmark).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use rand::Rng;
use serde_json::{Value, json};
use skiff_store::Revision;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use super::read::{Filter, Freshness};
use super::{Api, Reply, ResourceRequest, partial_metadata, table};
use crate::cache::{CacheEvent, CachedObject, EventType, Live, ResourceCache};
use crate::codec::Output;
use crate::conversion;
use crate::status::ApiError;

pub const WATCH_CONTENT_TYPE: &str = "application/json";

/// How often a watch that allows bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);

/// Upstream's default watch length: a random time between 30 and 60 minutes.
const DEFAULT_TIMEOUT_SECS: std::ops::Range<u64> = 1800..3600;

/// Where the stream starts.
enum Start {
    /// Synthetic ADDED events for the current objects first; with a closing bookmark
    /// for watch-list.
    Initial { end_bookmark: bool },
    /// Events after this revision.
    After(Revision),
}

struct Watcher {
    api: Arc<Api>,
    req: ResourceRequest,
    filter: Filter,
    cache: Arc<ResourceCache>,
    prefix: String,
    bookmarks: bool,
    tx: mpsc::Sender<Bytes>,
}

pub async fn watch(api: &Arc<Api>, req: ResourceRequest) -> Result<Reply, ApiError> {
    let filter = Filter::from_request(&req)?;
    let start = start_of(api, &req).await?;
    let timeout = match req.query.int("timeoutSeconds")? {
        Some(s) if s > 0 => Duration::from_secs(s as u64),
        _ => Duration::from_secs(rand::rng().random_range(DEFAULT_TIMEOUT_SECS)),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let watcher = Watcher {
        api: api.clone(),
        cache: api.cache.resource(&req.resource.storage_prefix()),
        prefix: req.resource.namespace_prefix(req.namespace.as_deref()),
        bookmarks: req.query.flag("allowWatchBookmarks"),
        filter,
        req,
        tx,
    };
    let (subscription_tx, subscription_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let result = watcher.run(start, timeout, subscription_tx).await;
        if let Err(error) = result {
            tracing::debug!(%error, "watch ended");
        }
    });
    // The watch is registered with the cache before the response goes out, so that a
    // client which writes right after seeing the headers gets the event.
    subscription_rx
        .await
        .map_err(|_| ApiError::internal("watch failed to start"))??;
    let body = StreamBody::new(ReceiverStream::new(rx).map(|b| Ok(Frame::data(b))));
    let mut response = http::Response::new(body.boxed());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(WATCH_CONTENT_TYPE),
    );
    headers.insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache, private"),
    );
    Ok(Reply::Stream(response))
}

async fn start_of(api: &Api, req: &ResourceRequest) -> Result<Start, ApiError> {
    let send_initial = match req.query.get("sendInitialEvents") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "invalid sendInitialEvents {v:?}"
            )));
        }
    };
    let rv = req.query.get("resourceVersion");
    if send_initial.is_some() {
        if req.query.get("resourceVersionMatch") != Some("NotOlderThan") {
            return Err(invalid_watch(
                req,
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if send_initial == Some(true) && !req.query.flag("allowWatchBookmarks") {
            return Err(invalid_watch(
                req,
                "allowWatchBookmarks",
                "sendInitialEvents requires setting allowWatchBookmarks to true",
            ));
        }
    } else if req.query.get("resourceVersionMatch").is_some() {
        return Err(invalid_watch(
            req,
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ));
    }
    let freshness = match rv {
        None => Freshness::Latest,
        Some("0") => Freshness::Any,
        Some(rv) => Freshness::NotOlderThan(crate::object::parse_resource_version(rv)?),
    };
    match (send_initial, rv) {
        (Some(true), _) => {
            freshness.wait(api).await?;
            Ok(Start::Initial { end_bookmark: true })
        }
        (Some(false), None) => Ok(Start::After(freshness.wait(api).await?)),
        (None, None | Some("0")) => {
            freshness.wait(api).await?;
            Ok(Start::Initial {
                end_bookmark: false,
            })
        }
        (_, Some(rv)) => {
            let rev = crate::object::parse_resource_version(rv)?;
            api.cache.wait_fresh(Some(rev)).await?;
            Ok(Start::After(rev))
        }
    }
}

fn invalid_watch(req: &ResourceRequest, field: &str, message: &str) -> ApiError {
    let cause = skiff_api::validation::FieldError::forbidden(field, message);
    let mut error = ApiError::invalid(&req.resource, "", vec![cause]);
    if let ApiError::Invalid { message, .. } = &mut error {
        *message =
            format!("ListOptions.meta.k8s.io \"\" is invalid: {field}: Forbidden: {message}");
    }
    error
}

impl Watcher {
    async fn run(
        self,
        start: Start,
        timeout: Duration,
        started: tokio::sync::oneshot::Sender<Result<(), ApiError>>,
    ) -> Result<(), WatchEnd> {
        let global = self.api.cache.revision();
        let (mut live, mut sent_up_to) = match start {
            Start::Initial { end_bookmark } => {
                let (snapshot, live) = self.cache.snapshot_and_subscribe(&self.prefix, global);
                let _ = started.send(Ok(()));
                for obj in snapshot
                    .objects
                    .iter()
                    .filter(|o| self.filter.matches_cached(&self.req, o))
                {
                    self.send_object(EventType::Added, obj).await?;
                }
                if end_bookmark {
                    self.send_bookmark(snapshot.revision, true).await?;
                }
                (live, snapshot.revision)
            }
            Start::After(after) => match self.cache.subscribe_after(after) {
                Ok(sub) => {
                    let _ = started.send(Ok(()));
                    for event in &sub.backlog {
                        self.send_event(event).await?;
                    }
                    (sub.live, sub.backlog.last().map_or(after, |e| e.revision))
                }
                Err(e) => {
                    let _ = started.send(Err(e));
                    return Ok(());
                }
            },
        };
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + BOOKMARK_INTERVAL,
            BOOKMARK_INTERVAL,
        );
        let global_rx = self.api.cache.revision_receiver();
        loop {
            tokio::select! {
                _ = &mut deadline => return Ok(()),
                _ = self.tx.closed() => return Ok(()),
                _ = ticker.tick(), if self.bookmarks => {
                    let (drained, revision) = self.cache.drain_for_bookmark(&mut live, &global_rx);
                    for item in drained {
                        let item = item.map_err(|e| match e {
                            broadcast::error::TryRecvError::Lagged(_) => broadcast::error::RecvError::Lagged(0),
                            _ => broadcast::error::RecvError::Closed,
                        });
                        sent_up_to = self.on_live(item, sent_up_to).await?;
                    }
                    if revision > sent_up_to {
                        self.send_bookmark(revision, false).await?;
                        sent_up_to = revision;
                    }
                }
                item = live.recv() => {
                    sent_up_to = self.on_live(item, sent_up_to).await?;
                }
            }
        }
    }

    async fn on_live(
        &self,
        item: Result<Live, broadcast::error::RecvError>,
        sent_up_to: Revision,
    ) -> Result<Revision, WatchEnd> {
        match item {
            Ok(Live::Event(event)) if event.revision > sent_up_to => {
                self.send_event(&event).await?;
                Ok(event.revision)
            }
            Ok(Live::Event(_)) => Ok(sent_up_to),
            Ok(Live::Reset) | Err(broadcast::error::RecvError::Lagged(_)) => {
                self.send_expired(sent_up_to).await?;
                Err(WatchEnd)
            }
            Err(broadcast::error::RecvError::Closed) => Err(WatchEnd),
        }
    }

    /// Sends an event if it concerns this watch, turning selector transitions into
    /// ADDED or DELETED as upstream does.
    async fn send_event(&self, event: &CacheEvent) -> Result<(), WatchEnd> {
        if !event.object.key.starts_with(&self.prefix) {
            return Ok(());
        }
        let now = self.filter.matches_cached(&self.req, &event.object);
        if event.kind != EventType::Modified {
            return if now {
                self.send_object(event.kind, &event.object).await
            } else {
                Ok(())
            };
        }
        let before = event
            .prev
            .as_ref()
            .is_some_and(|p| self.filter.matches_cached(&self.req, p));
        match (before, now) {
            (true, true) => self.send_object(EventType::Modified, &event.object).await,
            (false, true) => self.send_object(EventType::Added, &event.object).await,
            (true, false) => self.send_object(EventType::Deleted, &event.object).await,
            (false, false) => Ok(()),
        }
    }

    async fn send_object(&self, kind: EventType, obj: &CachedObject) -> Result<(), WatchEnd> {
        let line = match self.req.output {
            Output::Json => {
                let mut line = Vec::with_capacity(obj.json.len() + 40);
                line.extend_from_slice(br#"{"type":""#);
                line.extend_from_slice(kind.as_str().as_bytes());
                line.extend_from_slice(br#"","object":"#);
                let json =
                    conversion::served_json(&self.req.resource, obj).map_err(|_| WatchEnd)?;
                line.extend_from_slice(&json);
                line.extend_from_slice(b"}\n");
                line
            }
            output => {
                let value =
                    conversion::served_value(&self.req.resource, obj).map_err(|_| WatchEnd)?;
                let object = match output {
                    Output::Table(include) => {
                        table::table(&self.req.resource, &[value], include, None, None, None)
                            .map_err(|_| WatchEnd)?
                    }
                    Output::Metadata => partial_metadata(&value),
                    _ => value,
                };
                event_line(kind.as_str(), &object)
            }
        };
        self.tx.send(line.into()).await.map_err(|_| WatchEnd)
    }

    async fn send_bookmark(&self, revision: Revision, initial_end: bool) -> Result<(), WatchEnd> {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({
            "kind": self.req.resource.kind,
            "apiVersion": self.req.resource.api_version(),
            "metadata": metadata,
        });
        self.tx
            .send(event_line("BOOKMARK", &object).into())
            .await
            .map_err(|_| WatchEnd)
    }

    async fn send_expired(&self, revision: Revision) -> Result<(), WatchEnd> {
        let status = ApiError::Gone {
            message: format!("too old resource version: {revision}"),
        }
        .to_status();
        self.tx
            .send(event_line("ERROR", &status).into())
            .await
            .map_err(|_| WatchEnd)
    }
}

fn event_line(kind: &str, object: &Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    line
}

/// The client went away or the watch cannot continue.
#[derive(Debug)]
struct WatchEnd;

impl std::fmt::Display for WatchEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("watch stream closed")
    }
}
