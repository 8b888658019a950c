//! The paths and operations the API serves for each resource, named as upstream names
//! them (`readCoreV1NamespacedPod`), independent of the OpenAPI version rendering them.

use std::sync::Arc;

use super::params::{
    DELETE_COLLECTION_PARAMS, DELETE_PARAMS, GET_PARAMS, LIST_PARAMS, Location, PATCH_PARAMS,
    PRETTY, Param, ParamType, WRITE_PARAMS,
};
use super::schemas::{self, Catalogue, Gvk, KindNames};
use crate::{ResourceInfo, Subresource};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Put,
    Post,
    Delete,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Post => "post",
            Method::Delete => "delete",
            Method::Patch => "patch",
        }
    }
}

/// Request bodies the server decodes for create and replace.
const OBJECT_CONSUMES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];
pub(super) const PATCH_CONSUMES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];
/// Patch types custom resources accept: no strategic merge patch, which needs Go struct tags.
pub(super) const CUSTOM_PATCH_CONSUMES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];
/// Request bodies custom resources accept for create and replace.
const CUSTOM_OBJECT_CONSUMES: &[&str] = &["application/json", "application/yaml"];
/// Response encodings the server writes.
const OBJECT_PRODUCES: &[&str] = &["application/json", "application/yaml"];
const LIST_PRODUCES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/json;stream=watch",
];

/// `x-kubernetes-action`: the verb the operation performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    Get,
    List,
    Post,
    Put,
    Patch,
    Delete,
    DeleteCollection,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Get => "get",
            Action::List => "list",
            Action::Post => "post",
            Action::Put => "put",
            Action::Patch => "patch",
            Action::Delete => "delete",
            Action::DeleteCollection => "deletecollection",
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Body {
    pub schema: String,
    pub required: bool,
}

#[derive(Clone, Debug)]
pub(super) struct Response {
    pub code: u16,
    /// `None` for a response without a body.
    pub schema: Option<String>,
}

impl Response {
    pub fn description(&self) -> &'static str {
        match self.code {
            200 => "OK",
            201 => "Created",
            202 => "Accepted",
            _ => "Unauthorized",
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Operation {
    pub method: Method,
    pub id: String,
    pub description: String,
    pub tag: String,
    pub action: Action,
    pub params: &'static [Param],
    pub body: Option<Body>,
    pub consumes: &'static [&'static str],
    pub produces: &'static [&'static str],
    pub responses: Vec<Response>,
    /// `None` for the resource list of a group-version, which has no kind.
    pub gvk: Option<Gvk>,
}

/// One path with its path-level parameters and operations.
#[derive(Clone, Debug)]
pub(super) struct PathItem {
    pub path: String,
    pub params: Vec<Param>,
    pub operations: Vec<Operation>,
}

/// The paths of one group-version.
#[derive(Clone, Debug)]
pub(super) struct GroupVersion {
    /// `api/v1` or `apis/<group>/<version>`, as the v3 root names the document.
    pub path: String,
    pub group: String,
    pub version: String,
    pub items: Vec<PathItem>,
}

/// Which server publishes a resource: the operations of custom resources follow
/// apiextensions-apiserver, which differs from the built-in handlers in details clients see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flavor {
    Builtin,
    Custom,
}

/// The group-versions of `resources` in order of first appearance, with their paths.
pub(super) fn group_versions(
    resources: &[Arc<ResourceInfo>],
    catalogue: &Catalogue,
) -> Vec<GroupVersion> {
    let mut out: Vec<GroupVersion> = Vec::new();
    let schemas = SharedSchemas {
        scale: catalogue.scale.as_deref(),
        binding: catalogue.binding.as_deref(),
    };
    for (r, names) in resources.iter().zip(&catalogue.names) {
        let Some(names) = names else { continue };
        let index = match out
            .iter()
            .position(|gv| gv.group == r.group && gv.version == r.version)
        {
            Some(i) => i,
            None => {
                out.push(GroupVersion::new(&r.group, &r.version));
                out.len() - 1
            }
        };
        let scope = Scope::new(r, names, schemas, Flavor::Builtin);
        out[index].items.extend(scope.path_items());
    }
    out
}

