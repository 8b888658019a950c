#!/usr/bin/env python3
"""Regenerates tables.rs, the wire schema behind skiff's protobuf decoder.

The schema joins two upstream sources for every message reachable from the kinds
skiff decodes: the generated.proto files (field numbers and wire types) and the
Go struct tags in the types.go files (JSON name, omitempty, pointer or value,
inline embedding), because the JSON form depends on all of them.

Usage (bare git mirrors of kubernetes/api and kubernetes/apimachinery):
    generate_schema.py API_GIT API_REF APIMACHINERY_GIT APIMACHINERY_REF > tables.rs
The output is not run through rustfmt (protobuf.rs skips it): one field a line reads
better than what rustfmt makes of the longer ones.
"""

import re
import subprocess
import sys

# (group, version, kind, proto message) of every kind skiff decodes.
ROOTS = [
    ("", "v1", "Namespace", "k8s.io.api.core.v1.Namespace"),
    ("", "v1", "Pod", "k8s.io.api.core.v1.Pod"),
    ("", "v1", "Service", "k8s.io.api.core.v1.Service"),
    ("", "v1", "Endpoints", "k8s.io.api.core.v1.Endpoints"),
    ("", "v1", "ConfigMap", "k8s.io.api.core.v1.ConfigMap"),
    ("", "v1", "Secret", "k8s.io.api.core.v1.Secret"),
    ("", "v1", "ServiceAccount", "k8s.io.api.core.v1.ServiceAccount"),
    ("", "v1", "Event", "k8s.io.api.core.v1.Event"),
    ("", "v1", "Node", "k8s.io.api.core.v1.Node"),
    ("", "v1", "PersistentVolume", "k8s.io.api.core.v1.PersistentVolume"),
    ("", "v1", "PersistentVolumeClaim", "k8s.io.api.core.v1.PersistentVolumeClaim"),
    ("", "v1", "LimitRange", "k8s.io.api.core.v1.LimitRange"),
    ("", "v1", "ResourceQuota", "k8s.io.api.core.v1.ResourceQuota"),
    ("", "v1", "Binding", "k8s.io.api.core.v1.Binding"),
    ("apps", "v1", "Deployment", "k8s.io.api.apps.v1.Deployment"),
    ("apps", "v1", "ReplicaSet", "k8s.io.api.apps.v1.ReplicaSet"),
    ("apps", "v1", "StatefulSet", "k8s.io.api.apps.v1.StatefulSet"),
    ("apps", "v1", "DaemonSet", "k8s.io.api.apps.v1.DaemonSet"),
    ("apps", "v1", "ControllerRevision", "k8s.io.api.apps.v1.ControllerRevision"),
    ("batch", "v1", "Job", "k8s.io.api.batch.v1.Job"),
    ("batch", "v1", "CronJob", "k8s.io.api.batch.v1.CronJob"),
    ("coordination.k8s.io", "v1", "Lease", "k8s.io.api.coordination.v1.Lease"),
    ("discovery.k8s.io", "v1", "EndpointSlice", "k8s.io.api.discovery.v1.EndpointSlice"),
    ("events.k8s.io", "v1", "Event", "k8s.io.api.events.v1.Event"),
    ("storage.k8s.io", "v1", "StorageClass", "k8s.io.api.storage.v1.StorageClass"),
    ("policy", "v1", "PodDisruptionBudget", "k8s.io.api.policy.v1.PodDisruptionBudget"),
    ("policy", "v1", "Eviction", "k8s.io.api.policy.v1.Eviction"),
    ("autoscaling", "v1", "Scale", "k8s.io.api.autoscaling.v1.Scale"),
    ("meta.k8s.io", "v1", "DeleteOptions", "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"),
]

# Messages with their own JSON form that the decoder does not implement yet: reaching
# one from a root is an error, so that it gets implemented rather than mis-rendered.
UNSUPPORTED = {"k8s.io.apimachinery.pkg.apis.meta.v1.Duration"}

# Messages with their own JSON form, decoded by hand-written code.
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "Ty::Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "Ty::MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "Ty::RawJson",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "Ty::RawJson",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Ty::Quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "Ty::IntOrString",
}

SCALARS = {
    "string": "Ty::String",
    "bool": "Ty::Bool",
    "int32": "Ty::Int32",
    "int64": "Ty::Int64",
    "bytes": "Ty::Bytes",
}


