//! CustomResourceDefinitions: validation of CRDs, their structural schemas, and what
//! those schemas do to custom resources (pruning, defaulting, validation including
//! `x-kubernetes-validations` CEL rules), plus CRD status (names and conditions) and the
//! scale subresource.
//!
//! The API server calls, for a CRD: [`prepare_for_create`] / [`prepare_for_update`],
//! then [`validate_crd`] / [`validate_crd_update`]; the naming controller calls
//! [`compute_names`]. For a custom resource of a version with schema `s`
//! ([`StructuralSchema::parse`]): [`prune`] (its paths feed strict field validation's
//! `unknown field "..."`), [`default`], then [`validate`] / [`validate_update`] with
//! [`validate_metadata_names`] and [`CrdInfo::validate_type_meta`].

mod apply_schema;
mod cel;
mod conditions;
mod default_rules;
mod defaults;
mod embedded;
mod formats;
mod info;
mod listtype;
mod names;
mod object;
mod prune;
mod scale;
mod schema;
mod schema_rules;
mod structural;
mod validate;
mod values;
mod version_rules;

pub use apply_schema::CustomApplySchema;
pub use cel::{OLD_SELF, SELF, escape as escape_property_name};
pub use conditions::{
    Condition, ESTABLISHED, NAMES_ACCEPTED, NamesOutcome, TERMINATING, TakenNames, compute_names,
    established, find_condition, is_condition_true, prepare_for_create, prepare_for_update,
    set_accepted_names, set_condition, terminating_completed, terminating_failed,
    terminating_in_progress, terminating_pending,
};
pub use defaults::default;
pub use info::{CrdInfo, CrdNames, CrdVersion, PrinterColumn, ScaleSubresource, Subresources};
pub use object::{validate, validate_metadata_names, validate_update};
pub use prune::prune;
pub use scale::{ScaleValues, get_path, read_scale, set_path, validate_scale, write_spec_replicas};
pub use schema::{AdditionalProperties, NotStructural, StructuralSchema, ValidationRule};
pub use validate::{validate_crd, validate_crd_update};

#[cfg(test)]
mod tests;
