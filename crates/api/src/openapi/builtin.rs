//! The documents of the built-in resources, rendered once per process and shared by every
//! [`OpenApiDocs`](super::OpenApiDocs) built for the same resources, so that rebuilding the
//! documents when a custom resource comes or goes costs only the custom part.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use super::Rendered;
use super::assemble::{Members, V2Parts};
use super::custom::MetaSchemas;
use super::operations::{self, GroupVersion};
use super::render;
use super::schemas::{Catalogue, has_builtin_type};
use crate::ResourceInfo;

/// The built-in part of the documents. Each part is rendered on first use.
pub(super) struct Builtin {
    resources: Vec<Arc<ResourceInfo>>,
    /// The group-version paths of the built-in documents (`api/v1`, `apis/apps/v1`).
    pub gv_paths: BTreeSet<String>,
    v2: OnceLock<V2Parts>,
    v3: OnceLock<Vec<(String, Arc<Rendered>)>>,
    meta: OnceLock<MetaSchemas>,
}

/// The built-in parts alive in this process. Weak, so that a part is freed with the last
/// set of documents using it.
static SHARED: Mutex<Vec<Weak<Builtin>>> = Mutex::new(Vec::new());

impl Builtin {
    /// The part for `resources`, shared with every live set of documents built for the
    /// same resources.
    pub fn shared(resources: &[Arc<ResourceInfo>]) -> Arc<Builtin> {
        let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        shared.retain(|part| part.strong_count() > 0);
        let found = shared
            .iter()
            .filter_map(Weak::upgrade)
            .find(|part| part.resources == resources);
        if let Some(part) = found {
            return part;
        }
        let part = Arc::new(Builtin::new(resources.to_vec()));
        shared.push(Arc::downgrade(&part));
        part
    }

    fn new(resources: Vec<Arc<ResourceInfo>>) -> Self {
        let gv_paths = resources
            .iter()
            .filter(|r| has_builtin_type(r))
            .map(|r| match r.group.as_str() {
                "" => format!("api/{}", r.version),
                group => format!("apis/{group}/{}", r.version),
            })
            .collect();
        Builtin {
            resources,
            gv_paths,
            v2: OnceLock::new(),
            v3: OnceLock::new(),
            meta: OnceLock::new(),
        }
    }

    /// The serialized swagger 2.0 paths and definitions.
    pub fn v2(&self) -> &V2Parts {
        self.v2.get_or_init(|| {
            let started = std::time::Instant::now();
            let (catalogue, gvs) = self.model();
            let parts = V2Parts {
                paths: Members::new(render::v2_paths(&gvs)),
                definitions: Members::new(catalogue.definitions),
            };
            tracing::debug!(elapsed = ?started.elapsed(), "rendered built-in openapi v2 parts");
            parts
        })
    }

    /// The v3 document of each built-in group-version, by path.
    pub fn v3(&self) -> &[(String, Arc<Rendered>)] {
        self.v3.get_or_init(|| {
            let started = std::time::Instant::now();
            let (catalogue, gvs) = self.model();
            let documents: Vec<(String, Arc<Rendered>)> = gvs
                .iter()
                .map(|gv| {
                    let document = render::v3_document(gv, &catalogue);
                    (gv.path.clone(), Arc::new(Rendered::new(&document)))
                })
                .collect();
            tracing::debug!(
                documents = documents.len(),
                bytes = documents.iter().map(|(_, d)| d.bytes.len()).sum::<usize>(),
                elapsed = ?started.elapsed(),
                "rendered built-in openapi v3 documents"
            );
            documents
        })
    }

    /// The definitions custom resource documents reference.
    pub fn meta(&self) -> &MetaSchemas {
        self.meta
            .get_or_init(|| MetaSchemas::from_catalogue(&Catalogue::generate(&self.resources)))
    }

    fn model(&self) -> (Catalogue, Vec<GroupVersion>) {
        let catalogue = Catalogue::generate(&self.resources);
        let gvs = operations::group_versions(&self.resources, &catalogue);
        (catalogue, gvs)
    }

    /// Bytes held by the parts rendered so far (serialized text; the meta schemas as
    /// their serialized size).
    #[cfg(test)]
    pub fn heap_size(&self) -> usize {
        let v2 = self.v2.get().map_or(0, V2Parts::heap_size);
        let v3: usize = self
            .v3
            .get()
            .map_or(0, |docs| docs.iter().map(|(_, d)| d.bytes.len()).sum());
        let meta = self.meta.get().map_or(0, MetaSchemas::heap_size);
        v2 + v3 + meta
    }
}