/// The paths of one group-version of custom resources. Unlike built-in group-versions,
/// upstream publishes no resource list path (`/apis/<group>/<version>/`) for them.
pub(super) fn custom_group_version(
    group: &str,
    version: &str,
    kinds: &[(&ResourceInfo, &KindNames)],
    scale: &str,
) -> GroupVersion {
    let schemas = SharedSchemas {
        scale: Some(scale),
        binding: None,
    };
    let items = kinds
        .iter()
        .flat_map(|(r, names)| Scope::new(r, names, schemas, Flavor::Custom).path_items())
        .collect();
    GroupVersion {
        path: format!("apis/{group}/{version}"),
        group: group.to_string(),
        version: version.to_string(),
        items,
    }
}

impl GroupVersion {
    fn new(group: &str, version: &str) -> Self {
        let (path, id) = if group.is_empty() {
            (
                format!("api/{version}"),
                format!("Core{}", capitalize(version)),
            )
        } else {
            (
                format!("apis/{group}/{version}"),
                format!("{}{}", group_id(group), capitalize(version)),
            )
        };
        let resources_op = Operation {
            method: Method::Get,
            id: format!("get{id}APIResources"),
            description: "get the resources this group-version serves".into(),
            tag: tag(group, version),
            action: Action::Get,
            params: &[],
            body: None,
            consumes: OBJECT_CONSUMES,
            produces: OBJECT_PRODUCES,
            responses: responses(&[200], schemas::API_RESOURCE_LIST),
            gvk: None,
        };
        GroupVersion {
            items: vec![PathItem {
                path: format!("/{path}/"),
                params: Vec::new(),
                operations: vec![resources_op],
            }],
            path,
            group: group.to_string(),
            version: version.to_string(),
        }
    }
}

/// `apps` -> `Apps`, `rbac.authorization.k8s.io` -> `RbacAuthorization`: upstream's
/// group part of operation ids.
fn group_id(group: &str) -> String {
    let short = group.strip_suffix(".k8s.io").unwrap_or(group);
    short
        .split(['.', '-'])
        .map(capitalize)
        .collect::<Vec<_>>()
        .concat()
}

/// `core_v1`, `apps_v1`, `rbacAuthorization_v1`: upstream's tags.
fn tag(group: &str, version: &str) -> String {
    if group.is_empty() {
        return format!("core_{version}");
    }
    let id = group_id(group);
    let mut chars = id.chars();
    let first = chars.next().map(|c| c.to_ascii_lowercase());
    format!(
        "{}{}_{version}",
        first.into_iter().collect::<String>(),
        chars.as_str()
    )
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn responses(codes: &[u16], schema: &str) -> Vec<Response> {
    let mut out: Vec<Response> = codes
        .iter()
        .map(|&code| Response {
            code,
            schema: Some(schema.to_string()),
        })
        .collect();
    out.push(Response {
        code: 401,
        schema: None,
    });
    out
}

/// What an object-level operation acts on: the resource itself or a subresource view.
struct Target {
    /// Operation id tail: `NamespacedPod`, `NamespacedDeploymentScale`, `Node`.
    id: String,
    /// What the description names: `Pod`, `the status of a Pod`.
    noun: String,
    schema: String,
    gvk: Gvk,
}

/// Definition names of the request and response types subresources use.
#[derive(Clone, Copy)]
struct SharedSchemas<'a> {
    scale: Option<&'a str>,
    binding: Option<&'a str>,
}

/// Everything the operations of one resource share.
struct Scope<'a> {
    resource: &'a ResourceInfo,
    names: &'a KindNames,
    schemas: SharedSchemas<'a>,
    flavor: Flavor,
    /// `/api/v1` or `/apis/apps/v1`.
    prefix: String,
    /// `CoreV1`, `AppsV1`.
    gv_id: String,
    tag: String,
    gvk: Gvk,
}

impl<'a> Scope<'a> {
    fn new(
        resource: &'a ResourceInfo,
        names: &'a KindNames,
        schemas: SharedSchemas<'a>,
        flavor: Flavor,
    ) -> Self {
        let (prefix, gv_id) = if resource.group.is_empty() {
            (format!("/api/{}", resource.version), "Core".to_string())
        } else {
            (
                format!("/apis/{}/{}", resource.group, resource.version),
                group_id(&resource.group),
            )
        };
        Scope {
            resource,
            names,
            schemas,
            flavor,
            prefix,
            gv_id: format!("{gv_id}{}", capitalize(&resource.version)),
            tag: tag(&resource.group, &resource.version),
            gvk: Gvk::new(&resource.group, &resource.version, &resource.kind),
        }
    }

