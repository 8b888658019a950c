//! The parts of a CRD each version declares: its schema, subresources, printer columns
//! and selectable fields, checked per version or once when all versions agree.

use serde_json::Value;

use super::cel;
use super::default_rules::validate_defaults;
use super::schema::{AdditionalProperties, StructuralSchema};
use super::schema_rules::{SchemaOpts, check_schema, map_list_keys_map_set};
use super::structural::validate_structural;
use super::validate::is_non_structural;
use crate::validation::{FieldError, Path};

const COLUMN_TYPES: &str = "boolean,date,integer,number,string";
const COLUMN_FORMATS: &[&str] = &[
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
];
const MAX_SELECTABLE_FIELDS: usize = 8;

/// Which rules apply; on update, those the stored CRD already broke are relaxed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Opts {
    pub require_openapi_schema: bool,
    pub require_structural: bool,
    pub require_pruned_defaults: bool,
    pub schema: SchemaOpts,
}

impl Opts {
    /// The rules of a new CRD.
    pub fn strict() -> Opts {
        Opts {
            require_openapi_schema: true,
            require_structural: true,
            require_pruned_defaults: true,
            schema: SchemaOpts {
                require_valid_property_type: true,
                require_atomic_set_type: true,
                require_map_list_keys_map_set: true,
                compile_rules: false,
            },
        }
    }

    /// The rules of an update of a CRD whose stored spec is `old_spec`.
    pub fn ratcheted(old_spec: &Value) -> Opts {
        let schemas: Vec<StructuralSchema> = old_spec
            .get("versions")
            .and_then(Value::as_array)
            .map(|vs| {
                vs.iter()
                    .filter_map(|v| v.pointer("/schema/openAPIV3Schema"))
                    .filter(|s| !s.is_null())
                    .map(StructuralSchema::parse_unchecked)
                    .collect()
            })
            .unwrap_or_default();
        let raw: Vec<&Value> = schemas.iter().map(StructuralSchema::raw).collect();
        let any =
            |pred: &dyn Fn(&StructuralSchema) -> bool| schemas.iter().any(|s| any_node(s, pred));
        let all_have_schema = old_spec
            .get("versions")
            .and_then(Value::as_array)
            .is_none_or(|vs| {
                vs.iter().all(|v| {
                    v.pointer("/schema/openAPIV3Schema")
                        .is_some_and(|s| !s.is_null())
                })
            });
        Opts {
            require_openapi_schema: all_have_schema,
            require_structural: !raw.iter().any(|s| is_non_structural(s)),
            require_pruned_defaults: !schemas.iter().any(has_unpruned_defaults),
            schema: SchemaOpts {
                require_valid_property_type: !any(&|s| {
                    !s.type_.is_empty()
                        && !["array", "boolean", "integer", "number", "object", "string"]
                            .contains(&s.type_.as_str())
                }),
                require_atomic_set_type: !any(&non_atomic_set),
                require_map_list_keys_map_set: !any(&|s| {
                    !map_list_keys_map_set(s, &Path::new("")).is_empty()
                }),
                compile_rules: false,
            },
        }
    }
}

fn any_node(s: &StructuralSchema, pred: &dyn Fn(&StructuralSchema) -> bool) -> bool {
    pred(s)
        || s.items().is_some_and(|i| any_node(i, pred))
        || s.properties.values().any(|p| any_node(p, pred))
        || s.additional_properties_schema()
            .is_some_and(|a| any_node(a, pred))
        || s.all_of
            .iter()
            .chain(&s.any_of)
            .chain(&s.one_of)
            .any(|b| any_node(b, pred))
        || s.not().is_some_and(|n| any_node(n, pred))
}

fn non_atomic_set(s: &StructuralSchema) -> bool {
    let Some(items) = s.items().filter(|_| s.list_type.as_deref() == Some("set")) else {
        return false;
    };
    match items.type_.as_str() {
        "array" => items.list_type.as_deref().is_some_and(|t| t != "atomic"),
        "object" => items.map_type.as_deref() != Some("atomic"),
        _ => false,
    }
}

fn has_unpruned_defaults(s: &StructuralSchema) -> bool {
    any_node(s, &|n| {
        n.default.as_ref().is_some_and(|d| {
            let mut pruned = d.clone();
            super::prune::prune_fields(&mut pruned, n, n.embedded_resource);
            pruned != *d
        })
    })
}