def git_show(git_dir, ref, path):
    return subprocess.run(
        ["git", "--git-dir", git_dir, "show", f"{ref}:{path}"],
        check=True, capture_output=True, text=True,
    ).stdout


def git_ls(git_dir, ref, folder):
    out = subprocess.run(
        ["git", "--git-dir", git_dir, "ls-tree", "--name-only", ref, folder + "/"],
        check=True, capture_output=True, text=True,
    ).stdout
    return out.split()


def package_sources(api, apimachinery):
    """Maps each proto package to (git dir, ref, folder)."""
    sources = {}
    for group in ["core", "apps", "batch", "coordination", "discovery", "events",
                  "storage", "policy", "autoscaling"]:
        sources[f"k8s.io.api.{group}.v1"] = (api[0], api[1], f"{group}/v1")
    sources["k8s.io.apimachinery.pkg.apis.meta.v1"] = (*apimachinery, "pkg/apis/meta/v1")
    sources["k8s.io.apimachinery.pkg.runtime"] = (*apimachinery, "pkg/runtime")
    return sources


FIELD_RE = re.compile(r"^\s*(optional|repeated|required)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*;")
MAP_RE = re.compile(r"^\s*map<\s*(\w+)\s*,\s*(\S+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")


def parse_proto(text):
    """Returns {message: [(label, type, name, number)]}; map fields have label 'map'."""
    package = re.search(r"^package\s+([\w.]+);", text, re.M).group(1)
    messages, current = {}, None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        m = re.match(r"^message\s+(\w+)\s*\{", stripped)
        if m:
            current = f"{package}.{m.group(1)}"
            messages[current] = []
            continue
        if stripped == "}":
            current = None
            continue
        if current is None:
            continue
        m = MAP_RE.match(line)
        if m:
            key, value, name, number = m.groups()
            messages[current].append(("map", (key, qualify(value, package)), name, int(number)))
            continue
        m = FIELD_RE.match(line)
        if m:
            label, ty, name, number = m.groups()
            messages[current].append((label, qualify(ty, package), name, int(number)))
    return messages


def qualify(ty, package):
    if ty in SCALARS:
        return ty
    if ty.startswith("."):
        return ty[1:]
    return f"{package}.{ty}"


TAG_RE = re.compile(r'(\w+):"([^"]*)"')


def parse_go_structs(text):
    """Returns {struct: [(go type, json tag, protobuf tag)]} and the names of non-struct types."""
    structs, others, current = {}, set(), None
    for line in text.splitlines():
        m = re.match(r"^type\s+(\w+)\s+struct\s*\{", line)
        if m:
            current = m.group(1)
            structs[current] = []
            continue
        m = re.match(r"^type\s+(\w+)\s+\S", line)
        if m:
            others.add(m.group(1))
            continue
        if line.startswith("}"):
            current = None
            continue
        if current is None or "`" not in line:
            continue
        code, tag = line.split("`")[0].strip(), line.split("`")[1]
        if code.startswith("//"):
            continue
        tags = dict(TAG_RE.findall(tag))
        parts = code.split()
        go_type = parts[1] if len(parts) >= 2 else parts[0]
        structs[current].append((go_type, tags.get("json"), tags.get("protobuf")))
    return structs, others


def load_go(sources):
    """Returns {proto package: ({struct: fields}, {non-struct type names})}."""
    loaded = {}
    for package, (git_dir, ref, folder) in sources.items():
        structs, others = {}, set()
        for path in git_ls(git_dir, ref, folder):
            name = path.rsplit("/", 1)[-1]
            if not name.endswith(".go") or name.endswith("_test.go") or ".pb." in name:
                continue
            s, o = parse_go_structs(git_show(git_dir, ref, path))
            structs.update(s)
            others |= o
        loaded[package] = (structs, others)
    return loaded


def go_field(go, message, number):
    package, _, struct = message.rpartition(".")
    structs, _ = go[package]
    for go_type, json_tag, pb_tag in structs[struct]:
        if pb_tag and pb_tag != "-" and int(pb_tag.split(",")[1]) == number:
            return go_type, json_tag or ""
    raise SystemExit(f"no Go field for {message} #{number}")


