"""Drives a skiff server with the official Kubernetes Python client.

Run by crates/cli/tests/python_client.rs with KUBECONFIG pointing at the server.
Exits non-zero (through an AssertionError) on the first failure.
"""

import threading

from kubernetes import client, config, watch


def crud(core):
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="py-cm", labels={"app": "py", "tier": "a"}),
        data={"k": "v"},
    )
    created = core.create_namespaced_config_map("default", body)
    assert created.metadata.uid, "created object has a uid"
    got = core.read_namespaced_config_map("py-cm", "default")
    assert got.data == {"k": "v"}
    got.data["k"] = "v2"
    replaced = core.replace_namespaced_config_map("py-cm", "default", got)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    patched = core.patch_namespaced_config_map("py-cm", "default", {"data": {"extra": "1"}})
    assert patched.data == {"k": "v2", "extra": "1"}
    stale = got
    stale.data["k"] = "stale"
    try:
        core.replace_namespaced_config_map("py-cm", "default", stale)
        raise AssertionError("a stale update must conflict")
    except client.exceptions.ApiException as e:
        assert e.status == 409, e.status
    core.delete_namespaced_config_map("py-cm", "default")
    try:
        core.read_namespaced_config_map("py-cm", "default")
        raise AssertionError("deleted object is still readable")
    except client.exceptions.ApiException as e:
        assert e.status == 404, e.status


def selectors(core):
    for name, tier in [("s1", "a"), ("s2", "b"), ("s3", "a")]:
        core.create_namespaced_config_map(
            "default",
            client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"tier": tier})),
        )
    names = lambda items: sorted(i.metadata.name for i in items)
    assert names(core.list_namespaced_config_map("default", label_selector="tier=a").items) == ["s1", "s3"]
    assert names(core.list_namespaced_config_map("default", label_selector="tier notin (a)").items) == ["s2"]
    assert names(core.list_namespaced_config_map("default", field_selector="metadata.name=s2").items) == ["s2"]
    page = core.list_namespaced_config_map("default", label_selector="tier", limit=2)
    assert len(page.items) == 2 and page.metadata._continue, "first page has a continue token"
    rest = core.list_namespaced_config_map("default", label_selector="tier", limit=2, _continue=page.metadata._continue)
    assert names(page.items + rest.items) == ["s1", "s2", "s3"]
    all_ns = core.list_config_map_for_all_namespaces(label_selector="tier")
    assert len(all_ns.items) == 3


def ordered_watch(core):
    start = core.list_namespaced_config_map("default").metadata.resource_version
    seen = []
    done = threading.Event()

    def follow():
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=start,
            timeout_seconds=30,
        ):
            obj = event["object"]
            seen.append((event["type"], obj.metadata.name, int(obj.metadata.resource_version)))
            if event["type"] == "DELETED" and obj.metadata.name == "w-last":
                w.stop()
        done.set()

    t = threading.Thread(target=follow)
    t.start()
    expected = []
    for i in range(20):
        core.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"w-{i}"))
        )
        expected.append(("ADDED", f"w-{i}"))
    for i in range(0, 20, 2):
        core.patch_namespaced_config_map(f"w-{i}", "default", {"data": {"n": str(i)}})
        expected.append(("MODIFIED", f"w-{i}"))
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w-last")))
    core.delete_namespaced_config_map("w-last", "default")
    expected += [("ADDED", "w-last"), ("DELETED", "w-last")]
    assert done.wait(30), "watch did not see the final deletion"
    t.join()
    assert [(t, n) for t, n, _ in seen] == expected, seen
    revisions = [r for _, _, r in seen]
    assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions), revisions


def main():
    config.load_kube_config()
    core = client.CoreV1Api()
    crud(core)
    selectors(core)
    ordered_watch(core)
    print("python client: all checks passed")


if __name__ == "__main__":
    main()