    fn path_items(&self) -> Vec<PathItem> {
        let mut items = vec![self.collection(), self.object()];
        if self.resource.namespaced {
            items.push(self.all_namespaces());
        }
        for sub in &self.resource.subresources {
            if let Some(item) = self.subresource(*sub) {
                items.push(item);
            }
        }
        items
    }

    fn namespaced_id(&self) -> String {
        let scope = if self.resource.namespaced {
            "Namespaced"
        } else {
            ""
        };
        format!("{scope}{}", self.resource.kind)
    }

    fn collection_path(&self) -> String {
        if self.resource.namespaced {
            format!(
                "{}/namespaces/{{namespace}}/{}",
                self.prefix, self.resource.plural
            )
        } else {
            format!("{}/{}", self.prefix, self.resource.plural)
        }
    }

    fn object_path(&self) -> String {
        format!("{}/{{name}}", self.collection_path())
    }

    fn path_params(&self, with_name: bool) -> Vec<Param> {
        let mut params = Vec::new();
        if with_name {
            params.push(Param {
                name: "name",
                location: Location::Path,
                ty: ParamType::String,
                description: format!("name of the {}", self.resource.kind).into(),
            });
        }
        if self.resource.namespaced {
            params.push(Param {
                name: "namespace",
                location: Location::Path,
                ty: ParamType::String,
                description: "namespace of the objects".into(),
            });
        }
        params.push(PRETTY);
        params
    }

    fn resource_target(&self) -> Target {
        Target {
            id: self.namespaced_id(),
            noun: self.resource.kind.clone(),
            schema: self.names.kind.clone(),
            gvk: self.gvk.clone(),
        }
    }

    fn operation(
        &self,
        method: Method,
        action: Action,
        id: String,
        description: String,
    ) -> Operation {
        let (consumes, params) = match (self.flavor, method) {
            (Flavor::Builtin, Method::Patch) => (PATCH_CONSUMES, PATCH_PARAMS),
            (Flavor::Custom, Method::Patch) => (CUSTOM_PATCH_CONSUMES, PATCH_PARAMS),
            (Flavor::Builtin, _) => (OBJECT_CONSUMES, &[][..]),
            // apiextensions-apiserver lists GetOptions on reads of custom resources.
            (Flavor::Custom, Method::Get) => (CUSTOM_OBJECT_CONSUMES, GET_PARAMS),
            (Flavor::Custom, _) => (CUSTOM_OBJECT_CONSUMES, &[][..]),
        };
        Operation {
            method,
            id,
            description,
            tag: self.tag.clone(),
            action,
            params,
            body: None,
            consumes,
            produces: OBJECT_PRODUCES,
            responses: Vec::new(),
            gvk: Some(self.gvk.clone()),
        }
    }

    fn collection(&self) -> PathItem {
        let kind = &self.resource.kind;
        let id = self.namespaced_id();
        let list = Operation {
            params: LIST_PARAMS,
            produces: self.list_produces(),
            responses: responses(&[200], &self.names.list),
            ..self.operation(
                Method::Get,
                Action::List,
                format!("list{}{id}", self.gv_id),
                format!("list or watch {kind} objects"),
            )
        };
        let create = Operation {
            params: WRITE_PARAMS,
            body: Some(Body {
                schema: self.names.kind.clone(),
                required: true,
            }),
            responses: responses(&[200, 201, 202], &self.names.kind),
            ..self.operation(
                Method::Post,
                Action::Post,
                format!("create{}{id}", self.gv_id),
                format!("create a {kind}"),
            )
        };
        // apiextensions-apiserver describes deletecollection with the list options only.
        let (params, body) = match self.flavor {
            Flavor::Builtin => (
                DELETE_COLLECTION_PARAMS,
                Some(Body {
                    schema: schemas::DELETE_OPTIONS.into(),
                    required: false,
                }),
            ),
            Flavor::Custom => (LIST_PARAMS, None),
        };
        let delete_collection = Operation {
            params,
            body,
            responses: responses(&[200], schemas::STATUS),
            ..self.operation(
                Method::Delete,
                Action::DeleteCollection,
                format!("delete{}Collection{id}", self.gv_id),
                format!("delete a collection of {kind} objects"),
            )
        };
        PathItem {
            path: self.collection_path(),
            params: self.path_params(false),
            operations: vec![list, create, delete_collection],
        }
    }