def describe(go, message, label, ty, number):
    """Returns (json name, emit, shape, ty) of one field, or None to skip it."""
    go_type, json_tag = go_field(go, message, number)
    json_name, *options = json_tag.split(",")
    if json_name == "-":
        return None
    if label == "map":
        key, value = ty
        if key != "string":
            raise SystemExit(f"{message} #{number}: map key {key}")
        return json_name, "NonEmpty", "Map", type_ref(go, value)
    if label == "repeated":
        return json_name, "NonEmpty", "List", type_ref(go, ty)
    if go_type.startswith("*"):
        emit = "IfPresent"
    elif ty in SCALARS:
        emit = "NonEmpty" if "omitempty" in options else "Always"
    else:
        # encoding/json ignores omitempty on structs.
        emit = "Always"
    return json_name, emit, "One", type_ref(go, ty)


def type_ref(go, ty):
    if ty in UNSUPPORTED:
        raise SystemExit(f"{ty} is reachable but has no decoder")
    if ty in SCALARS:
        return SCALARS[ty]
    if ty in SPECIAL:
        return SPECIAL[ty]
    package, _, name = ty.rpartition(".")
    if name in go[package][1]:
        raise SystemExit(f"{ty} is not a Go struct")
    return f"Ty::Message(&{static_name(ty)})"


def static_name(message):
    short = short_name(message).replace(".", "_")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", short).upper()


def short_name(message):
    return message.replace("k8s.io.api.", "").replace("k8s.io.apimachinery.pkg.apis.", "")


def children(protos, message):
    for label, ty, _, _ in protos[message]:
        target = ty[1] if label == "map" else ty
        if target not in SCALARS and target not in SPECIAL:
            yield target


def reachable(protos):
    """Lists the messages reachable from ROOTS, failing on a cycle: the decoder recurses
    along the schema, so an acyclic schema bounds its depth whatever the input."""
    done, visiting = set(), set()

    def visit(message):
        if message in visiting:
            raise SystemExit(f"cycle through {message}")
        if message in done:
            return
        visiting.add(message)
        for child in children(protos, message):
            visit(child)
        visiting.discard(message)
        done.add(message)

    for root in ROOTS:
        visit(root[3])
    return sorted(done)


def render(protos, go, refs):
    out = [
        "//! Generated by generate_schema.py from upstream's generated.proto files and Go struct",
        f"//! tags (kubernetes/api {refs[0]}, kubernetes/apimachinery {refs[1]}); do not edit.",
        "",
        "use super::schema::Emit::{Always, IfPresent, NonEmpty};",
        "use super::schema::Shape::{List, Map, One};",
        "use super::schema::{Message, Ty, field};",
        "",
        "/// (group, version, kind) of each decodable kind and its top-level message.",
        "pub(super) static ROOTS: &[(&str, &str, &str, &Message)] = &[",
    ]
    for group, version, kind, message in ROOTS:
        out.append(f'    ("{group}", "{version}", "{kind}", &{static_name(message)}),')
    out.append("];")
    for message in reachable(protos):
        out += ["", f"pub(super) static {static_name(message)}: Message = Message {{",
                f'    name: "{short_name(message)}",', "    fields: &["]
        for label, ty, _, number in order_like_go(go, message, protos[message]):
            described = describe(go, message, label, ty, number)
            if described is None:
                continue
            json_name, emit, shape, ty_ref = described
            out.append(f'        field({number}, "{json_name}", {emit}, {shape}, {ty_ref}),')
        out += ["    ],", "};"]
    out.append("")
    return "\n".join(out)


def order_like_go(go, message, fields):
    """Sorts the proto fields into Go struct order, which is the JSON field order."""
    package, _, struct = message.rpartition(".")
    numbers = [int(tag.split(",")[1]) for _, _, tag in go[package][0][struct]
               if tag and tag != "-"]
    return sorted(fields, key=lambda f: numbers.index(f[3]))


def main():
    api_git, api_ref, am_git, am_ref = sys.argv[1:5]
    sources = package_sources((api_git, api_ref), (am_git, am_ref))
    protos = {}
    for git_dir, ref, folder in sources.values():
        protos.update(parse_proto(git_show(git_dir, ref, f"{folder}/generated.proto")))
    print(render(protos, load_go(sources), (api_ref, am_ref)))


if __name__ == "__main__":
    main()
