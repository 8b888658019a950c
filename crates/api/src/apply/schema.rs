//! What server-side apply needs to know of a type: at each position of an object, whether
//! the value there is owned as a whole or piece by piece. [`ApplySchema`] abstracts it so
//! that built-in kinds ([`builtin_schema`]) and custom resources share one merge.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::builtin_types::{
    ATOMIC_MAP_FIELDS, ATOMIC_TYPES, GRANULAR_STRUCT_FIELDS, UNTYPED_ATOMIC_TYPES, associative_list,
};
use crate::patch::type_graph::{self, definition_name, patch_target_definitions};

/// How server-side apply treats the value at one position of an object.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ElementType<'a> {
    /// Owned as a whole: scalars, and structs, maps and lists marked atomic (the default
    /// for lists without a list type).
    Atomic,
    /// An object whose fields (struct) or keys (map) are owned one by one.
    Granular,
    /// A list of scalars owned item by item (`x-kubernetes-list-type: set`).
    Set,
    /// A list of objects identified by the values of these key fields
    /// (`x-kubernetes-list-type: map`).
    Map(&'a [ListKey]),
    /// Unknown to the schema: objects are granular, lists and scalars atomic (upstream's
    /// deduced type).
    Deduced,
}

/// A key field of a list-map; its default stands in for an item that omits it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListKey {
    pub name: String,
    pub default: Option<Value>,
}

/// The schema of a key of an object.
#[derive(Clone, Debug)]
pub struct Field<S> {
    pub schema: S,
    /// The key is a field the object's type declares, as opposed to a key of a map or a
    /// field the schema does not know. Declared fields holding non-empty objects are not
    /// members of field sets themselves, only their contents.
    pub declared: bool,
}

/// A position in a type, moved along an object's fields and list items.
pub trait ApplySchema: Clone {
    /// How the value at this position is owned.
    fn element_type(&self) -> ElementType<'_>;
    /// The position of the value under `name` in an object at this position.
    fn field(&self, name: &str) -> Field<Self>;
    /// The position of the items of a list at this position.
    fn items(&self) -> Self;
}

/// A schema that knows nothing: every object is granular, every list atomic.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeducedSchema;

impl ApplySchema for DeducedSchema {
    fn element_type(&self) -> ElementType<'_> {
        ElementType::Deduced
    }

    fn field(&self, _name: &str) -> Field<Self> {
        Field {
            schema: DeducedSchema,
            declared: false,
        }
    }

    fn items(&self) -> Self {
        DeducedSchema
    }
}

/// The apply schema of a built-in kind, by group, version and kind; `None` for kinds
/// without a built-in type (custom resources: use their structural schema or
/// [`DeducedSchema`]).
pub fn builtin_schema(group: &str, version: &str, kind: &str) -> Option<BuiltinSchema> {
    let name = type_graph::schema_name(group, version, kind)?;
    let graph = Graph::get();
    let id = *graph.roots.get(&name)?;
    Some(BuiltinSchema { graph, id })
}

/// A position in the type of a built-in kind.
#[derive(Clone, Copy)]
pub struct BuiltinSchema {
    graph: &'static Graph,
    id: u32,
}

impl std::fmt::Debug for BuiltinSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltinSchema")
            .field("id", &self.id)
            .finish()
    }
}

impl ApplySchema for BuiltinSchema {
    fn element_type(&self) -> ElementType<'_> {
        match &self.graph.types[self.id as usize] {
            Ty::Scalar | Ty::UntypedAtomic => ElementType::Atomic,
            Ty::Struct { atomic, .. } | Ty::Map { atomic, .. } => {
                if *atomic {
                    ElementType::Atomic
                } else {
                    ElementType::Granular
                }
            }
            Ty::List { kind, .. } => match kind {
                ListKind::Atomic => ElementType::Atomic,
                ListKind::Set => ElementType::Set,
                ListKind::Map(keys) => ElementType::Map(&self.graph.keys[*keys as usize]),
            },
            Ty::Deduced => ElementType::Deduced,
        }
    }

    fn field(&self, name: &str) -> Field<Self> {
        let (id, declared) = match &self.graph.types[self.id as usize] {
            Ty::Struct { fields, .. } => match self.graph.structs[*fields as usize].get(name) {
                Some(id) => (*id, true),
                None => (DEDUCED, false),
            },
            Ty::Map { values, .. } => (*values, false),
            _ => (DEDUCED, false),
        };
        Field {
            schema: self.with(id),
            declared,
        }
    }

    fn items(&self) -> Self {
        match &self.graph.types[self.id as usize] {
            Ty::List { items, .. } => self.with(*items),
            Ty::Deduced => self.with(UNTYPED_ATOMIC),
            _ => self.with(DEDUCED),
        }
    }
}

impl BuiltinSchema {
    fn with(&self, id: u32) -> BuiltinSchema {
        BuiltinSchema {
            graph: self.graph,
            id,
        }
    }
}

