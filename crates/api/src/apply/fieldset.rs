//! Sets of field paths, stored as a tree the way upstream's `fieldpath.Set` stores them:
//! each node lists the elements that are members of the set and the children that lead
//! to deeper members. A node can be both (a list item owned as a whole and field by field).

use std::cmp::Ordering;

use super::path::{Path, PathElement};
use super::schema::ApplySchema;

/// A set of field paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// Elements that are members of the set, sorted.
    members: Vec<PathElement>,
    /// Elements with members below them, sorted by element; never empty sets.
    children: Vec<(PathElement, FieldSet)>,
}

impl FieldSet {
    /// An empty set.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// The set holding these paths (their parents are not members unless listed).
    pub fn from_paths<I: IntoIterator<Item = Path>>(paths: I) -> FieldSet {
        let mut set = FieldSet::new();
        for path in paths {
            set.insert(&path.0);
        }
        set
    }

    /// The set of top-level fields with these names, such as `status` for the fields a
    /// request may not own.
    pub fn top_level(names: &[&str]) -> FieldSet {
        FieldSet::from_paths(
            names
                .iter()
                .map(|name| Path(vec![PathElement::field(name)])),
        )
    }

    /// Adds `path`; the empty path (the whole object) is never a member.
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut node = self;
        for element in parents {
            node = node.descend(element);
        }
        node.insert_member(last);
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        let Some((last, parents)) = path.split_last() else {
            return false;
        };
        let mut node = self;
        for element in parents {
            match node.child(element) {
                Some(child) => node = child,
                None => return false,
            }
        }
        node.has_member(last)
    }

    /// Whether the set has no member at any depth.
    pub fn is_empty(&self) -> bool {
        // Children are never empty sets.
        self.members.is_empty() && self.children.is_empty()
    }

    /// The number of members at every depth.
    pub fn len(&self) -> usize {
        self.members.len() + self.children.iter().map(|(_, c)| c.len()).sum::<usize>()
    }

    /// Whether `element` is a member of this node.
    pub fn has_member(&self, element: &PathElement) -> bool {
        self.members.binary_search(element).is_ok()
    }

    /// The members below `element`, if any.
    pub fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children
            .binary_search_by(|(e, _)| e.cmp(element))
            .ok()
            .map(|i| &self.children[i].1)
    }

    /// The members of this node.
    pub fn members(&self) -> &[PathElement] {
        &self.members
    }

    /// The nodes below this one.
    pub fn children(&self) -> impl Iterator<Item = (&PathElement, &FieldSet)> {
        self.children.iter().map(|(e, c)| (e, c))
    }

    /// Every member path, this node's members first and then each child's, in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect_paths(&mut prefix, &mut out);
        out
    }

    /// The members that have no members below them.
    pub fn leaves(&self) -> FieldSet {
        FieldSet {
            members: self
                .members
                .iter()
                .filter(|m| self.child(m).is_none())
                .cloned()
                .collect(),
            children: self
                .children
                .iter()
                .map(|(e, c)| (e.clone(), c.leaves()))
                .filter(|(_, c)| !c.is_empty())
                .collect(),
        }
    }

    /// Members of either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet {
            members: merge_sorted(&self.members, &other.members),
            children: merge_children(&self.children, &other.children, |a, b| Some(a.union(b))),
        }
    }

    /// Members of both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self
            .members
            .iter()
            .filter(|m| other.has_member(m))
            .cloned()
            .collect();
        let children = self
            .children
            .iter()
            .filter_map(|(e, c)| {
                let both = c.intersection(other.child(e)?);
                (!both.is_empty()).then(|| (e.clone(), both))
            })
            .collect();
        FieldSet { members, children }
    }

    /// Members of this set that are not members of `other`. A member of `other` does not
    /// remove the members below it (upstream's `Difference`).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.subtract(other, false);
        out
    }

    /// Members of this set that are neither members of `other` nor below one of its
    /// members (upstream's `RecursiveDifference`).
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.subtract(other, true);
        out
    }

    /// Removes the members of `other` from this set, and with `recursive` everything below
    /// them too.
    pub fn subtract(&mut self, other: &FieldSet, recursive: bool) {
        if other.is_empty() {
            return;
        }
        self.members.retain(|m| !other.has_member(m));
        self.children.retain_mut(|(element, child)| {
            if recursive && other.has_member(element) {
                return false;
            }
            match other.child(element) {
                Some(theirs) => {
                    child.subtract(theirs, recursive);
                    !child.is_empty()
                }
                None => true,
            }
        });
    }

    /// Whether every member of this set is a member of `other`.
    pub fn is_subset(&self, other: &FieldSet) -> bool {
        self.members.iter().all(|m| other.has_member(m))
            && self
                .children
                .iter()
                .all(|(element, child)| match other.child(element) {
                    Some(theirs) => child.is_subset(theirs),
                    None => child.is_empty(),
                })
    }

    /// This set with every declared struct field that has members below it made a member
    /// too (upstream's `EnsureNamedFieldsAreMembers`), as pruning needs.
    pub fn ensure_named_fields_are_members<S: ApplySchema>(&self, schema: &S) -> FieldSet {
        let mut members = self.members.clone();
        let mut children = Vec::with_capacity(self.children.len());
        for (element, child) in &self.children {
            let child_schema = match element {
                PathElement::Field(name) => {
                    let field = schema.field(name);
                    if field.declared
                        && let Err(at) = members.binary_search(element)
                    {
                        members.insert(at, element.clone());
                    }
                    field.schema
                }
                _ => schema.items(),
            };
            let named = child.ensure_named_fields_are_members(&child_schema);
            children.push((element.clone(), named));
        }
        FieldSet { members, children }
    }

    fn insert_member(&mut self, element: &PathElement) {
        if let Err(at) = self.members.binary_search(element) {
            self.members.insert(at, element.clone());
        }
    }

    /// The child node for `element`, created if missing.
    fn descend(&mut self, element: &PathElement) -> &mut FieldSet {
        let at = match self.children.binary_search_by(|(e, _)| e.cmp(element)) {
            Ok(at) => at,
            Err(at) => {
                self.children
                    .insert(at, (element.clone(), FieldSet::default()));
                at
            }
        };
        &mut self.children[at].1
    }

    /// Builds a node from parts decoded in any order.
    pub(super) fn from_parts(
        mut members: Vec<PathElement>,
        mut children: Vec<(PathElement, FieldSet)>,
    ) -> FieldSet {
        members.sort();
        members.dedup();
        children.sort_by(|a, b| a.0.cmp(&b.0));
        let mut merged: Vec<(PathElement, FieldSet)> = Vec::with_capacity(children.len());
        for (element, child) in children {
            match merged.last_mut() {
                Some((last, existing)) if *last == element => *existing = existing.union(&child),
                _ => merged.push((element, child)),
            }
        }
        merged.retain(|(_, c)| !c.is_empty());
        FieldSet {
            members,
            children: merged,
        }
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for member in &self.members {
            let mut path = prefix.clone();
            path.push(member.clone());
            out.push(Path(path));
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }
}