/// The parts all versions declare identically, which upstream checks once at the top.
pub(crate) struct Hoisted<'a> {
    /// `schema` (holding `openAPIV3Schema`).
    pub validation: Option<&'a Value>,
    pub subresources: Option<&'a Value>,
    pub columns: Option<&'a Value>,
    pub selectable: Option<&'a Value>,
    schema_same: bool,
    subresources_same: bool,
    columns_same: bool,
    selectable_same: bool,
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

impl<'a> Hoisted<'a> {
    pub fn of(versions: &'a [Value]) -> Hoisted<'a> {
        let same = |key: &str| -> (bool, Option<&'a Value>) {
            let Some(first) = versions.first() else {
                return (false, None);
            };
            let f = field(first, key);
            let identical = versions.iter().all(|v| field(v, key) == f);
            (identical, if identical { f } else { None })
        };
        let (schema_same, validation) = same("schema");
        let (subresources_same, subresources) = same("subresources");
        let (columns_same, columns) = same("additionalPrinterColumns");
        let (selectable_same, selectable) = same("selectableFields");
        Hoisted {
            validation,
            subresources,
            columns,
            selectable,
            schema_same,
            subresources_same,
            columns_same,
            selectable_same,
        }
    }

    fn status_enabled_anywhere(&self, versions: &[Value]) -> bool {
        self.subresources.is_some_and(has_status)
            || versions
                .iter()
                .any(|v| field(v, "subresources").is_some_and(has_status))
    }
}

fn has_status(sub: &Value) -> bool {
    sub.get("status").is_some_and(|s| !s.is_null())
}

/// The checks of one version beyond its name.
pub(crate) fn validate_version(
    v: &Value,
    hoisted: &Hoisted,
    opts: &Opts,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    deprecation_warning(v, path, errs);
    let subresources = if hoisted.subresources_same {
        hoisted.subresources
    } else {
        field(v, "subresources")
    };
    let status = subresources.is_some_and(has_status);
    if !hoisted.schema_same
        && let Some(schema) = field(v, "schema")
    {
        validate_validation(schema, status, opts, &path.child("schema"), errs);
    }
    if !hoisted.subresources_same
        && let Some(sub) = field(v, "subresources")
    {
        validate_subresources(sub, &path.child("subresources"), errs);
    }
    if !hoisted.columns_same
        && let Some(cols) = field(v, "additionalPrinterColumns").and_then(Value::as_array)
    {
        for (i, c) in cols.iter().enumerate() {
            validate_column(c, &path.child("additionalPrinterColumns").index(i), errs);
        }
    }
    if !hoisted.selectable_same
        && let Some(fields) = field(v, "selectableFields")
    {
        let schema = field(v, "schema").or(hoisted.validation);
        validate_selectable(fields, schema, path, "selectableFields", errs);
    }
}

/// The checks of the parts all versions share, reported under `spec`.
pub(crate) fn validate_top_level(
    h: &Hoisted,
    versions: &[Value],
    opts: &Opts,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    if let Some(schema) = h.validation {
        validate_validation(
            schema,
            h.status_enabled_anywhere(versions),
            opts,
            &path.child("validation"),
            errs,
        );
    }
    if let Some(sub) = h.subresources {
        validate_subresources(sub, &path.child("subresources"), errs);
    }
    if let Some(cols) = h.columns.and_then(Value::as_array) {
        for (i, c) in cols.iter().enumerate() {
            validate_column(c, &path.child("additionalPrinterColumns").index(i), errs);
        }
    }
    if let Some(fields) = h.selectable {
        validate_selectable(fields, h.validation, path, "selectableFields", errs);
    }
}

fn deprecation_warning(v: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let deprecated = v.get("deprecated").and_then(Value::as_bool) == Some(true);
    let Some(warning) = v.get("deprecationWarning").and_then(Value::as_str) else {
        return;
    };
    let p = path.child("deprecationWarning");
    if !deprecated {
        errs.push(FieldError::invalid(
            &p,
            warning,
            "can only be set for deprecated versions",
        ));
        return;
    }
    if warning.len() > 256 {
        errs.push(FieldError::invalid(
            &p,
            warning,
            "must be <= 256 characters long",
        ));
    }
    if warning.is_empty() {
        errs.push(FieldError::invalid(
            &p,
            warning,
            "must not be an empty string",
        ));
    }
    if let Some((i, _)) = warning.char_indices().find(|(_, c)| c.is_control()) {
        errs.push(FieldError::invalid(&p, warning, &format!("must only contain printable UTF-8 characters; non-printable character found at index {i}")));
    }
}

/// Go struct order of JSONSchemaProps fields, with whether the root may set them when
/// the status subresource is enabled.
const ROOT_FIELDS: &[(&str, bool)] = &[
    ("id", false),
    ("$schema", false),
    ("$ref", false),
    ("description", true),
    ("type", true),
    ("nullable", false),
    ("format", true),
    ("title", true),
    ("default", false),
    ("maximum", true),
    ("exclusiveMaximum", true),
    ("minimum", true),
    ("exclusiveMinimum", true),
    ("maxLength", true),
    ("minLength", true),
    ("pattern", true),
    ("maxItems", true),
    ("minItems", true),
    ("uniqueItems", true),
    ("multipleOf", true),
    ("enum", false),
    ("maxProperties", false),
    ("minProperties", false),
    ("required", true),
    ("items", true),
    ("allOf", false),
    ("oneOf", false),
    ("anyOf", false),
    ("not", false),
    ("properties", true),
    ("additionalProperties", false),
    ("patternProperties", false),
    ("dependencies", false),
    ("additionalItems", false),
    ("definitions", false),
    ("externalDocs", true),
    ("example", true),
    ("x-kubernetes-preserve-unknown-fields", true),
    ("x-kubernetes-embedded-resource", false),
    ("x-kubernetes-int-or-string", false),
    ("x-kubernetes-list-map-keys", false),
    ("x-kubernetes-list-type", false),
    ("x-kubernetes-map-type", false),
    ("x-kubernetes-validations", true),
];

const ALLOWED_AT_ROOT: &str = "[Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations]";

fn root_with_status(raw: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    for (key, allowed) in ROOT_FIELDS {
        let Some(v) = raw.get(*key).filter(|v| !super::schema::is_zero(v)) else {
            continue;
        };
        if *key == "type" {
            if v.as_str() != Some("object") {
                let detail = "only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled";
                errs.push(FieldError::invalid(
                    path.child("openAPIV3Schema.type"),
                    v,
                    detail,
                ));
                return;
            }
            continue;
        }
        if !allowed {
            let detail = format!(
                "only {ALLOWED_AT_ROOT} fields are allowed at the root of the schema if the status subresource is enabled"
            );
            errs.push(FieldError::invalid(
                path.child("openAPIV3Schema"),
                raw,
                &detail,
            ));
            return;
        }
    }
}

/// The checks of a `schema` (`{openAPIV3Schema: ...}`) at `path`.
fn validate_validation(
    validation: &Value,
    status: bool,
    opts: &Opts,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let Some(raw) = field(validation, "openAPIV3Schema") else {
        return;
    };
    let mut own = Vec::new();
    if status {
        root_with_status(raw, path, &mut own);
    }
    let s = StructuralSchema::parse_unchecked(raw);
    if s.nullable {
        own.push(FieldError::forbidden(
            path.child("openAPIV3Schema.nullable"),
            "nullable cannot be true at the root",
        ));
    }
    let schema_path = path.child("openAPIV3Schema");
    let mut init = Vec::new();
    let mut compile_rules = false;
    if opts.require_structural {
        if let Some(msg) = first_unsupported(&s) {
            init.push(FieldError::invalid(&schema_path, "", &msg));
        } else {
            let structural = validate_structural(schema_path.as_str(), &s);
            if !structural.is_empty() {
                own.extend(structural);
            } else {
                let defaults = validate_defaults(&schema_path, &s, opts.require_pruned_defaults);
                compile_rules = defaults.is_empty();
                own.extend(defaults);
            }
        }
    }
    let schema_opts = SchemaOpts {
        compile_rules,
        ..opts.schema
    };
    own.extend(check_schema(&s, &schema_path, &schema_opts));
    if own.is_empty() {
        own.extend(init);
    }
    errs.extend(own);
}

/// Upstream refuses to build a structural schema from these, before any other check.
pub(crate) fn first_unsupported(s: &StructuralSchema) -> Option<String> {
    if let Some(name) = s.unsupported.first() {
        return Some(format!("OpenAPIV3Schema '{name}' is not supported"));
    }
    if s.preserve_unknown_fields == Some(false) {
        return Some(
            "internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined"
                .into(),
        );
    }
    let branches = s
        .not()
        .into_iter()
        .chain(&s.all_of)
        .chain(&s.any_of)
        .chain(&s.one_of);
    for b in branches {
        if let Some(m) = first_unsupported(b) {
            return Some(m);
        }
    }
    if s.items_is_array {
        return Some("OpenAPIV3Schema 'items' must be a schema, but is an array".into());
    }
    let children = s
        .items()
        .into_iter()
        .chain(s.properties.values())
        .chain(s.additional_properties_schema());
    for c in children {
        if let Some(m) = first_unsupported(c) {
            return Some(m);
        }
    }
    None
}

fn validate_subresources(sub: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(scale) = field(sub, "scale") else {
        return;
    };
    let check =
        |key: &str, prefixes: &[&str], detail: &str, required: bool, errs: &mut Vec<FieldError>| {
            let p = path.child(&format!("scale.{key}"));
            let value = scale.get(key).and_then(Value::as_str).unwrap_or("");
            if value.is_empty() {
                if required {
                    errs.push(FieldError::required(p));
                }
                return;
            }
            let before = errs.len();
            simple_json_path(value, &p, errs);
            if errs.len() == before && !prefixes.iter().any(|pre| value.starts_with(pre)) {
                errs.push(FieldError::invalid(p, value, detail));
            }
        };
    check(
        "specReplicasPath",
        &[".spec."],
        "should be a json path under .spec",
        true,
        errs,
    );
    check(
        "statusReplicasPath",
        &[".status."],
        "should be a json path under .status",
        true,
        errs,
    );
    check(
        "labelSelectorPath",
        &[".spec.", ".status."],
        "should be a json path under either .spec or .status",
        false,
        errs,
    );
}

fn simple_json_path(s: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if s.is_empty() {
        errs.push(FieldError::invalid(path, s, "must not be empty"));
    } else if !s.starts_with('.') {
        errs.push(FieldError::invalid(
            path,
            s,
            "must be a simple json path starting with .",
        ));
    }
}

fn validate_column(c: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let get = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
    if get("name").is_empty() {
        errs.push(FieldError::required(path.child("name")));
    }
    let detail = format!("must be one of {COLUMN_TYPES}");
    match get("type") {
        "" => errs.push(FieldError::required_because(path.child("type"), &detail)),
        t if !COLUMN_TYPES.split(',').any(|x| x == t) => {
            errs.push(FieldError::invalid(path.child("type"), t, &detail))
        }
        _ => {}
    }
    let format = get("format");
    if !format.is_empty() && !COLUMN_FORMATS.contains(&format) {
        errs.push(FieldError::invalid(
            path.child("format"),
            format,
            &format!("must be one of {}", COLUMN_FORMATS.join(",")),
        ));
    }
    let json_path = get("jsonPath");
    if json_path.is_empty() {
        errs.push(FieldError::required(path.child("JSONPath")));
    } else {
        simple_json_path(json_path, &path.child("JSONPath"), errs);
    }
}

fn validate_selectable(
    fields: &Value,
    schema: Option<&Value>,
    base: &Path,
    key: &str,
    errs: &mut Vec<FieldError>,
) {
    let path = base.child(key);
    let Some(raw) = schema.and_then(|s| field(s, "openAPIV3Schema")) else {
        errs.push(FieldError::invalid(
            &path,
            "",
            "may only be set when validations.schema is included",
        ));
        return;
    };
    let s = StructuralSchema::parse_unchecked(raw);
    let mut unique: Vec<String> = Vec::new();
    for (i, f) in fields
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .enumerate()
    {
        let p = path.index(i).child("jsonPath");
        let jp = f.get("jsonPath").and_then(Value::as_str).unwrap_or("");
        if jp.is_empty() {
            errs.push(FieldError::required(p));
            continue;
        }
        let (normalized, target) = match cel::resolve_with_schema(jp, &s, false) {
            Ok(r) => r,
            Err(e) => {
                errs.push(FieldError::invalid(
                    &p,
                    jp,
                    &format!("is an invalid path: {e}"),
                ));
                continue;
            }
        };
        if normalized.split(['.', '[']).next() == Some("metadata") {
            errs.push(FieldError::invalid(
                &p,
                jp,
                "must not point to fields in metadata",
            ));
        }
        let scalar = matches!(target.type_.as_str(), "string" | "boolean" | "integer")
            && !matches!(
                target.additional_properties,
                Some(AdditionalProperties::Schema(_))
            );
        if !scalar {
            errs.push(FieldError::invalid(&p, jp, "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed."));
        }
        if unique.contains(&normalized) {
            errs.push(FieldError::duplicate(&p, jp));
        } else {
            unique.push(normalized);
        }
    }
    if unique.len() > MAX_SELECTABLE_FIELDS {
        errs.push(FieldError::too_many(
            &path,
            unique.len(),
            MAX_SELECTABLE_FIELDS,
        ));
    }
}
