//! The shape of every field of the patchable built-in kinds, derived once from their JSON
//! schemas and upstream's patch metadata, so the merge knows the type at any path.

use std::collections::HashMap;
use std::sync::OnceLock;

use schemars::JsonSchema;
use schemars::generate::SchemaGenerator;
use serde_json::{Map, Value};

use super::ListStrategy;
use crate::builtin_resources;
use crate::openapi::patch_meta::{self, PatchMeta};

/// The fields of the schema-typed objects reachable from the patchable kinds.
pub(super) struct TypeGraph {
    nodes: Vec<Node>,
    /// Root shape of each kind, by its k8s-openapi schema name.
    roots: HashMap<String, Shape>,
}

/// One object definition (`io.k8s.api.core.v1.PodSpec`).
struct Node {
    fields: HashMap<String, Field>,
}

struct Field {
    shape: Shape,
    /// The object is replaced whole instead of merged (`patchStrategy:"replace"`).
    replace: bool,
}

/// What a value at some path is.
pub(super) enum Shape {
    /// An object with known fields: the node's index.
    Object(usize),
    List {
        items: Box<Shape>,
        strategy: ListStrategy,
    },
    /// An object whose keys are free and whose values share one shape (labels).
    Map(Box<Shape>),
    /// A scalar or a free-form value: objects in it merge as plain maps, lists are replaced.
    Opaque,
}

static OPAQUE: Shape = Shape::Opaque;

/// A position in the graph while walking an object and its patch together.
#[derive(Clone, Copy)]
pub(super) struct At<'g> {
    graph: &'g TypeGraph,
    shape: &'g Shape,
}

/// What the walk needs to know about one key of an object.
pub(super) struct FieldAt<'g> {
    pub at: At<'g>,
    /// The object is replaced whole by the patch.
    pub replace: bool,
    /// The key is a field of a schema-typed object (as opposed to a map key or an unknown).
    pub declared: bool,
}

impl<'g> At<'g> {
    /// The position of `key` inside the object at this position.
    pub fn field(self, key: &str) -> FieldAt<'g> {
        let declared = match self.shape {
            Shape::Object(id) => self.graph.nodes[*id].fields.get(key),
            Shape::Map(values) => {
                return FieldAt {
                    at: self.with(values),
                    replace: false,
                    declared: false,
                };
            }
            Shape::List { .. } | Shape::Opaque => None,
        };
        match declared {
            Some(field) => FieldAt {
                at: self.with(&field.shape),
                replace: field.replace,
                declared: true,
            },
            None => FieldAt {
                at: self.with(&OPAQUE),
                replace: false,
                declared: false,
            },
        }
    }

    /// The position of the elements of the list at this position.
    pub fn items(self) -> At<'g> {
        match self.shape {
            Shape::List { items, .. } => self.with(items),
            _ => self.with(&OPAQUE),
        }
    }

    /// How the list at this position merges; lists the schema does not know are replaced.
    pub fn list_strategy(self) -> ListStrategy {
        match self.shape {
            Shape::List { strategy, .. } => *strategy,
            _ => ListStrategy::Replace,
        }
    }

    /// Whether this position holds an object with declared fields.
    pub fn is_object(self) -> bool {
        matches!(self.shape, Shape::Object(_))
    }

    pub fn is_list(self) -> bool {
        matches!(self.shape, Shape::List { .. })
    }

    fn with(self, shape: &'g Shape) -> At<'g> {
        At {
            graph: self.graph,
            shape,
        }
    }
}

impl TypeGraph {
    /// The graph of every patchable kind, built on first use.
    pub fn get() -> &'static TypeGraph {
        static GRAPH: OnceLock<TypeGraph> = OnceLock::new();
        GRAPH.get_or_init(build)
    }

    /// The root of a kind, by its k8s-openapi schema name.
    pub fn root(&self, schema_name: &str) -> Option<At<'_>> {
        self.roots
            .get(schema_name)
            .map(|shape| At { graph: self, shape })
    }
}

/// The k8s-openapi schema name of a built-in kind, if it has a type.
pub(crate) fn schema_name(group: &str, version: &str, kind: &str) -> Option<String> {
    macro_rules! name_of {
        ($t:ty) => {
            <$t as JsonSchema>::schema_name().into_owned()
        };
    }
    with_builtin_type!(group, version, kind, name_of)
}

pub(crate) type Register = fn(&mut SchemaGenerator) -> String;

pub(crate) fn register<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// The kinds a PATCH can target: the served resources, and Scale for their `scale`
/// subresource.
pub(crate) fn patch_targets() -> Vec<(String, String, String)> {
    let mut targets: Vec<_> = builtin_resources()
        .iter()
        .map(|r| (r.group.clone(), r.version.clone(), r.kind.clone()))
        .collect();
    targets.push(("autoscaling".into(), "v1".into(), "Scale".into()));
    targets
}

/// A generator holding the schemars definitions of every patch target, and the
/// definition names of the targets themselves.
pub(crate) fn patch_target_definitions() -> (SchemaGenerator, Vec<String>) {
    macro_rules! registrar {
        ($t:ty) => {
            register::<$t> as Register
        };
    }
    let mut generator = SchemaGenerator::default();
    let mut root_names = Vec::new();
    for (group, version, kind) in patch_targets() {
        if let Some(register) =
            with_builtin_type!(group.as_str(), version.as_str(), kind.as_str(), registrar)
        {
            root_names.push(register(&mut generator));
        }
    }
    (generator, root_names)
}