fn merge_sorted(a: &[PathElement], b: &[PathElement]) -> Vec<PathElement> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            Ordering::Less => {
                out.push(a[i].clone());
                i += 1;
            }
            Ordering::Greater => {
                out.push(b[j].clone());
                j += 1;
            }
            Ordering::Equal => {
                out.push(a[i].clone());
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

type Children = Vec<(PathElement, FieldSet)>;

fn merge_children(
    a: &Children,
    b: &Children,
    both: impl Fn(&FieldSet, &FieldSet) -> Option<FieldSet>,
) -> Children {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            Ordering::Less => {
                out.push(a[i].clone());
                i += 1;
            }
            Ordering::Greater => {
                out.push(b[j].clone());
                j += 1;
            }
            Ordering::Equal => {
                if let Some(set) = both(&a[i].1, &b[j].1) {
                    out.push((a[i].0.clone(), set));
                }
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(parts: &[&str]) -> Path {
        Path(
            parts
                .iter()
                .map(|p| match p.strip_prefix('=') {
                    Some(v) => PathElement::value(json!(v)),
                    None => PathElement::field(p),
                })
                .collect(),
        )
    }

    fn set(paths: &[&[&str]]) -> FieldSet {
        FieldSet::from_paths(paths.iter().map(|p| path(p)))
    }

    fn printed(set: &FieldSet) -> Vec<String> {
        set.paths().iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn union_intersection_and_difference_work_on_leaf_paths() {
        let a = set(&[
            &["spec", "replicas"],
            &["spec", "paused"],
            &["metadata", "labels", "app"],
        ]);
        let b = set(&[&["spec", "replicas"], &["spec", "minReadySeconds"]]);
        assert_eq!(
            printed(&a.union(&b)),
            [
                ".metadata.labels.app",
                ".spec.minReadySeconds",
                ".spec.paused",
                ".spec.replicas"
            ]
        );
        assert_eq!(printed(&a.intersection(&b)), [".spec.replicas"]);
        assert_eq!(
            printed(&a.difference(&b)),
            [".metadata.labels.app", ".spec.paused"]
        );
        assert!(a.intersection(&set(&[&["status"]])).is_empty());
    }

    #[test]
    fn difference_keeps_children_of_removed_parents_but_recursive_difference_drops_them() {
        let a = set(&[&["status"], &["status", "replicas"], &["spec", "replicas"]]);
        let status = set(&[&["status"]]);
        assert_eq!(
            printed(&a.difference(&status)),
            [".spec.replicas", ".status.replicas"]
        );
        assert_eq!(
            printed(&a.recursive_difference(&status)),
            [".spec.replicas"]
        );
    }

    #[test]
    fn members_are_listed_before_children_like_upstream_iteration() {
        let s = set(&[
            &["metadata", "finalizers", "=x"],
            &["kind"],
            &["metadata", "name"],
        ]);
        assert_eq!(
            printed(&s),
            [".kind", ".metadata.name", ".metadata.finalizers[=\"x\"]"]
        );
        assert!(s.has(&path(&["metadata", "name"]).0));
        assert!(!s.has(&path(&["metadata"]).0));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn leaves_drop_members_that_have_children() {
        let s = set(&[&["spec"], &["spec", "replicas"], &["kind"]]);
        assert_eq!(printed(&s.leaves()), [".kind", ".spec.replicas"]);
    }
}
