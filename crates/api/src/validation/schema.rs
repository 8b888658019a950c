//! A compact tree of each built-in kind's fields, built once from `k8s-openapi`'s JSON
//! schemas, for the decoding check, unknown-field detection and quantity rewriting.

use std::collections::HashMap;
use std::sync::OnceLock;

use schemars::SchemaGenerator;
use serde_json::{Map, Value};

use crate::ResourceInfo;

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const MICRO_TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";
const REF_PREFIX: &str = "#/$defs/";

/// Index of a node in the shared arena.
pub type NodeId = usize;

/// What one place in an object holds, in terms of Go's decoding rules.
#[derive(Debug)]
pub enum Node {
    /// A Go struct: named fields, anything else unknown.
    Struct {
        name: String,
        go_type: String,
        fields: HashMap<String, NodeId>,
    },
    /// A Go map from string keys.
    Map(NodeId),
    Array(NodeId),
    /// Embedded objects of any shape (RawExtension, FieldsV1).
    Preserve,
    IntOrString,
    Quantity,
    /// A timestamp with its Go layout (RFC 3339, with microseconds for MicroTime).
    Time {
        micro: bool,
    },
    Str,
    Bytes,
    Int32,
    Int64,
    Float,
    Bool,
    /// A schema this module does not understand: accepted as is.
    Any,
}

pub struct Schemas {
    pub nodes: Vec<Node>,
    roots: HashMap<(String, String, String), NodeId>,
}

impl Schemas {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The root node of a built-in kind.
    pub fn root(&self, resource: &ResourceInfo) -> Option<NodeId> {
        let key = (
            resource.group.clone(),
            resource.version.clone(),
            resource.kind.clone(),
        );
        self.roots.get(&key).copied()
    }

    /// Go's name of the type held at `id`, as decoding errors print it.
    pub fn go_type(&self, id: NodeId) -> String {
        match self.node(id) {
            Node::Struct { go_type, .. } => go_type.clone(),
            Node::Map(v) => format!("map[string]{}", self.go_type(*v)),
            Node::Array(v) => format!("[]{}", self.go_type(*v)),
            Node::Preserve => "runtime.RawExtension".into(),
            Node::IntOrString => "intstr.IntOrString".into(),
            Node::Quantity => "resource.Quantity".into(),
            Node::Time { micro: false } => "v1.Time".into(),
            Node::Time { micro: true } => "v1.MicroTime".into(),
            Node::Str => "string".into(),
            Node::Bytes => "[]uint8".into(),
            Node::Int32 => "int32".into(),
            Node::Int64 => "int64".into(),
            Node::Float => "float64".into(),
            Node::Bool => "bool".into(),
            Node::Any => "interface {}".into(),
        }
    }
}

/// The schemas of all built-in kinds, built on first use.
pub fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(build)
}

fn build() -> Schemas {
    let mut generator = SchemaGenerator::default();
    let mut refs = Vec::new();
    macro_rules! subschema {
        ($t:ty) => {
            generator.subschema_for::<$t>().to_value()
        };
    }
    for r in crate::builtin_resources() {
        let schema = with_builtin_type!(
            r.group.as_str(),
            r.version.as_str(),
            r.kind.as_str(),
            subschema
        );
        if let Some(schema) = schema {
            refs.push(((r.group.clone(), r.version.clone(), r.kind.clone()), schema));
        }
    }
    let mut builder = Builder {
        defs: generator.definitions(),
        nodes: Vec::new(),
        by_name: HashMap::new(),
    };
    let roots = refs
        .into_iter()
        .map(|(key, schema)| (key, builder.convert(&schema, None)))
        .collect();
    Schemas {
        nodes: builder.nodes,
        roots,
    }
}

struct Builder<'a> {
    defs: &'a Map<String, Value>,
    nodes: Vec<Node>,
    by_name: HashMap<String, NodeId>,
}

