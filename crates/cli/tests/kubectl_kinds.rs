//! End to end with the real kubectl: every built-in kind can be created, read,
//! described and deleted.

mod common;

use common::TestServer;

/// One manifest per served kind, with the resource name kubectl uses for it.
const MANIFESTS: &[(&str, &str, &str)] = &[
    (
        "configmaps",
        "cm1",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm1}\ndata: {a: b}\n",
    ),
    (
        "secrets",
        "s1",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s1}\nstringData: {password: hunter2}\n",
    ),
    (
        "serviceaccounts",
        "sa1",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa1}\n",
    ),
    (
        "pods",
        "p1",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p1, labels: {app: p1}}\nspec:\n  containers:\n  - {name: c, image: busybox:1.36, command: [sleep, '3600']}\n",
    ),
    (
        "services",
        "svc1",
        "apiVersion: v1\nkind: Service\nmetadata: {name: svc1}\nspec:\n  selector: {app: p1}\n  ports:\n  - {port: 80, targetPort: 8080}\n",
    ),
    (
        "endpoints",
        "ep1",
        "apiVersion: v1\nkind: Endpoints\nmetadata: {name: ep1}\nsubsets:\n- addresses: [{ip: 10.0.0.1}]\n  ports: [{port: 80}]\n",
    ),
    (
        "events",
        "ev1",
        "apiVersion: v1\nkind: Event\nmetadata: {name: ev1}\ninvolvedObject: {kind: Pod, name: p1, namespace: default}\nreason: Testing\nmessage: hello\ntype: Normal\nfirstTimestamp: '2026-01-01T00:00:00Z'\nlastTimestamp: '2026-01-01T00:00:00Z'\ncount: 1\nsource: {component: e2e}\n",
    ),
    (
        "events.events.k8s.io",
        "ev2",
        "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: ev2}\nregarding: {kind: Pod, name: p1, namespace: default}\nreason: Testing\nnote: hello\ntype: Normal\naction: Test\neventTime: '2026-01-01T00:00:00.000000Z'\nreportingController: e2e\nreportingInstance: e2e-1\n",
    ),
    (
        "nodes",
        "node1",
        "apiVersion: v1\nkind: Node\nmetadata: {name: node1, labels: {kubernetes.io/hostname: node1}}\nspec: {podCIDR: 10.244.1.0/24}\n",
    ),
    (
        "persistentvolumes",
        "pv1",
        "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv1}\nspec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  hostPath: {path: /tmp/pv1}\n",
    ),
    (
        "persistentvolumeclaims",
        "pvc1",
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: pvc1}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
    ),
    (
        "limitranges",
        "lr1",
        "apiVersion: v1\nkind: LimitRange\nmetadata: {name: lr1}\nspec:\n  limits:\n  - type: Container\n    default: {cpu: 500m}\n",
    ),
    (
        "resourcequotas",
        "rq1",
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: rq1}\nspec:\n  hard: {pods: '10'}\n",
    ),
    (
        "leases.coordination.k8s.io",
        "l1",
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: l1}\nspec: {holderIdentity: me, leaseDurationSeconds: 10}\n",
    ),
    (
        "deployments.apps",
        "d1",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d1}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: d1}}\n  template:\n    metadata: {labels: {app: d1}}\n    spec:\n      containers: [{name: c, image: 'nginx:1.27'}]\n",
    ),
    (
        "replicasets.apps",
        "rs1",
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs1}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: rs1}}\n  template:\n    metadata: {labels: {app: rs1}}\n    spec:\n      containers: [{name: c, image: 'nginx:1.27'}]\n",
    ),
    (
        "statefulsets.apps",
        "sts1",
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: sts1}\nspec:\n  serviceName: sts1\n  selector: {matchLabels: {app: sts1}}\n  template:\n    metadata: {labels: {app: sts1}}\n    spec:\n      containers: [{name: c, image: 'nginx:1.27'}]\n",
    ),
    (
        "daemonsets.apps",
        "ds1",
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds1}\nspec:\n  selector: {matchLabels: {app: ds1}}\n  template:\n    metadata: {labels: {app: ds1}}\n    spec:\n      containers: [{name: c, image: 'nginx:1.27'}]\n",
    ),
    (
        "controllerrevisions.apps",
        "cr1",
        "apiVersion: apps/v1\nkind: ControllerRevision\nmetadata: {name: cr1}\nrevision: 1\ndata: {spec: {}}\n",
    ),
    (
        "jobs.batch",
        "j1",
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j1}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: 'busybox:1.36', command: ['true']}]\n",
    ),
    (
        "cronjobs.batch",
        "cj1",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj1}\nspec:\n  schedule: '*/5 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers: [{name: c, image: 'busybox:1.36'}]\n",
    ),
    (
        "endpointslices.discovery.k8s.io",
        "es1",
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: es1}\naddressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\nports:\n- {port: 80}\n",
    ),
    (
        "storageclasses.storage.k8s.io",
        "sc1",
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: sc1}\nprovisioner: skiff.io/local\n",
    ),
    (
        "poddisruptionbudgets.policy",
        "pdb1",
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: pdb1}\nspec:\n  minAvailable: 1\n  selector: {matchLabels: {app: d1}}\n",
    ),
    (
        "namespaces",
        "ns1",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns1}\n",
    ),
];

