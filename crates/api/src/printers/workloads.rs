//! Rows of workload controllers: deployments, replica sets, stateful sets, daemon
//! sets, controller revisions, jobs, cron jobs and pod disruption budgets.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::cells::{
    age, container_cells, format_label_selector, format_labels, int, int_or_string, list, name,
    since, text, timestamp,
};
use super::duration::human_duration;
use super::{AGE, CONTAINERS, IMAGES, NAME, Printer, SELECTOR, col};
use crate::selectors::LabelSelector;

pub(super) const DEPLOYMENTS: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", "string", "Ready pods out of the desired replicas."),
        col("Up-to-date", "string", "Pods running the latest template."),
        col("Available", "string", "Pods available to serve."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    row: deployment_row,
};

fn deployment_row(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (spec, status) = (&obj["spec"], &obj["status"]);
    let (containers, images) = container_cells(&spec["template"]["spec"]);
    // Unlike the other kinds, an empty selector prints as nothing, not "<none>".
    let selector = LabelSelector::from_label_selector_json(&spec["selector"])
        .map(|s| s.to_string())
        .unwrap_or_else(|_| "<invalid>".to_string());
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            int(&status["readyReplicas"]),
            int(&spec["replicas"])
        )),
        json!(int(&status["updatedReplicas"])),
        json!(int(&status["availableReplicas"])),
        age(obj, now),
        containers,
        images,
        json!(selector),
    ]
}

pub(super) const REPLICA_SETS: Printer = Printer {
    columns: &[
        NAME,
        col("Desired", "integer", "Number of replicas wanted."),
        col("Current", "integer", "Number of replicas that exist."),
        col("Ready", "integer", "Number of ready replicas."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    row: replica_set_row,
};

fn replica_set_row(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (spec, status) = (&obj["spec"], &obj["status"]);
    let (containers, images) = container_cells(&spec["template"]["spec"]);
    vec![
        name(obj),
        json!(int(&spec["replicas"])),
        json!(int(&status["replicas"])),
        json!(int(&status["readyReplicas"])),
        age(obj, now),
        containers,
        images,
        json!(format_label_selector(&spec["selector"])),
    ]
}

pub(super) const STATEFUL_SETS: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", "string", "Ready pods out of the desired replicas."),
        AGE,
        CONTAINERS,
        IMAGES,
    ],
    row: stateful_set_row,
};

fn stateful_set_row(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (spec, status) = (&obj["spec"], &obj["status"]);
    let (containers, images) = container_cells(&spec["template"]["spec"]);
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            int(&status["readyReplicas"]),
            int(&spec["replicas"])
        )),
        age(obj, now),
        containers,
        images,
    ]
}

pub(super) const DAEMON_SETS: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Desired",
            "integer",
            "Nodes that should run the daemon pod.",
        ),
        col(
            "Current",
            "integer",
            "Nodes running at least one daemon pod.",
        ),
        col("Ready", "integer", "Nodes with a ready daemon pod."),
        col(
            "Up-to-date",
            "integer",
            "Nodes running the latest template.",
        ),
        col(
            "Available",
            "integer",
            "Nodes with an available daemon pod.",
        ),
        col(
            "Node Selector",
            "string",
            "Labels a node needs to run the daemon pod.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    row: daemon_set_row,
};

fn daemon_set_row(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (spec, status) = (&obj["spec"], &obj["status"]);
    let pod_spec = &spec["template"]["spec"];
    let (containers, images) = container_cells(pod_spec);
    vec![
        name(obj),
        json!(int(&status["desiredNumberScheduled"])),
        json!(int(&status["currentNumberScheduled"])),
        json!(int(&status["numberReady"])),
        json!(int(&status["updatedNumberScheduled"])),
        json!(int(&status["numberAvailable"])),
        json!(format_labels(&pod_spec["nodeSelector"])),
        age(obj, now),
        containers,
        images,
        json!(format_label_selector(&spec["selector"])),
    ]
}

pub(super) const CONTROLLER_REVISIONS: Printer = Printer {
    columns: &[
        NAME,
        col("Controller", "string", "The object that owns the revision."),
        col("Revision", "string", "Revision number of the saved state."),
        AGE,
    ],
    row: |obj, now| {
        vec![
            name(obj),
            json!(controller_of(obj)),
            json!(int(&obj["revision"])),
            age(obj, now),
        ]
    },
};

/// The controlling owner as `kind.group/name` in lower case, or "<none>".
fn controller_of(obj: &Value) -> String {
    let owners = list(&obj["metadata"]["ownerReferences"]);
    let Some(owner) = owners.iter().find(|o| o["controller"] == true) else {
        return "<none>".to_string();
    };
    let group = text(&owner["apiVersion"])
        .rsplit_once('/')
        .map_or("", |(g, _)| g);
    let kind = text(&owner["kind"]);
    let group_kind = match (kind, group) {
        ("", "") => return text(&owner["name"]).to_string(),
        (kind, "") => kind.to_string(),
        (kind, group) => format!("{kind}.{group}"),
    };
    format!("{}/{}", group_kind.to_lowercase(), text(&owner["name"]))
}

