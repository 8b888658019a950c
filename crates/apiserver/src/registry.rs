//! The set of resources being served, looked up by group, version and plural.

use std::sync::{Arc, RwLock};

use skiff_api::ResourceInfo;

/// Served resources. Custom resources will join at run time, hence the lock.
pub struct Registry {
    resources: RwLock<Vec<Arc<ResourceInfo>>>,
}

impl Registry {
    pub fn new(resources: Vec<Arc<ResourceInfo>>) -> Self {
        Registry {
            resources: RwLock::new(resources),
        }
    }

    pub fn all(&self) -> Vec<Arc<ResourceInfo>> {
        self.resources
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        self.resources
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
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