impl Builder<'_> {
    /// Converts a schema; `name` is its definition name when it has one.
    fn convert(&mut self, schema: &Value, name: Option<&str>) -> NodeId {
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            return self.convert_ref(target);
        }
        let node = self.node_for(schema, name);
        self.push(node)
    }

    fn convert_ref(&mut self, target: &str) -> NodeId {
        let name = target.strip_prefix(REF_PREFIX).unwrap_or(target);
        if let Some(id) = self.by_name.get(name) {
            return *id;
        }
        // Reserve the slot first: definitions refer to themselves (JSONSchemaProps-like
        // recursion does not occur in built-ins, but a cycle must not loop).
        let id = self.push(Node::Any);
        self.by_name.insert(name.to_string(), id);
        let defs = self.defs;
        let node = match defs.get(name) {
            Some(def) => self.node_for(def, Some(name)),
            None => Node::Any,
        };
        self.nodes[id] = node;
        id
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn node_for(&mut self, schema: &Value, name: Option<&str>) -> Node {
        if schema.get("x-kubernetes-int-or-string").is_some() {
            return if name == Some(QUANTITY) {
                Node::Quantity
            } else {
                Node::IntOrString
            };
        }
        let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
        match schema.get("type").and_then(Value::as_str) {
            Some("object") => self.object_node(schema, name),
            Some("array") => {
                let items = schema.get("items").cloned().unwrap_or(Value::Null);
                Node::Array(self.convert(&items, None))
            }
            Some("string") => match format {
                "byte" => Node::Bytes,
                "date-time" => Node::Time {
                    micro: name == Some(MICRO_TIME),
                },
                _ => Node::Str,
            },
            Some("integer") if format == "int32" => Node::Int32,
            Some("integer") => Node::Int64,
            Some("number") => Node::Float,
            Some("boolean") => Node::Bool,
            _ => Node::Any,
        }
    }

    fn object_node(&mut self, schema: &Value, name: Option<&str>) -> Node {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            let fields = props
                .iter()
                .map(|(k, v)| (k.clone(), self.convert(v, None)))
                .collect();
            let (name, go_type) = go_names(name.unwrap_or("object"));
            return Node::Struct {
                name,
                go_type,
                fields,
            };
        }
        match schema.get("additionalProperties") {
            Some(v) if v.is_object() => Node::Map(self.convert(v, None)),
            _ => Node::Preserve,
        }
    }
}

/// `io.k8s.api.core.v1.PodSpec` -> (`PodSpec`, `v1.PodSpec`).
fn go_names(def: &str) -> (String, String) {
    let mut parts = def.rsplit('.');
    let name = parts.next().unwrap_or(def).to_string();
    let go_type = match parts.next() {
        Some(pkg) => format!("{pkg}.{name}"),
        None => name.clone(),
    };
    (name, go_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_resources;

    #[test]
    fn every_served_kind_has_a_struct_root() {
        let s = schemas();
        for r in builtin_resources() {
            let root = s
                .root(&r)
                .unwrap_or_else(|| panic!("{} has no schema", r.kind));
            assert!(matches!(s.node(root), Node::Struct { .. }), "{}", r.kind);
        }
    }

    #[test]
    fn pod_spec_containers_are_arrays_of_container_structs() {
        let s = schemas();
        let pod = builtin_resources()
            .into_iter()
            .find(|r| r.kind == "Pod")
            .unwrap();
        let Node::Struct { fields, .. } = s.node(s.root(&pod).unwrap()) else {
            panic!()
        };
        let Node::Struct { fields, .. } = s.node(fields["spec"]) else {
            panic!()
        };
        assert_eq!(s.go_type(fields["containers"]), "[]v1.Container");
        assert_eq!(s.go_type(fields["nodeSelector"]), "map[string]string");
        assert_eq!(
            s.go_type(fields["overhead"]),
            "map[string]resource.Quantity"
        );
    }
}
