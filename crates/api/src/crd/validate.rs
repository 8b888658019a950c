//! Validation of CustomResourceDefinitions on create and update, with upstream's field
//! paths and messages. Like upstream, a part every version declares identically (the
//! schema, subresources, printer columns, selectable fields) is checked once and
//! reported under `spec.validation`, `spec.subresources`, `spec.additionalPrinterColumns`
//! or `spec.selectableFields`; parts that differ are reported per version.

use serde_json::Value;

use super::conditions::{ESTABLISHED, is_condition_true};
use super::names::{self, mask_trailing_dash};
use super::schema::StructuralSchema;
use super::version_rules::{self, Opts};
use crate::validation::{FieldError, Path};

/// Errors of a new CRD (after the API server set its status, see
/// [`super::prepare_for_create`]).
pub fn validate_crd(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_name(crd, &mut errs);
    validate_spec(
        crd.get("spec").unwrap_or(&Value::Null),
        &Opts::strict(),
        &mut errs,
    );
    validate_status(crd, &mut errs);
    validate_api_approval(crd, None, &mut errs);
    validate_preserve_unknown_fields(crd, None, &mut errs);
    errs
}

/// Errors of an updated CRD. Rules the stored CRD already broke (a non-structural
/// schema, unpruned defaults...) are not enforced again, as upstream ratchets them.
pub fn validate_crd_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let meta = Path::new("metadata");
    for field in ["name", "uid", "creationTimestamp"] {
        immutable(
            new.pointer(&format!("/metadata/{field}")),
            old.pointer(&format!("/metadata/{field}")),
            &meta.child(field),
            &mut errs,
        );
    }
    let spec = new.get("spec").unwrap_or(&Value::Null);
    let old_spec = old.get("spec").unwrap_or(&Value::Null);
    let opts = Opts::ratcheted(old_spec);
    validate_spec(spec, &opts, &mut errs);
    let path = Path::new("spec");
    if is_condition_true(old, ESTABLISHED) {
        immutable(
            spec.get("scope"),
            old_spec.get("scope"),
            &path.child("scope"),
            &mut errs,
        );
        immutable(
            spec.pointer("/names/kind"),
            old_spec.pointer("/names/kind"),
            &path.child("names").child("kind"),
            &mut errs,
        );
    }
    immutable(
        spec.get("group"),
        old_spec.get("group"),
        &path.child("group"),
        &mut errs,
    );
    immutable(
        spec.pointer("/names/plural"),
        old_spec.pointer("/names/plural"),
        &path.child("names").child("plural"),
        &mut errs,
    );
    validate_status(new, &mut errs);
    validate_api_approval(new, Some(old), &mut errs);
    validate_preserve_unknown_fields(new, Some(old), &mut errs);
    errs
}