const SCALAR: u32 = 0;
const DEDUCED: u32 = 1;
const UNTYPED_ATOMIC: u32 = 2;

/// The types of every field reachable from the built-in kinds.
struct Graph {
    types: Vec<Ty>,
    /// Declared fields of each struct, by name.
    structs: Vec<HashMap<String, u32>>,
    keys: Vec<Vec<ListKey>>,
    roots: HashMap<String, u32>,
}

enum Ty {
    Scalar,
    Struct { fields: u32, atomic: bool },
    Map { values: u32, atomic: bool },
    List { items: u32, kind: ListKind },
    Deduced,
    UntypedAtomic,
}

enum ListKind {
    Atomic,
    Set,
    Map(u32),
}

impl Graph {
    fn get() -> &'static Graph {
        static GRAPH: OnceLock<Graph> = OnceLock::new();
        GRAPH.get_or_init(build)
    }
}

fn build() -> Graph {
    let (generator, root_names) = patch_target_definitions();
    let mut builder = Builder {
        definitions: generator.definitions(),
        graph: Graph {
            types: vec![Ty::Scalar, Ty::Deduced, Ty::UntypedAtomic],
            structs: Vec::new(),
            keys: Vec::new(),
            roots: HashMap::new(),
        },
        ids: HashMap::new(),
    };
    for name in root_names {
        let id = builder.definition(&name);
        builder.graph.roots.insert(name, id);
    }
    builder.graph
}

/// Turns schemars definitions into types, each definition once (types may recurse).
struct Builder<'d> {
    definitions: &'d Map<String, Value>,
    graph: Graph,
    ids: HashMap<String, u32>,
}

