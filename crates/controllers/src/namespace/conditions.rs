//! The deletion conditions a namespace reports in `status.conditions` while it terminates.

use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::content::Sweep;

const DISCOVERY_FAILURE: &str = "NamespaceDeletionDiscoveryFailure";
const PARSING_FAILURE: &str = "NamespaceDeletionGroupVersionParsingFailure";
const CONTENT_FAILURE: &str = "NamespaceDeletionContentFailure";
const CONTENT_REMAINING: &str = "NamespaceContentRemaining";
const FINALIZERS_REMAINING: &str = "NamespaceFinalizersRemaining";

/// What a deletion pass learned, as conditions (without transition times).
#[derive(Debug)]
pub enum Outcome<'a> {
    /// Discovery failed, so nothing was deleted.
    DiscoveryFailed(&'a kube::Error),
    Swept(&'a Sweep),
}

/// Writes the conditions `outcome` implies when they differ from the namespace's;
/// returns the namespace as it now is on the server.
pub async fn record(
    client: &Client,
    namespace: &Namespace,
    outcome: Outcome<'_>,
) -> Result<Namespace, kube::Error> {
    let current = current(namespace);
    let Some(conditions) = merge(current, wanted(outcome), Time(Timestamp::now())) else {
        return Ok(namespace.clone());
    };
    let patch = json!({"status": {"conditions": conditions}});
    Api::<Namespace>::all(client.clone())
        .patch_status(
            &namespace.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
}

fn current(namespace: &Namespace) -> &[NamespaceCondition] {
    namespace
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
}

fn wanted(outcome: Outcome<'_>) -> Vec<NamespaceCondition> {
    match outcome {
        Outcome::DiscoveryFailed(error) => vec![condition(
            DISCOVERY_FAILURE,
            true,
            "DiscoveryFailed",
            format!("resource discovery failed: {error}"),
        )],
        Outcome::Swept(sweep) => swept(sweep),
    }
}

fn swept(sweep: &Sweep) -> Vec<NamespaceCondition> {
    let failed: Vec<_> = sweep
        .failures
        .iter()
        .map(|f| format!("{}: {}", f.resource, f.source))
        .collect();
    let remaining: Vec<_> = sweep
        .remaining
        .iter()
        .map(|(resource, n)| format!("{n} {resource}"))
        .collect();
    let finalizers: Vec<_> = sweep
        .finalizers
        .iter()
        .map(|(finalizer, n)| format!("{finalizer} ({n})"))
        .collect();
    vec![
        condition(
            DISCOVERY_FAILURE,
            false,
            "ResourcesDiscovered",
            "every resource was discovered".into(),
        ),
        condition(
            PARSING_FAILURE,
            false,
            "ParsedGroupVersions",
            "every group version was parsed".into(),
        ),
        either(
            CONTENT_FAILURE,
            &failed,
            ("ContentDeletionFailed", "failed to delete"),
            (
                "ContentDeleted",
                "all content was deleted, some may still be finalizing",
            ),
        ),
        either(
            CONTENT_REMAINING,
            &remaining,
            ("SomeResourcesRemain", "some resources remain"),
            ("ContentRemoved", "all content was removed"),
        ),
        either(
            FINALIZERS_REMAINING,
            &finalizers,
            (
                "SomeFinalizersRemain",
                "some content has finalizers remaining",
            ),
            (
                "ContentHasNoFinalizers",
                "no content has finalizers remaining",
            ),
        ),
    ]
}

/// A condition that is true, listing `items`, when there are any.
fn either(
    kind: &str,
    items: &[String],
    (true_reason, true_message): (&str, &str),
    (false_reason, false_message): (&str, &str),
) -> NamespaceCondition {
    if items.is_empty() {
        condition(kind, false, false_reason, false_message.into())
    } else {
        let message = format!("{true_message}: {}", items.join(", "));
        condition(kind, true, true_reason, message)
    }
}

fn condition(kind: &str, status: bool, reason: &str, message: String) -> NamespaceCondition {
    NamespaceCondition {
        type_: kind.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: None,
    }
}

/// The namespace's conditions with `wanted` applied, or `None` when nothing changes.
/// A condition keeps its transition time unless its status flips.
fn merge(
    current: &[NamespaceCondition],
    wanted: Vec<NamespaceCondition>,
    now: Time,
) -> Option<Vec<NamespaceCondition>> {
    let mut merged = current.to_vec();
    let mut changed = false;
    for mut want in wanted {
        match merged.iter_mut().find(|c| c.type_ == want.type_) {
            Some(have) if same(have, &want) => {}
            Some(have) => {
                want.last_transition_time = if have.status == want.status {
                    have.last_transition_time.clone()
                } else {
                    Some(now.clone())
                };
                *have = want;
                changed = true;
            }
            None => {
                want.last_transition_time = Some(now.clone());
                merged.push(want);
                changed = true;
            }
        }
    }
    changed.then_some(merged)
}

fn same(a: &NamespaceCondition, b: &NamespaceCondition) -> bool {
    a.status == b.status && a.reason == b.reason && a.message == b.message
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::namespace::content::Failure;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).expect("valid timestamp"))
    }

    fn find<'a>(conditions: &'a [NamespaceCondition], kind: &str) -> &'a NamespaceCondition {
        conditions
            .iter()
            .find(|c| c.type_ == kind)
            .expect("condition present")
    }

    #[test]
    fn a_clean_sweep_sets_every_condition_false() {
        let conditions = wanted(Outcome::Swept(&Sweep::default()));
        assert_eq!(conditions.len(), 5);
        assert!(conditions.iter().all(|c| c.status == "False"));
        assert_eq!(
            find(&conditions, CONTENT_REMAINING).reason.as_deref(),
            Some("ContentRemoved")
        );
    }

    #[test]
    fn remaining_objects_and_finalizers_are_named_in_the_messages() {
        let sweep = Sweep {
            failures: Vec::new(),
            remaining: BTreeMap::from([("configmaps".into(), 2)]),
            finalizers: BTreeMap::from([("example.com/hold".into(), 1)]),
        };
        let conditions = wanted(Outcome::Swept(&sweep));
        let remaining = find(&conditions, CONTENT_REMAINING);
        assert_eq!(remaining.status, "True");
        assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
        assert!(
            remaining
                .message
                .as_deref()
                .is_some_and(|m| m.ends_with(": 2 configmaps"))
        );
        let finalizers = find(&conditions, FINALIZERS_REMAINING);
        assert_eq!(finalizers.reason.as_deref(), Some("SomeFinalizersRemain"));
        assert!(
            finalizers
                .message
                .as_deref()
                .is_some_and(|m| m.ends_with(": example.com/hold (1)"))
        );
    }

    #[test]
    fn failed_deletions_set_the_content_failure_condition() {
        let sweep = Sweep {
            failures: vec![Failure {
                resource: "secrets".into(),
                source: kube::Error::LinesCodecMaxLineLengthExceeded,
            }],
            ..Sweep::default()
        };
        let conditions = wanted(Outcome::Swept(&sweep));
        let failure = find(&conditions, CONTENT_FAILURE);
        assert_eq!(failure.status, "True");
        assert_eq!(failure.reason.as_deref(), Some("ContentDeletionFailed"));
    }

    #[test]
    fn a_discovery_failure_touches_only_the_discovery_condition() {
        let error = kube::Error::LinesCodecMaxLineLengthExceeded;
        let conditions = wanted(Outcome::DiscoveryFailed(&error));
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].type_, DISCOVERY_FAILURE);
        assert_eq!(conditions[0].status, "True");
    }

    #[test]
    fn unchanged_conditions_need_no_write() {
        let first = merge(&[], wanted(Outcome::Swept(&Sweep::default())), at(10))
            .expect("new conditions are written");
        assert!(merge(&first, wanted(Outcome::Swept(&Sweep::default())), at(20)).is_none());
    }

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let busy = Sweep {
            remaining: BTreeMap::from([("configmaps".into(), 2)]),
            ..Sweep::default()
        };
        let fewer = Sweep {
            remaining: BTreeMap::from([("configmaps".into(), 1)]),
            ..Sweep::default()
        };
        let first = merge(&[], wanted(Outcome::Swept(&busy)), at(10)).expect("written");
        let second = merge(&first, wanted(Outcome::Swept(&fewer)), at(20)).expect("written");
        assert_eq!(
            find(&second, CONTENT_REMAINING).last_transition_time,
            Some(at(10))
        );
        let third =
            merge(&second, wanted(Outcome::Swept(&Sweep::default())), at(30)).expect("written");
        assert_eq!(
            find(&third, CONTENT_REMAINING).last_transition_time,
            Some(at(30))
        );
        assert_eq!(
            find(&third, DISCOVERY_FAILURE).last_transition_time,
            Some(at(10))
        );
    }
}