fn build() -> TypeGraph {
    let (generator, root_names) = patch_target_definitions();
    let mut builder = Builder {
        definitions: generator.definitions(),
        nodes: Vec::new(),
        ids: HashMap::new(),
    };
    let roots = root_names
        .into_iter()
        .map(|name| {
            let shape = builder.definition_shape(&name);
            (name, shape)
        })
        .collect();
    TypeGraph {
        nodes: builder.nodes,
        roots,
    }
}

/// Turns schemars definitions into nodes, each definition once (types may recurse).
struct Builder<'d> {
    definitions: &'d Map<String, Value>,
    nodes: Vec<Node>,
    ids: HashMap<String, usize>,
}

impl Builder<'_> {
    fn definition_shape(&mut self, name: &str) -> Shape {
        if let Some(id) = self.ids.get(name) {
            return Shape::Object(*id);
        }
        let Some(schema) = self.definitions.get(name) else {
            return Shape::Opaque;
        };
        if schema.get("properties").is_none() {
            return self.shape(schema, None);
        }

        // The id goes in before the fields so that a type reaching itself finds it.
        let id = self.nodes.len();
        self.ids.insert(name.to_string(), id);
        self.nodes.push(Node {
            fields: HashMap::new(),
        });
        let fields = self.fields(name, schema);
        self.nodes[id].fields = fields;
        Shape::Object(id)
    }

    fn fields(&mut self, definition: &str, schema: &Value) -> HashMap<String, Field> {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return HashMap::new();
        };
        properties
            .iter()
            .map(|(field, property)| {
                let meta = patch_meta::lookup(definition, field);
                let field_entry = Field {
                    shape: self.shape(property, meta),
                    replace: meta.is_some_and(|m| m.strategy == "replace"),
                };
                (field.clone(), field_entry)
            })
            .collect()
    }

    /// The shape of a property schema; `meta` is the patch metadata of its field.
    fn shape(&mut self, schema: &Value, meta: Option<&PatchMeta>) -> Shape {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            return self.definition_shape(definition_name(reference));
        }
        if schema.get("type").and_then(Value::as_str) == Some("array") {
            let items = schema
                .get("items")
                .map_or(Shape::Opaque, |i| self.shape(i, None));
            return Shape::List {
                items: Box::new(items),
                strategy: list_strategy_of(meta),
            };
        }
        if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
            return Shape::Map(Box::new(self.shape(values, None)));
        }
        if schema.get("properties").is_some() {
            let id = self.nodes.len();
            self.nodes.push(Node {
                fields: HashMap::new(),
            });
            let fields = self.fields("", schema);
            self.nodes[id].fields = fields;
            return Shape::Object(id);
        }
        Shape::Opaque
    }
}

/// `#/$defs/io.k8s.api.core.v1.PodSpec` -> `io.k8s.api.core.v1.PodSpec`.
pub(crate) fn definition_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

fn list_strategy_of(meta: Option<&PatchMeta>) -> ListStrategy {
    let Some(meta) = meta else {
        return ListStrategy::Replace;
    };
    let strategies: Vec<&str> = meta.strategy.split(',').collect();
    if !strategies.contains(&"merge") {
        return ListStrategy::Replace;
    }
    match meta.merge_key {
        Some(key) => ListStrategy::Merge {
            key,
            retain_keys: strategies.contains(&"retainKeys"),
        },
        None => ListStrategy::Set,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(kind_schema: &str, path: &[&str]) -> At<'static> {
        let mut at = TypeGraph::get().root(kind_schema).expect("root");
        for key in path {
            at = if at.is_list() { at.items() } else { at };
            at = at.field(key).at;
        }
        at
    }

    #[test]
    fn every_patch_target_has_a_root() {
        let graph = TypeGraph::get();
        for (group, version, kind) in patch_targets() {
            let name = schema_name(&group, &version, &kind).expect("built-in type");
            assert!(graph.root(&name).is_some(), "{kind} has no root");
        }
    }

    #[test]
    fn deployment_containers_merge_by_name() {
        let containers = at(
            "io.k8s.api.apps.v1.Deployment",
            &["spec", "template", "spec", "containers"],
        );
        assert_eq!(
            containers.list_strategy(),
            ListStrategy::Merge {
                key: "name",
                retain_keys: false
            }
        );
    }

    #[test]
    fn env_inside_containers_merges_by_name() {
        let env = at("io.k8s.api.core.v1.Pod", &["spec", "containers", "env"]);
        assert!(matches!(
            env.list_strategy(),
            ListStrategy::Merge { key: "name", .. }
        ));
    }

    #[test]
    fn labels_are_a_map_of_opaque_values() {
        let labels = TypeGraph::get()
            .root("io.k8s.api.core.v1.ConfigMap")
            .expect("root")
            .field("metadata")
            .at
            .field("labels");
        assert!(labels.declared);
        assert!(!labels.at.is_object() && !labels.at.is_list());
        let value = labels.at.field("app");
        assert!(!value.declared);
        assert!(!value.at.is_object());
    }

    #[test]
    fn pod_disruption_budget_selector_is_replaced_whole() {
        let spec = at("io.k8s.api.policy.v1.PodDisruptionBudget", &["spec"]);
        assert!(spec.field("selector").replace);
        assert!(!spec.field("maxUnavailable").replace);
    }
}