    fn object(&self) -> PathItem {
        let target = self.resource_target();
        let mut operations = self.read_write(&target);
        operations.push(Operation {
            params: DELETE_PARAMS,
            body: Some(Body {
                schema: schemas::DELETE_OPTIONS.into(),
                required: false,
            }),
            responses: responses(&[200, 202], schemas::STATUS),
            ..self.operation(
                Method::Delete,
                Action::Delete,
                format!("delete{}{}", self.gv_id, target.id),
                format!("delete a {}", target.noun),
            )
        });
        PathItem {
            path: self.object_path(),
            params: self.path_params(true),
            operations,
        }
    }

    /// Read, replace and patch of an object or of a subresource view of it.
    fn read_write(&self, target: &Target) -> Vec<Operation> {
        let with_target = |op: Operation| Operation {
            gvk: Some(target.gvk.clone()),
            ..op
        };
        let body = Some(Body {
            schema: target.schema.clone(),
            required: true,
        });
        let read = Operation {
            responses: responses(&[200], &target.schema),
            ..self.operation(
                Method::Get,
                Action::Get,
                format!("read{}{}", self.gv_id, target.id),
                format!("read {}", with_article(&target.noun)),
            )
        };
        let replace = Operation {
            params: WRITE_PARAMS,
            body,
            responses: responses(&[200, 201], &target.schema),
            ..self.operation(
                Method::Put,
                Action::Put,
                format!("replace{}{}", self.gv_id, target.id),
                format!("replace {}", with_article(&target.noun)),
            )
        };
        let patch_codes: &[u16] = match self.flavor {
            Flavor::Builtin => &[200, 201],
            Flavor::Custom => &[200],
        };
        let patch = Operation {
            body: Some(Body {
                schema: schemas::PATCH.into(),
                required: true,
            }),
            responses: responses(patch_codes, &target.schema),
            ..self.operation(
                Method::Patch,
                Action::Patch,
                format!("patch{}{}", self.gv_id, target.id),
                format!("partially update {}", with_article(&target.noun)),
            )
        };
        [read, replace, patch]
            .into_iter()
            .map(with_target)
            .collect()
    }

    fn all_namespaces(&self) -> PathItem {
        let kind = &self.resource.kind;
        let list = Operation {
            params: LIST_PARAMS,
            produces: self.list_produces(),
            responses: responses(&[200], &self.names.list),
            ..self.operation(
                Method::Get,
                Action::List,
                format!("list{}{kind}ForAllNamespaces", self.gv_id),
                format!("list or watch {kind} objects of every namespace"),
            )
        };
        PathItem {
            path: format!("{}/{}", self.prefix, self.resource.plural),
            params: vec![PRETTY],
            operations: vec![list],
        }
    }

    /// Custom resource lists are documented with the object encodings only.
    fn list_produces(&self) -> &'static [&'static str] {
        match self.flavor {
            Flavor::Builtin => LIST_PRODUCES,
            Flavor::Custom => OBJECT_PRODUCES,
        }
    }

    fn subresource(&self, sub: Subresource) -> Option<PathItem> {
        let kind = &self.resource.kind;
        let base = self.namespaced_id();
        let operations = match sub {
            Subresource::Status => self.read_write(&Target {
                id: format!("{base}Status"),
                noun: format!("the status of a {kind}"),
                schema: self.names.kind.clone(),
                gvk: self.gvk.clone(),
            }),
            Subresource::Scale => self.read_write(&Target {
                id: format!("{base}Scale"),
                noun: format!("the scale of a {kind}"),
                schema: self.schemas.scale?.to_string(),
                // apiextensions-apiserver tags every operation of a custom resource with
                // the resource's own kind, its scale operations included.
                gvk: match self.flavor {
                    Flavor::Builtin => Gvk::new("autoscaling", "v1", "Scale"),
                    Flavor::Custom => self.gvk.clone(),
                },
            }),
            Subresource::Binding => vec![self.binding(&base)?],
            Subresource::Finalize => self
                .read_write(&Target {
                    id: format!("{base}Finalize"),
                    noun: format!("the finalizers of a {kind}"),
                    schema: self.names.kind.clone(),
                    gvk: self.gvk.clone(),
                })
                .into_iter()
                .filter(|op| op.method == Method::Put)
                .collect(),
        };
        Some(PathItem {
            path: format!("{}/{}", self.object_path(), sub.name()),
            params: self.path_params(true),
            operations,
        })
    }

    fn binding(&self, base: &str) -> Option<Operation> {
        let schema = self.schemas.binding?.to_string();
        Some(Operation {
            params: WRITE_PARAMS,
            body: Some(Body {
                schema: schema.clone(),
                required: true,
            }),
            responses: responses(&[200, 201, 202], &schema),
            gvk: Some(Gvk::new("", "v1", "Binding")),
            ..self.operation(
                Method::Post,
                Action::Post,
                format!("create{}{base}Binding", self.gv_id),
                format!("bind a {} to a node", self.resource.kind),
            )
        })
    }
}