impl Builder<'_> {
    fn push(&mut self, ty: Ty) -> u32 {
        self.graph.types.push(ty);
        (self.graph.types.len() - 1) as u32
    }

    fn definition(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        if UNTYPED_ATOMIC_TYPES.contains(&name) {
            return UNTYPED_ATOMIC;
        }
        let Some(schema) = self.definitions.get(name) else {
            return DEDUCED;
        };
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            let id = self.anonymous(name, "", schema);
            self.ids.insert(name.to_string(), id);
            return id;
        };

        // The id goes in before the fields so that a type reaching itself finds it.
        let fields = self.graph.structs.len() as u32;
        self.graph.structs.push(HashMap::new());
        let atomic = ATOMIC_TYPES.contains(&name);
        let id = self.push(Ty::Struct { fields, atomic });
        self.ids.insert(name.to_string(), id);
        let mut declared = HashMap::with_capacity(properties.len());
        for (field, property) in properties {
            declared.insert(field.clone(), self.property(name, field, property));
        }
        self.graph.structs[fields as usize] = declared;
        id
    }

    /// The type of `field` of `definition`, whose schema is `property`.
    fn property(&mut self, definition: &str, field: &str, property: &Value) -> u32 {
        if let Some(reference) = property.get("$ref").and_then(Value::as_str) {
            let id = self.definition(definition_name(reference));
            if GRANULAR_STRUCT_FIELDS.contains(&(definition, field))
                && let Ty::Struct { fields, .. } = self.graph.types[id as usize]
            {
                return self.push(Ty::Struct {
                    fields,
                    atomic: false,
                });
            }
            return id;
        }
        self.anonymous(definition, field, property)
    }

    /// The type of an inline schema; `definition` and `field` name where it appears.
    fn anonymous(&mut self, definition: &str, field: &str, schema: &Value) -> u32 {
        match schema.get("type").and_then(Value::as_str) {
            Some("array") => {
                let items = match schema.get("items") {
                    Some(items) => self.property("", "", items),
                    None => UNTYPED_ATOMIC,
                };
                let kind = self.list_kind(definition, field);
                self.push(Ty::List { items, kind })
            }
            Some("object") => {
                if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
                    let values = self.property("", "", values);
                    let atomic = ATOMIC_MAP_FIELDS.contains(&(definition, field));
                    self.push(Ty::Map { values, atomic })
                } else if let Some(properties) = schema.get("properties").and_then(Value::as_object)
                {
                    self.inline_struct(properties)
                } else {
                    DEDUCED
                }
            }
            Some(_) => SCALAR,
            None if schema.get("x-kubernetes-int-or-string").is_some() => SCALAR,
            None => DEDUCED,
        }
    }

    fn inline_struct(&mut self, properties: &Map<String, Value>) -> u32 {
        let fields = self.graph.structs.len() as u32;
        self.graph.structs.push(HashMap::new());
        let id = self.push(Ty::Struct {
            fields,
            atomic: false,
        });
        let declared = properties
            .iter()
            .map(|(field, property)| (field.clone(), self.property("", field, property)))
            .collect();
        self.graph.structs[fields as usize] = declared;
        id
    }

    fn list_kind(&mut self, definition: &str, field: &str) -> ListKind {
        match associative_list(definition, field) {
            None => ListKind::Atomic,
            Some([]) => ListKind::Set,
            Some(keys) => {
                let keys = keys
                    .iter()
                    .map(|(name, default)| ListKey {
                        name: name.to_string(),
                        default: default.map(|d| Value::String(d.to_string())),
                    })
                    .collect();
                self.graph.keys.push(keys);
                ListKind::Map((self.graph.keys.len() - 1) as u32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::type_graph::patch_targets;

    fn at(kind: (&str, &str, &str), path: &[&str]) -> BuiltinSchema {
        let mut at = builtin_schema(kind.0, kind.1, kind.2).expect("built-in kind");
        for step in path {
            at = if *step == "[]" {
                at.items()
            } else {
                at.field(step).schema
            };
        }
        at
    }

    const DEPLOYMENT: (&str, &str, &str) = ("apps", "v1", "Deployment");
    const POD: (&str, &str, &str) = ("", "v1", "Pod");

    fn keys(schema: &BuiltinSchema) -> Vec<(String, Option<Value>)> {
        match schema.element_type() {
            ElementType::Map(keys) => keys
                .iter()
                .map(|k| (k.name.clone(), k.default.clone()))
                .collect(),
            other => panic!("not a list-map: {other:?}"),
        }
    }

    #[test]
    fn every_patch_target_has_an_apply_schema() {
        for (group, version, kind) in patch_targets() {
            assert!(
                builtin_schema(&group, &version, &kind).is_some(),
                "{kind} has no apply schema"
            );
        }
        assert!(builtin_schema("example.com", "v1", "Widget").is_none());
    }

    #[test]
    fn containers_are_a_list_map_keyed_by_name() {
        let containers = at(DEPLOYMENT, &["spec", "template", "spec", "containers"]);
        assert_eq!(keys(&containers), [("name".to_string(), None)]);
        assert_eq!(containers.items().element_type(), ElementType::Granular);
    }

    #[test]
    fn container_ports_are_keyed_by_port_and_protocol_defaulting_to_tcp() {
        let ports = at(POD, &["spec", "containers", "[]", "ports"]);
        assert_eq!(
            keys(&ports),
            [
                ("containerPort".to_string(), None),
                ("protocol".to_string(), Some(Value::String("TCP".into())))
            ]
        );
        let service_ports = at(("", "v1", "Service"), &["spec", "ports"]);
        assert_eq!(keys(&service_ports)[0].0, "port");
    }

    #[test]
    fn finalizers_are_a_set_and_args_atomic() {
        assert_eq!(
            at(POD, &["metadata", "finalizers"]).element_type(),
            ElementType::Set
        );
        assert_eq!(
            at(POD, &["spec", "containers", "[]", "args"]).element_type(),
            ElementType::Atomic
        );
        assert_eq!(
            at(POD, &["spec", "tolerations"]).element_type(),
            ElementType::Atomic
        );
    }

    #[test]
    fn label_selectors_and_node_selectors_are_atomic_but_labels_granular() {
        assert_eq!(
            at(DEPLOYMENT, &["spec", "selector"]).element_type(),
            ElementType::Atomic
        );
        assert_eq!(
            at(POD, &["spec", "nodeSelector"]).element_type(),
            ElementType::Atomic
        );
        let labels = at(POD, &["metadata", "labels"]);
        assert_eq!(labels.element_type(), ElementType::Granular);
        let app = labels.field("app");
        assert!(!app.declared);
        assert_eq!(app.schema.element_type(), ElementType::Atomic);
        assert!(at(POD, &["metadata"]).field("labels").declared);
    }

    #[test]
    fn claim_ref_is_granular_although_object_references_are_atomic() {
        let pv = ("", "v1", "PersistentVolume");
        assert_eq!(
            at(pv, &["spec", "claimRef"]).element_type(),
            ElementType::Granular
        );
        let event = ("", "v1", "Event");
        assert_eq!(
            at(event, &["involvedObject"]).element_type(),
            ElementType::Atomic
        );
    }

    #[test]
    fn job_conditions_are_atomic_and_deployment_conditions_keyed_by_type() {
        assert_eq!(
            at(("batch", "v1", "Job"), &["status", "conditions"]).element_type(),
            ElementType::Atomic
        );
        assert_eq!(
            keys(&at(DEPLOYMENT, &["status", "conditions"])),
            [("type".to_string(), None)]
        );
    }

    #[test]
    fn free_form_fields_are_atomic_or_deduced() {
        let revision = ("apps", "v1", "ControllerRevision");
        assert_eq!(at(revision, &["data"]).element_type(), ElementType::Atomic);
        let unknown = at(POD, &["spec", "notAField"]);
        assert_eq!(unknown.element_type(), ElementType::Deduced);
        assert!(!at(POD, &["spec"]).field("notAField").declared);
        assert_eq!(
            at(
                POD,
                &["spec", "containers", "[]", "resources", "limits", "cpu"]
            )
            .element_type(),
            ElementType::Atomic
        );
    }
}
