//! The parameters of the operations: path parameters and upstream's query parameters,
//! grouped by the verbs that accept them.

use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Location {
    Path,
    Query,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ParamType {
    String,
    Integer,
    Boolean,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Param {
    pub name: &'static str,
    pub location: Location,
    pub ty: ParamType,
    pub description: Cow<'static, str>,
}

const fn query(name: &'static str, ty: ParamType, description: &'static str) -> Param {
    Param {
        name,
        location: Location::Query,
        ty,
        description: Cow::Borrowed(description),
    }
}

use ParamType::{Boolean, Integer, String as Str};

pub(super) const PRETTY: Param = query("pretty", Str, "When 'true', the response is indented.");
const DRY_RUN: Param = query(
    "dryRun",
    Str,
    "'All' runs every stage of the request without persisting its result.",
);
const FIELD_MANAGER: Param = query(
    "fieldManager",
    Str,
    "Name of the actor making the change, recorded in managedFields (at most 128 printable characters). Required for apply patches.",
);
const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    Str,
    "What to do with unknown or duplicate fields in the body: Ignore drops them, Warn drops them with a warning header, Strict rejects the request.",
);
const FORCE: Param = query(
    "force",
    Boolean,
    "For apply patches only: take over fields that other managers own instead of failing with a conflict.",
);
const LABEL_SELECTOR: Param = query(
    "labelSelector",
    Str,
    "Only objects whose labels match this selector; all objects when absent.",
);
const FIELD_SELECTOR: Param = query(
    "fieldSelector",
    Str,
    "Only objects whose fields match this selector; all objects when absent.",
);
const LIMIT: Param = query(
    "limit",
    Integer,
    "Largest number of objects to return. When more remain, the list metadata carries a continue token for the next chunk. Not supported with watch.",
);
const CONTINUE: Param = query(
    "continue",
    Str,
    "The continue token of a previous limited list with the same parameters, to fetch its next chunk. An expired token is answered with 410 Gone.",
);
const RESOURCE_VERSION: Param = query(
    "resourceVersion",
    Str,
    "Which resource version the request may be served from; for a watch, the version to start after.",
);
const RESOURCE_VERSION_MATCH: Param = query(
    "resourceVersionMatch",
    Str,
    "How resourceVersion applies to a list: Exact or NotOlderThan.",
);
const SEND_INITIAL_EVENTS: Param = query(
    "sendInitialEvents",
    Boolean,
    "For a watch with resourceVersionMatch=NotOlderThan: start with an ADDED event per existing object, then a BOOKMARK annotated k8s.io/initial-events-end.",
);
const TIMEOUT_SECONDS: Param = query(
    "timeoutSeconds",
    Integer,
    "Ends the list or watch call after this many seconds.",
);
const WATCH: Param = query(
    "watch",
    Boolean,
    "Stream changes to the selected objects as watch events instead of returning a list.",
);
const ALLOW_WATCH_BOOKMARKS: Param = query(
    "allowWatchBookmarks",
    Boolean,
    "Lets the server send BOOKMARK events on a watch; ignored otherwise.",
);
const GRACE_PERIOD_SECONDS: Param = query(
    "gracePeriodSeconds",
    Integer,
    "Seconds the object gets before it is deleted; 0 deletes at once, absent uses the kind's default.",
);
const ORPHAN_DEPENDENTS: Param = query(
    "orphanDependents",
    Boolean,
    "Deprecated in favour of propagationPolicy: when true, dependents are orphaned. Not both may be set.",
);
const PROPAGATION_POLICY: Param = query(
    "propagationPolicy",
    Str,
    "What happens to dependents: Orphan leaves them, Background deletes them after the owner, Foreground before it.",
);

pub(super) const LIST_PARAMS: &[Param] = &[
    ALLOW_WATCH_BOOKMARKS,
    CONTINUE,
    FIELD_SELECTOR,
    LABEL_SELECTOR,
    LIMIT,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
    WATCH,
];
/// The GetOptions apiextensions-apiserver documents on reads of custom resources.
pub(super) const GET_PARAMS: &[Param] = &[RESOURCE_VERSION];
pub(super) const WRITE_PARAMS: &[Param] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
pub(super) const PATCH_PARAMS: &[Param] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];
pub(super) const DELETE_PARAMS: &[Param] = &[
    DRY_RUN,
    GRACE_PERIOD_SECONDS,
    ORPHAN_DEPENDENTS,
    PROPAGATION_POLICY,
];
pub(super) const DELETE_COLLECTION_PARAMS: &[Param] = &[
    CONTINUE,
    DRY_RUN,
    FIELD_SELECTOR,
    GRACE_PERIOD_SECONDS,
    LABEL_SELECTOR,
    LIMIT,
    ORPHAN_DEPENDENTS,
    PROPAGATION_POLICY,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
];