fn immutable(new: Option<&Value>, old: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    let new = new.filter(|v| !v.is_null());
    let old = old.filter(|v| !v.is_null());
    if new != old {
        errs.push(FieldError::invalid(
            path,
            new.unwrap_or(&Value::Null),
            "field is immutable",
        ));
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// `metadata.name` must be `<plural>.<group>` and a DNS subdomain; CRDs have no namespace.
fn validate_name(crd: &Value, errs: &mut Vec<FieldError>) {
    let required = format!(
        "{}.{}",
        str_at(crd, "/spec/names/plural"),
        str_at(crd, "/spec/group")
    );
    let check = |name: &str, prefix: bool| -> Vec<String> {
        let subject = if prefix {
            mask_trailing_dash(name)
        } else {
            name.to_string()
        };
        let mut msgs = names::dns1123_subdomain(&subject);
        if name != required {
            msgs.push("must be spec.names.plural+\".\"+spec.group".to_string());
        }
        msgs
    };
    let meta = Path::new("metadata");
    let metadata = crd.get("metadata").unwrap_or(&Value::Null);
    crate::validation::meta::check_names_with(metadata, &meta, check, errs);
    if !str_at(crd, "/metadata/namespace").is_empty() {
        errs.push(FieldError::forbidden(
            meta.child("namespace"),
            "not allowed on this type",
        ));
    }
}

fn validate_spec(spec: &Value, opts: &Opts, errs: &mut Vec<FieldError>) {
    let path = Path::new("spec");
    validate_group(str_at(spec, "/group"), &path.child("group"), errs);
    match str_at(spec, "/scope") {
        "" => errs.push(FieldError::required(path.child("scope"))),
        "Cluster" | "Namespaced" => {}
        other => errs.push(FieldError::not_supported(
            path.child("scope"),
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    let versions: &[Value] = spec
        .get("versions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let hoisted = version_rules::Hoisted::of(versions);
    let preserve = spec.get("preserveUnknownFields").and_then(Value::as_bool) == Some(true);
    if opts.require_openapi_schema && hoisted.validation.is_none() {
        for (i, v) in versions.iter().enumerate() {
            if v.pointer("/schema/openAPIV3Schema")
                .is_none_or(Value::is_null)
            {
                errs.push(FieldError::required(
                    path.child("versions")
                        .index(i)
                        .child("schema")
                        .child("openAPIV3Schema"),
                ));
            }
        }
    }
    if preserve
        && versions.iter().any(|v| {
            v.pointer("/schema/openAPIV3Schema")
                .is_some_and(schema_has_defaults)
        })
    {
        errs.push(FieldError::invalid(
            path.child("preserveUnknownFields"),
            true,
            "must be false in order to use defaults in the schema",
        ));
    }
    validate_versions(versions, &hoisted, opts, &path, errs);
    validate_names(
        spec.get("names").unwrap_or(&Value::Null),
        &path.child("names"),
        true,
        errs,
    );
    version_rules::validate_top_level(&hoisted, versions, opts, &path, errs);
    validate_conversion(spec, preserve, &path.child("conversion"), errs);
}

fn validate_group(group: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if group.is_empty() {
        errs.push(FieldError::required(path));
        return;
    }
    let problems = names::dns1123_subdomain(group);
    if !problems.is_empty() {
        errs.push(FieldError::invalid(path, group, &problems.join(",")));
    } else if !group.contains('.') {
        errs.push(FieldError::invalid(
            path,
            group,
            "should be a domain with at least one dot",
        ));
    }
}

fn validate_versions(
    versions: &[Value],
    hoisted: &version_rules::Hoisted,
    opts: &Opts,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let mut storage = 0;
    let mut seen: Vec<&str> = Vec::new();
    let mut unique = true;
    for (i, v) in versions.iter().enumerate() {
        let name = str_at(v, "/name");
        if v.get("storage").and_then(Value::as_bool) == Some(true) {
            storage += 1;
        }
        if seen.contains(&name) {
            unique = false;
        } else {
            seen.push(name);
        }
        let vpath = path.child("versions").index(i);
        let problems = names::dns1035_label(name);
        if !problems.is_empty() {
            errs.push(FieldError::invalid(
                vpath.child("name"),
                name,
                &problems.join(","),
            ));
        }
        version_rules::validate_version(v, hoisted, opts, &vpath, errs);
    }
    let all = Value::from(versions.to_vec());
    if !unique {
        errs.push(FieldError::invalid(
            path.child("versions"),
            &all,
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        errs.push(FieldError::invalid(
            path.child("versions"),
            &all,
            "must have exactly one version marked as storage version",
        ));
    }
    if let Some(first) = versions
        .first()
        .map(|v| str_at(v, "/name"))
        .filter(|n| !n.is_empty())
    {
        let problems = names::dns1035_label(first);
        if !problems.is_empty() {
            errs.push(FieldError::invalid(
                path.child("version"),
                first,
                &problems.join(","),
            ));
        }
    }
}

/// `spec.names` (`required`) or `status.acceptedNames`.
fn validate_names(names_v: &Value, path: &Path, required: bool, errs: &mut Vec<FieldError>) {
    let get = |k: &str| str_at(names_v, &format!("/{k}"));
    if required {
        for (k, field) in [
            ("plural", "plural"),
            ("singular", "singular"),
            ("kind", "kind"),
            ("listKind", "listKind"),
        ] {
            if get(k).is_empty() {
                errs.push(FieldError::required(path.child(field)));
            }
        }
    }
    for field in ["plural", "singular"] {
        let v = get(field);
        let problems = names::dns1035_label(v);
        if !v.is_empty() && !problems.is_empty() {
            errs.push(FieldError::invalid(
                path.child(field),
                v,
                &problems.join(","),
            ));
        }
    }
    for field in ["kind", "listKind"] {
        let v = get(field);
        let problems = names::dns1035_label(&v.to_lowercase());
        if !v.is_empty() && !problems.is_empty() {
            let detail = format!(
                "may have mixed case, but should otherwise match: {}",
                problems.join(",")
            );
            errs.push(FieldError::invalid(path.child(field), v, &detail));
        }
    }
    validate_name_lists(names_v, path, errs);
}

/// `shortNames`, `categories`, and `listKind` against `kind`.
fn validate_name_lists(names_v: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let get = |k: &str| str_at(names_v, &format!("/{k}"));
    let list = |k: &str| -> Vec<String> {
        names_v
            .get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|x| x.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    for (i, short) in list("shortNames").iter().enumerate() {
        let problems = names::dns1035_label(short);
        if !problems.is_empty() {
            errs.push(FieldError::invalid(
                path.child("shortNames").index(i),
                short,
                &problems.join(","),
            ));
        }
    }
    if !get("kind").is_empty() && get("kind") == get("listKind") {
        errs.push(FieldError::invalid(
            path.child("listKind"),
            get("listKind"),
            "kind and listKind may not be the same",
        ));
    }
    for (i, cat) in list("categories").iter().enumerate() {
        let problems = names::dns1035_label(cat);
        if !problems.is_empty() {
            errs.push(FieldError::invalid(
                path.child("categories").index(i),
                cat,
                &problems.join(","),
            ));
        }
    }
}

fn validate_conversion(spec: &Value, preserve: bool, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(conv) = spec.get("conversion").filter(|c| !c.is_null()) else {
        return;
    };
    let strategy = str_at(conv, "/strategy");
    if strategy != "None" && preserve {
        errs.push(FieldError::invalid(
            path.child("strategy"),
            strategy,
            "must be None if spec.preserveUnknownFields is true",
        ));
    }
    match strategy {
        "" => errs.push(FieldError::required(path.child("strategy"))),
        "None" => {
            let set = |p: &str| conv.pointer(p).is_some_and(|v| !super::schema::is_zero(v));
            let detail = "should not be set when strategy is not set to Webhook";
            if set("/webhook/clientConfig") {
                errs.push(FieldError::forbidden(path.child("webhookClientConfig"), detail));
            }
            if set("/webhook/conversionReviewVersions") {
                errs.push(FieldError::forbidden(path.child("conversionReviewVersions"), detail));
            }
        }
        "Webhook" => errs.push(FieldError::forbidden(
            path.child("strategy"),
            "skiff does not support conversion webhooks: use strategy None (all versions must share one schema-compatible representation)",
        )),
        other => errs.push(FieldError::not_supported(path.child("strategy"), other, &["None", "Webhook"])),
    }
}

fn validate_status(crd: &Value, errs: &mut Vec<FieldError>) {
    let status = Path::new("status");
    if let Some(accepted) = crd.pointer("/status/acceptedNames") {
        validate_names(accepted, &status.child("acceptedNames"), false, errs);
    }
    let versions: Vec<&Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let stored_v = crd
        .pointer("/status/storedVersions")
        .cloned()
        .unwrap_or(Value::Null);
    let stored: Vec<&str> = stored_v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let path = status.child("storedVersions");
    if stored.is_empty() {
        errs.push(FieldError::invalid(
            &path,
            &stored_v,
            "must have at least one stored version",
        ));
        return;
    }
    for v in &versions {
        let name = str_at(v, "/name");
        if v.get("storage").and_then(Value::as_bool) == Some(true) && !stored.contains(&name) {
            errs.push(FieldError::invalid(
                &path,
                &stored_v,
                &format!("must have the storage version {name}"),
            ));
        }
    }
    for (i, s) in stored.iter().enumerate() {
        if !versions.iter().any(|v| str_at(v, "/name") == *s) {
            let detail = format!(
                "missing from spec.versions; {s} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {s} and removes {s} from status.storedVersions"
            );
            errs.push(FieldError::invalid(path.index(i), *s, &detail));
        }
    }
}

fn schema_has_defaults(schema: &Value) -> bool {
    match schema {
        Value::Object(m) => {
            m.get("default").is_some_and(|d| !d.is_null())
                || m.iter().any(|(k, v)| {
                    k != "default" && k != "enum" && k != "example" && schema_has_defaults(v)
                })
        }
        Value::Array(a) => a.iter().any(schema_has_defaults),
        _ => false,
    }
}

const APPROVAL: &str = "api-approved.kubernetes.io";

/// Groups under `k8s.io` and `kubernetes.io` need the API approval annotation.
fn validate_api_approval(crd: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let group = str_at(crd, "/spec/group");
    let protected = ["k8s.io", "kubernetes.io"]
        .iter()
        .any(|d| group == *d || group.ends_with(&format!(".{d}")));
    if !protected {
        return;
    }
    let annotation = |o: &Value| -> String {
        o.pointer("/metadata/annotations")
            .and_then(|a| a.get(APPROVAL))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let state = |a: &str| -> u8 {
        if a.is_empty() {
            0
        } else if a.starts_with("unapproved") {
            1
        } else if is_url(a) {
            2
        } else {
            3
        }
    };
    let new_annotation = annotation(crd);
    let new_state = state(&new_annotation);
    if old.is_some_and(|o| state(&annotation(o)) == new_state) {
        return;
    }
    let path = Path::new("metadata").child("annotations").key(APPROVAL);
    let link = "see https://github.com/kubernetes/enhancements/pull/1111";
    match new_state {
        0 => errs.push(FieldError::required_because(path, &format!("protected groups must have approval annotation \"{APPROVAL}\", {link}"))),
        3 => errs.push(FieldError::invalid(
            path,
            new_annotation.as_str(),
            &format!("protected groups must have approval annotation \"{APPROVAL}\" with either a URL or a reason starting with \"unapproved\", {link}"),
        )),
        _ => {}
    }
}

fn is_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && rest.split('/').next().is_some_and(|h| !h.is_empty())
}

fn validate_preserve_unknown_fields(crd: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let is_true = |o: &Value| {
        o.pointer("/spec/preserveUnknownFields")
            .and_then(Value::as_bool)
            == Some(true)
    };
    if old.is_some_and(is_true) {
        return;
    }
    if is_true(crd) {
        errs.push(FieldError::invalid(
            Path::new("spec").child("preserveUnknownFields"),
            true,
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ));
    }
}

/// Whether a stored schema is not structural (such CRDs keep being accepted on update).
pub(crate) fn is_non_structural(schema: &Value) -> bool {
    StructuralSchema::parse(schema).is_err()
        || version_rules::first_unsupported(&StructuralSchema::parse_unchecked(schema)).is_some()
}