pub(super) const JOBS: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Status",
            "string",
            "Whether the job runs, completed, failed or is suspended.",
        ),
        col(
            "Completions",
            "string",
            "Succeeded pods out of the completions wanted.",
        ),
        col(
            "Duration",
            "string",
            "How long the job ran, or has been running.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    row: job_row,
};

fn job_row(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = &obj["spec"];
    let (containers, images) = container_cells(&spec["template"]["spec"]);
    vec![
        name(obj),
        json!(job_status(obj)),
        json!(job_completions(obj)),
        json!(job_duration(&obj["status"], now)),
        age(obj, now),
        containers,
        images,
        json!(format_label_selector(&spec["selector"])),
    ]
}

/// The first matching of the terminal conditions, deletion, and the transient
/// conditions, in upstream's order of precedence.
fn job_status(job: &Value) -> &'static str {
    let conditions = list(&job["status"]["conditions"]);
    let holds = |kind: &str| {
        let first = conditions.iter().find(|c| c["type"] == kind);
        first.is_some_and(|c| c["status"] == "True")
    };
    if holds("Complete") {
        "Complete"
    } else if holds("Failed") {
        "Failed"
    } else if !job["metadata"]["deletionTimestamp"].is_null() {
        "Terminating"
    } else if holds("Suspended") {
        "Suspended"
    } else if holds("FailureTarget") {
        "FailureTarget"
    } else if holds("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    }
}

/// "2/3" against spec.completions; without it "2/1", or "2/1 of 4" when
/// several pods run in parallel.
fn job_completions(job: &Value) -> String {
    let succeeded = int(&job["status"]["succeeded"]);
    if let Some(completions) = job["spec"]["completions"].as_i64() {
        return format!("{succeeded}/{completions}");
    }
    match int(&job["spec"]["parallelism"]) {
        p if p > 1 => format!("{succeeded}/1 of {p}"),
        _ => format!("{succeeded}/1"),
    }
}

fn job_duration(status: &Value, now: DateTime<Utc>) -> String {
    let Some(start) = timestamp(&status["startTime"]) else {
        return String::new();
    };
    let end = timestamp(&status["completionTime"]).unwrap_or(now);
    human_duration(end - start)
}