#[test]
fn every_kind_can_be_created_read_described_and_deleted() {
    let server = TestServer::start();
    for (resource, name, manifest) in MANIFESTS {
        let created = server.kubectl_apply_stdin(&["create", "-f", "-"], manifest);
        assert!(created.contains(name), "create {resource}: {created}");
        let got = server.kubectl_ok(&["get", resource, name, "-o", "json"]);
        let obj: serde_json::Value = serde_json::from_str(&got).expect("json");
        assert_eq!(obj["metadata"]["name"], *name, "{resource}");
        assert!(
            obj["metadata"]["uid"]
                .as_str()
                .is_some_and(|u| !u.is_empty()),
            "{resource} uid"
        );
        let table = server.kubectl_ok(&["get", resource, name]);
        assert_eq!(table.lines().count(), 2, "{resource} table: {table}");
        assert!(
            table.contains(name) || resource.starts_with("events"),
            "{resource}: {table}"
        );
        let described = server.kubectl_ok(&["describe", resource, name]);
        assert!(described.contains(name), "describe {resource}: {described}");
    }
    for (resource, name, _) in MANIFESTS.iter().rev() {
        if *resource == "namespaces" {
            continue;
        }
        let out = server.kubectl_ok(&["delete", resource, name]);
        assert!(out.contains("deleted"), "delete {resource}: {out}");
        let gone = server.kubectl(&["get", resource, name]);
        assert!(
            !gone.status.success(),
            "{resource} still there after delete"
        );
        assert!(
            String::from_utf8_lossy(&gone.stderr).contains("NotFound"),
            "{resource}"
        );
    }
}

#[test]
fn deleting_a_namespace_marks_it_terminating_and_refuses_new_objects() {
    let server = TestServer::start();
    server.kubectl_ok(&["create", "namespace", "doomed"]);
    // A finalizer on its content keeps the namespace controller from removing it.
    server.kubectl_apply_stdin(
        &["apply", "-n", "doomed", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, finalizers: [example.com/hold]}\n",
    );
    server.kubectl_ok(&["delete", "namespace", "doomed", "--wait=false"]);
    let phase = server.kubectl_ok(&["get", "ns", "doomed", "-o", "jsonpath={.status.phase}"]);
    assert_eq!(phase, "Terminating");
    let out = server.kubectl(&["create", "configmap", "x", "-n", "doomed"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("being terminated"), "{err}");
}

#[test]
fn objects_need_an_existing_namespace() {
    let server = TestServer::start();
    let out = server.kubectl(&["create", "configmap", "x", "-n", "nowhere"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("namespaces \"nowhere\" not found"), "{err}");
}