/// `a Pod`, `an Endpoints`; noun phrases that already start with `the` stay as they are.
fn with_article(noun: &str) -> String {
    if noun.starts_with("the ") {
        return noun.to_string();
    }
    let article = match noun.chars().next() {
        Some('A' | 'E' | 'I' | 'O' | 'U') => "an",
        _ => "a",
    };
    format!("{article} {noun}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_resources;

    fn all() -> Vec<GroupVersion> {
        let resources = builtin_resources();
        let catalogue = Catalogue::generate(&resources);
        group_versions(&resources, &catalogue)
    }

    fn find<'a>(gvs: &'a [GroupVersion], id: &str) -> (&'a PathItem, &'a Operation) {
        gvs.iter()
            .flat_map(|gv| &gv.items)
            .flat_map(|item| item.operations.iter().map(move |op| (item, op)))
            .find(|(_, op)| op.id == id)
            .unwrap_or_else(|| panic!("no operation {id}"))
    }

    #[test]
    fn operation_ids_and_paths_follow_upstream_names() {
        let gvs = all();
        let cases = [
            (
                "readCoreV1NamespacedPod",
                "/api/v1/namespaces/{namespace}/pods/{name}",
            ),
            ("listCoreV1PodForAllNamespaces", "/api/v1/pods"),
            (
                "deleteCoreV1CollectionNamespacedPod",
                "/api/v1/namespaces/{namespace}/pods",
            ),
            (
                "createCoreV1NamespacedPodBinding",
                "/api/v1/namespaces/{namespace}/pods/{name}/binding",
            ),
            (
                "patchCoreV1NamespaceStatus",
                "/api/v1/namespaces/{name}/status",
            ),
            ("listCoreV1Node", "/api/v1/nodes"),
            (
                "patchAppsV1NamespacedDeployment",
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            ),
            (
                "replaceAppsV1NamespacedDeploymentScale",
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
            ),
            (
                "listCoordinationV1NamespacedLease",
                "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
            ),
            (
                "readStorageV1StorageClass",
                "/apis/storage.k8s.io/v1/storageclasses/{name}",
            ),
            ("getEventsV1APIResources", "/apis/events.k8s.io/v1/"),
        ];
        for (id, path) in cases {
            assert_eq!(find(&gvs, id).0.path, path, "{id}");
        }
    }

    #[test]
    fn scale_operations_carry_the_autoscaling_kind() {
        let gvs = all();
        let (_, op) = find(&gvs, "patchAppsV1NamespacedStatefulSetScale");
        assert_eq!(op.gvk, Some(Gvk::new("autoscaling", "v1", "Scale")));
        assert_eq!(
            op.responses[0].schema.as_deref(),
            Some("io.k8s.api.autoscaling.v1.Scale")
        );
    }

    #[test]
    fn every_patch_accepts_the_four_patch_types_and_field_validation() {
        for gv in all() {
            for op in gv.items.iter().flat_map(|i| &i.operations) {
                if op.method == Method::Patch {
                    assert_eq!(op.consumes, PATCH_CONSUMES);
                    assert!(op.params.iter().any(|p| p.name == "fieldValidation"));
                }
            }
        }
    }

    #[test]
    fn group_ids_and_tags_follow_upstream_spelling() {
        assert_eq!(group_id("rbac.authorization.k8s.io"), "RbacAuthorization");
        assert_eq!(
            tag("rbac.authorization.k8s.io", "v1"),
            "rbacAuthorization_v1"
        );
        assert_eq!(tag("", "v1"), "core_v1");
        assert_eq!(with_article("Endpoints"), "an Endpoints");
    }
}