pub(super) const CRON_JOBS: Printer = Printer {
    columns: &[
        NAME,
        col("Schedule", "string", "Cron schedule of the job."),
        col("Timezone", "string", "Time zone the schedule is read in."),
        col("Suspend", "boolean", "Whether new runs are held back."),
        col("Active", "integer", "Number of jobs running."),
        col(
            "Last Schedule",
            "string",
            "Time since a job was last scheduled.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    row: cron_job_row,
};

fn cron_job_row(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (spec, status) = (&obj["spec"], &obj["status"]);
    let job_spec = &spec["jobTemplate"]["spec"];
    let (containers, images) = container_cells(&job_spec["template"]["spec"]);
    let last_schedule = match status["lastScheduleTime"] {
        Value::Null => "<none>".to_string(),
        ref t => since(t, now),
    };
    vec![
        name(obj),
        json!(text(&spec["schedule"])),
        json!(spec["timeZone"].as_str().unwrap_or("<none>")),
        json!(bool_text(&spec["suspend"])),
        json!(list(&status["active"]).len()),
        json!(last_schedule),
        age(obj, now),
        containers,
        images,
        json!(format_label_selector(&job_spec["selector"])),
    ]
}

/// "True", "False" or "<unset>", as upstream prints optional booleans.
fn bool_text(v: &Value) -> &'static str {
    match v.as_bool() {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

pub(super) const POD_DISRUPTION_BUDGETS: Printer = Printer {
    columns: &[
        NAME,
        col("Min Available", "string", "Pods that must stay available."),
        col("Max Unavailable", "string", "Pods that may be unavailable."),
        col(
            "Allowed Disruptions",
            "integer",
            "Pods that may be disrupted now.",
        ),
        AGE,
    ],
    row: |obj, now| {
        let (spec, status) = (&obj["spec"], &obj["status"]);
        let or_na = |v: &Value| int_or_string(v).unwrap_or_else(|| "N/A".to_string());
        vec![
            name(obj),
            json!(or_na(&spec["minAvailable"])),
            json!(or_na(&spec["maxUnavailable"])),
            json!(int(&status["disruptionsAllowed"])),
            age(obj, now),
        ]
    },
};

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse().unwrap_or_default()
    }

    fn template() -> Value {
        json!({"spec": {"containers": [
            {"name": "web", "image": "nginx:1.27"},
            {"name": "log", "image": "busybox"}
        ]}})
    }

    #[test]
    fn deployment_row_shows_ready_of_desired_and_wide_cells() {
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": "2025-06-01T09:00:00Z"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": template()
            },
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        assert_eq!(
            deployment_row(&d, now()),
            [
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("3h"),
                json!("web,log"),
                json!("nginx:1.27,busybox"),
                json!("app=web")
            ]
        );
    }

    #[test]
    fn deployment_columns_put_containers_images_and_selector_in_wide_view() {
        let wide: Vec<_> = DEPLOYMENTS
            .columns
            .iter()
            .filter(|c| c.priority == 1)
            .map(|c| c.name)
            .collect();
        assert_eq!(wide, ["Containers", "Images", "Selector"]);
    }

    #[test]
    fn replica_set_row_shows_counts_and_selector() {
        let rs = json!({
            "metadata": {"name": "web-5d4f"},
            "spec": {"replicas": 2, "template": template(), "selector": {
                "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
            }},
            "status": {"replicas": 2}
        });
        let cells = replica_set_row(&rs, now());
        assert_eq!(cells[1..4], [json!(2), json!(2), json!(0)]);
        assert_eq!(cells[4], "<unknown>");
        assert_eq!(cells[7], "tier notin (db)");
    }

    #[test]
    fn daemon_set_row_shows_node_selector() {
        let ds = json!({
            "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}},
            "status": {"desiredNumberScheduled": 3, "numberReady": 1}
        });
        let cells = daemon_set_row(&ds, now());
        assert_eq!(
            cells[1..7],
            [
                json!(3),
                json!(0),
                json!(1),
                json!(0),
                json!(0),
                json!("kubernetes.io/os=linux")
            ]
        );
        assert_eq!(cells[10], "<none>");
    }

    #[test]
    fn stateful_set_row_shows_ready_of_desired() {
        let sts = json!({"spec": {"replicas": 3}, "status": {"readyReplicas": 3}});
        assert_eq!(stateful_set_row(&sts, now())[1], "3/3");
    }

    #[test]
    fn controller_revision_names_its_controller_with_group() {
        let rev = json!({
            "metadata": {"ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "controller": true}
            ]},
            "revision": 4
        });
        let cells = (CONTROLLER_REVISIONS.row)(&rev, now());
        assert_eq!(cells[1..3], [json!("daemonset.apps/agent"), json!(4)]);
        assert_eq!((CONTROLLER_REVISIONS.row)(&json!({}), now())[1], "<none>");
    }

    #[test]
    fn job_row_shows_status_completions_and_duration() {
        let job = json!({
            "spec": {"completions": 3, "template": template()},
            "status": {
                "succeeded": 3,
                "startTime": "2025-06-01T11:00:00Z",
                "completionTime": "2025-06-01T11:02:05Z",
                "conditions": [{"type": "Complete", "status": "True"}]
            }
        });
        let cells = job_row(&job, now());
        assert_eq!(
            cells[1..4],
            [json!("Complete"), json!("3/3"), json!("2m5s")]
        );
    }

    #[test]
    fn running_job_duration_counts_up_to_now() {
        let job =
            json!({"spec": {"parallelism": 4}, "status": {"startTime": "2025-06-01T11:59:50Z"}});
        let cells = job_row(&job, now());
        assert_eq!(
            cells[1..4],
            [json!("Running"), json!("0/1 of 4"), json!("10s")]
        );
        let unstarted = job_row(&json!({}), now());
        assert_eq!(unstarted[2..4], [json!("0/1"), json!("")]);
    }

    #[test]
    fn job_status_follows_upstream_precedence() {
        let with = |conditions: Value, deleting: bool| {
            let mut job = json!({"status": {"conditions": conditions}});
            if deleting {
                job["metadata"] = json!({"deletionTimestamp": "2025-06-01T11:00:00Z"});
            }
            job_status(&job)
        };
        let failed = json!([{"type": "Failed", "status": "True"}]);
        assert_eq!(with(failed.clone(), true), "Failed");
        let suspended = json!([{"type": "Suspended", "status": "True"}]);
        assert_eq!(with(suspended.clone(), true), "Terminating");
        assert_eq!(with(suspended, false), "Suspended");
        let not_yet = json!([{"type": "Complete", "status": "False"}]);
        assert_eq!(with(not_yet, false), "Running");
    }

    #[test]
    fn cron_job_row_shows_schedule_suspend_and_last_run() {
        let cj = json!({
            "spec": {"schedule": "*/5 * * * *", "suspend": false, "jobTemplate": {"spec": {
                "template": template()
            }}},
            "status": {"active": [{"name": "a"}], "lastScheduleTime": "2025-06-01T11:55:00Z"}
        });
        let cells = cron_job_row(&cj, now());
        assert_eq!(
            cells[1..6],
            [
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("5m")
            ]
        );
        let never = cron_job_row(&json!({"spec": {"timeZone": "Etc/UTC"}}), now());
        assert_eq!(
            never[2..6],
            [
                json!("Etc/UTC"),
                json!("<unset>"),
                json!(0),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn pod_disruption_budget_row_prints_int_or_percent_or_na() {
        let pdb = json!({"spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        let cells = (POD_DISRUPTION_BUDGETS.row)(&pdb, now());
        assert_eq!(cells[1..4], [json!("50%"), json!("N/A"), json!(1)]);
        let by_count = json!({"spec": {"maxUnavailable": 1}});
        assert_eq!((POD_DISRUPTION_BUDGETS.row)(&by_count, now())[2], "1");
    }
}
