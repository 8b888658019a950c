//! Why a server-side apply failed, with upstream's messages and status codes.

use std::fmt;

use super::managed::{ManagedFieldsEntry, Operation};
use super::path::Path;
use super::typed::ValidationErrors;
use crate::gojson::go_quote;

/// A field the apply would change that another manager owns.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub subresource: Option<String>,
    pub path: Path,
}

impl Conflict {
    pub(super) fn new(owner: &ManagedFieldsEntry, path: Path) -> Conflict {
        Conflict {
            manager: owner.manager.clone(),
            operation: owner.operation,
            api_version: owner.api_version.clone(),
            subresource: owner.subresource.clone(),
            path,
        }
    }

    /// The owner as upstream names it: `"kubectl"`, `"kube-controller-manager" using
    /// apps/v1`, `"m" with subresource "status"`.
    pub fn owner(&self) -> String {
        let mut out = go_quote(&self.manager);
        if let Some(subresource) = self.subresource.as_deref().filter(|s| !s.is_empty()) {
            out.push_str(" with subresource ");
            out.push_str(&go_quote(subresource));
        }
        if self.operation == Operation::Update {
            out.push_str(" using ");
            out.push_str(&self.api_version);
        }
        out
    }

    /// The message of the conflict's cause in the Status (`conflict with "kubectl"`).
    pub fn message(&self) -> String {
        format!("conflict with {}", self.owner())
    }

    /// The field of the conflict's cause in the Status (`.spec.replicas`).
    pub fn field(&self) -> String {
        self.path.to_string()
    }

    /// Upstream's identifier of the owner, which orders managers in messages.
    fn identifier(&self) -> String {
        ManagedFieldsEntry {
            manager: self.manager.clone(),
            operation: self.operation,
            api_version: self.api_version.clone(),
            time: None,
            fields: Default::default(),
            subresource: self.subresource.clone(),
        }
        .identifier()
    }
}

/// The conflicts of an apply, rendered as upstream's Status message.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflicts(pub Vec<Conflict>);

impl fmt::Display for Conflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.0.as_slice() {
            return write!(
                f,
                "Apply failed with 1 conflict: conflict with {}: {}",
                only.owner(),
                only.path
            );
        }

        // Grouped by owner, owners sorted by identifier, paths in the order found.
        let mut owners: Vec<(String, &Conflict)> = Vec::new();
        for conflict in &self.0 {
            let id = conflict.identifier();
            if !owners.iter().any(|(o, _)| *o == id) {
                owners.push((id, conflict));
            }
        }
        owners.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lines = Vec::new();
        for (id, first) in &owners {
            lines.push(format!("conflicts with {}:", first.owner()));
            for conflict in self.0.iter().filter(|c| c.identifier() == *id) {
                lines.push(format!("- {}", conflict.path));
            }
        }
        write!(
            f,
            "Apply failed with {} conflicts: {}",
            self.0.len(),
            lines.join("\n")
        )
    }
}

/// Why a server-side apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Other managers own fields the apply would change; retry with force to take them.
    #[error("{0}")]
    Conflicts(Conflicts),
    /// The applied configuration is not a JSON object.
    #[error(
        "error decoding patch: json: cannot unmarshal {0} into Go value of type map[string]interface {{}}"
    )]
    NotAnObject(&'static str),
    /// The configuration's apiVersion and kind are not the request's.
    #[error("invalid object type: {0}")]
    WrongKind(String),
    /// The configuration sets `metadata.managedFields`.
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsSet,
    /// The configuration does not fit the schema (duplicate or missing list keys, wrong
    /// types).
    #[error("failed to create typed patch object ({object}): {errors}")]
    InvalidConfig {
        /// `namespace/name; group/version, Kind=kind` of the configuration.
        object: String,
        errors: ValidationErrors,
    },
    /// The live object's `metadata.managedFields` cannot be read.
    #[error("failed to decode managed fields: {0}")]
    InvalidManagedFields(String),
    /// The live object cannot be merged with (an associative list item without keys).
    #[error("failed to merge config: {0}")]
    Merge(String),
}

impl ApplyError {
    /// The HTTP status upstream answers with: 409 for conflicts (reason Conflict, one
    /// `FieldManagerConflict` cause per conflict), 400 for malformed requests, 500 for the
    /// rest, which upstream passes on as plain errors.
    pub fn status_code(&self) -> u16 {
        match self {
            ApplyError::Conflicts(_) => 409,
            ApplyError::NotAnObject(_)
            | ApplyError::WrongKind(_)
            | ApplyError::ManagedFieldsSet => 400,
            ApplyError::InvalidConfig { .. }
            | ApplyError::InvalidManagedFields(_)
            | ApplyError::Merge(_) => 500,
        }
    }

    /// The conflicts, when that is why the apply failed.
    pub fn conflicts(&self) -> &[Conflict] {
        match self {
            ApplyError::Conflicts(conflicts) => &conflicts.0,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::apply::path::PathElement;

    fn path(parts: &[&str]) -> Path {
        Path(parts.iter().map(|p| PathElement::field(p)).collect())
    }

    fn conflict(manager: &str, operation: Operation, parts: &[&str]) -> Conflict {
        Conflict {
            manager: manager.into(),
            operation,
            api_version: "apps/v1".into(),
            subresource: None,
            path: path(parts),
        }
    }

    #[test]
    fn one_conflict_reads_like_upstream() {
        let error = ApplyError::Conflicts(Conflicts(vec![conflict(
            "kubectl-client-side-apply",
            Operation::Update,
            &["spec", "replicas"],
        )]));
        assert_eq!(
            error.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using \
             apps/v1: .spec.replicas"
        );
        assert_eq!(error.status_code(), 409);
        assert_eq!(
            error.conflicts()[0].message(),
            "conflict with \"kubectl-client-side-apply\" using apps/v1"
        );
    }

    #[test]
    fn several_conflicts_are_grouped_by_manager() {
        let mut status_owner = conflict("status-writer", Operation::Apply, &["spec", "paused"]);
        status_owner.subresource = Some("status".into());
        let error = Conflicts(vec![
            conflict("kubectl", Operation::Update, &["spec", "replicas"]),
            conflict("helm", Operation::Apply, &["metadata", "labels", "a"]),
            conflict("kubectl", Operation::Update, &["spec", "minReadySeconds"]),
            status_owner,
        ]);
        assert_eq!(
            error.to_string(),
            "Apply failed with 4 conflicts: conflicts with \"helm\":\n\
             - .metadata.labels.a\n\
             conflicts with \"kubectl\" using apps/v1:\n\
             - .spec.replicas\n\
             - .spec.minReadySeconds\n\
             conflicts with \"status-writer\" with subresource \"status\":\n\
             - .spec.paused"
        );
    }

    #[test]
    fn keys_in_conflicting_paths_print_quoted() {
        let mut c = conflict("m", Operation::Apply, &["spec", "containers"]);
        c.path
            .0
            .push(PathElement::key(vec![("name".into(), json!("nginx"))]));
        c.path.0.push(PathElement::field("image"));
        assert_eq!(c.field(), ".spec.containers[name=\"nginx\"].image");
    }
}
