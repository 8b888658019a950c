//! The set of resources being served, looked up by group, version and plural: the
//! built-in ones, fixed at start, and the custom ones, replaced whenever the set of
//! established CustomResourceDefinitions changes.

use std::sync::{Arc, RwLock};

use skiff_api::ResourceInfo;

/// Served resources.
pub struct Registry {
    builtin: Vec<Arc<ResourceInfo>>,
    custom: RwLock<Arc<Vec<Arc<ResourceInfo>>>>,
}

impl Registry {
    pub fn new(builtin: Vec<Arc<ResourceInfo>>) -> Self {
        Registry {
            builtin,
            custom: RwLock::new(Arc::new(Vec::new())),
        }
    }

    /// Replaces the served custom resources.
    pub fn set_custom(&self, resources: Vec<Arc<ResourceInfo>>) {
        *self.custom.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(resources);
    }

    /// The served custom resources.
    pub fn custom(&self) -> Arc<Vec<Arc<ResourceInfo>>> {
        self.custom
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every served resource, built-in ones first.
    pub fn all(&self) -> Vec<Arc<ResourceInfo>> {
        let custom = self.custom();
        self.builtin.iter().chain(custom.iter()).cloned().collect()
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        let matches =
            |r: &&Arc<ResourceInfo>| r.group == group && r.version == version && r.plural == plural;
        if let Some(r) = self.builtin.iter().find(matches) {
            return Some(r.clone());
        }
        self.custom().iter().find(matches).cloned()
    }

    /// Group names in discovery order, each with its versions in order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for r in self.all() {
            match groups.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) if !versions.contains(&r.version) => {
                    versions.push(r.version.clone())
                }
                Some(_) => {}
                None => groups.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        groups
    }

    pub fn in_group_version(&self, group: &str, version: &str) -> Vec<Arc<ResourceInfo>> {
        self.all()
            .into_iter()
            .filter(|r| r.group == group && r.version == version)
            .collect()
    }
}
