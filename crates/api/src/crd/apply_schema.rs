//! How server-side apply owns the fields of a custom resource: from its structural
//! schema's `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and
//! `x-kubernetes-map-type`, as upstream derives them.

use super::schema::StructuralSchema;
use crate::apply::{ApplySchema, ElementType, Field};

/// A position in a custom resource's schema; `None` once below what the schema declares
/// (preserved unknown fields), where ownership is deduced from the values.
#[derive(Clone, Copy, Debug)]
pub struct CustomApplySchema<'a>(pub Option<&'a StructuralSchema>);

impl<'a> CustomApplySchema<'a> {
    pub fn new(schema: &'a StructuralSchema) -> Self {
        CustomApplySchema(Some(schema))
    }
}

impl ApplySchema for CustomApplySchema<'_> {
    fn element_type(&self) -> ElementType<'_> {
        let Some(s) = self.0 else {
            return ElementType::Deduced;
        };
        match s.type_.as_str() {
            "array" => match s.list_type.as_deref() {
                Some("set") => ElementType::Set,
                Some("map") => ElementType::Map(&s.list_keys),
                _ => ElementType::Atomic,
            },
            "object" => match s.map_type.as_deref() {
                Some("atomic") => ElementType::Atomic,
                _ => ElementType::Granular,
            },
            "" if s.int_or_string => ElementType::Atomic,
            "" => ElementType::Deduced,
            _ => ElementType::Atomic,
        }
    }

    fn field(&self, name: &str) -> Field<Self> {
        let declared = self.0.and_then(|s| s.properties.get(name));
        let child = declared.or_else(|| self.0.and_then(|s| s.additional_properties_schema()));
        Field {
            schema: CustomApplySchema(child),
            declared: declared.is_some(),
        }
    }

    fn items(&self) -> Self {
        CustomApplySchema(self.0.and_then(|s| s.items.as_deref()))
    }
}
