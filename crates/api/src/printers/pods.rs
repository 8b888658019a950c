//! Pod rows: READY, STATUS and RESTARTS summarised from container states the way
//! kubectl shows them.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::cells::{age, int, list, name, or_none, text, timestamp};
use super::duration::human_duration;
use super::{AGE, Column, NAME, Printer, col, wide};

pub(super) const PODS: Printer = Printer {
    columns: COLUMNS,
    row,
};

const COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        "Ready containers out of all the pod's containers.",
    ),
    col(
        "Status",
        "string",
        "Summary of the pod's phase and its containers' states.",
    ),
    col(
        "Restarts",
        "string",
        "Container restarts, and how long ago the last one was.",
    ),
    AGE,
    wide("IP", "string", "IP address of the pod."),
    wide("Node", "string", "Node the pod is bound to."),
    wide(
        "Nominated Node",
        "string",
        "Node the scheduler nominated for the pod.",
    ),
    wide(
        "Readiness Gates",
        "string",
        "Readiness gates whose condition is true, out of all.",
    ),
];

fn row(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let summary = PodSummary::of(pod);
    vec![
        name(pod),
        json!(format!("{}/{}", summary.ready, summary.total)),
        json!(summary.reason),
        json!(summary.restarts.describe(now)),
        age(pod, now),
        json!(or_none(pod_ip(pod))),
        json!(or_none(text(&pod["spec"]["nodeName"]))),
        json!(or_none(text(&pod["status"]["nominatedNodeName"]))),
        json!(readiness_gates(pod)),
    ]
}

/// Restart count and the time the last restarted container had finished.
#[derive(Clone, Copy, Default)]
struct Restarts {
    count: i64,
    last: Option<DateTime<Utc>>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count += int(&status["restartCount"]);
        let finished = timestamp(&status["lastState"]["terminated"]["finishedAt"]);
        self.last = self.last.max(finished);
    }

    /// "3", or "3 (5m ago)" when the time of the last restart is known.
    fn describe(self, now: DateTime<Utc>) -> String {
        match self.last {
            Some(last) if self.count != 0 => {
                format!("{} ({} ago)", self.count, human_duration(now - last))
            }
            _ => self.count.to_string(),
        }
    }
}

struct PodSummary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: Restarts,
}

impl PodSummary {
    fn of(pod: &Value) -> Self {
        let containers = list(&pod["spec"]["containers"]).len();
        let sidecars = list(&pod["spec"]["initContainers"])
            .iter()
            .filter(|c| is_sidecar(c));
        let mut summary = PodSummary {
            ready: 0,
            total: containers + sidecars.count(),
            reason: initial_reason(pod),
            restarts: Restarts::default(),
        };
        let (initializing, sidecar_restarts) = summary.apply_init_containers(pod);
        if !initializing || condition_is_true(pod, "Initialized") {
            // Once initialised only sidecars' restarts count among init containers.
            summary.restarts = sidecar_restarts;
            summary.apply_containers(pod);
        }
        summary.apply_deletion(pod);
        summary
    }

    /// Walks init container statuses until the first one still initialising and
    /// sets the reason from it. Returns whether one is, and sidecars' restarts.
    fn apply_init_containers(&mut self, pod: &Value) -> (bool, Restarts) {
        let specs = list(&pod["spec"]["initContainers"]);
        let mut sidecar_restarts = Restarts::default();
        for (i, status) in list(&pod["status"]["initContainerStatuses"])
            .iter()
            .enumerate()
        {
            let sidecar = specs
                .iter()
                .any(|c| c["name"] == status["name"] && is_sidecar(c));
            self.restarts.add(status);
            if sidecar {
                sidecar_restarts.add(status);
            }
            let state = &status["state"];
            if state["terminated"].is_object() && int(&state["terminated"]["exitCode"]) == 0 {
                continue;
            }
            if sidecar && status["started"] == true {
                self.ready += usize::from(status["ready"] == true);
                continue;
            }
            self.reason = init_reason(state, i, specs.len());
            return (true, sidecar_restarts);
        }
        (false, sidecar_restarts)
    }

    /// Reads containers from last to first, so the first container's state wins.
    fn apply_containers(&mut self, pod: &Value) {
        let mut has_running = false;
        let mut error_reason = None;
        for status in list(&pod["status"]["containerStatuses"]).iter().rev() {
            self.restarts.add(status);
            let state = &status["state"];
            if let Some(waiting) = non_empty(&state["waiting"]["reason"]) {
                self.reason = waiting.to_string();
            } else if state["terminated"].is_object() {
                self.reason = terminated_reason(&state["terminated"], "");
                if int(&state["terminated"]["exitCode"]) != 0 {
                    error_reason = Some(self.reason.clone());
                }
            } else if status["ready"] == true && state["running"].is_object() {
                has_running = true;
                self.ready += 1;
            }
        }
        if self.reason == "Completed" {
            self.reason = match error_reason {
                _ if has_running && condition_is_true(pod, "Ready") => "Running".to_string(),
                Some(error) => error,
                None if has_running => "NotReady".to_string(),
                None => "Completed".to_string(),
            };
        }
    }

    fn apply_deletion(&mut self, pod: &Value) {
        if pod["metadata"]["deletionTimestamp"].is_null() {
            return;
        }
        let phase = text(&pod["status"]["phase"]);
        if text(&pod["status"]["reason"]) == "NodeLost" {
            self.reason = "Unknown".to_string();
        } else if phase != "Succeeded" && phase != "Failed" {
            self.reason = "Terminating".to_string();
        }
    }
}

/// The phase, overridden by the pod's reason, or SchedulingGated while gated.
fn initial_reason(pod: &Value) -> String {
    let status = &pod["status"];
    let gated = list(&status["conditions"])
        .iter()
        .any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated");
    if gated {
        return "SchedulingGated".to_string();
    }
    non_empty(&status["reason"])
        .unwrap_or(text(&status["phase"]))
        .to_string()
}

/// The status of a pod held up by init container `index`.
fn init_reason(state: &Value, index: usize, init_count: usize) -> String {
    if state["terminated"].is_object() {
        return terminated_reason(&state["terminated"], "Init:");
    }
    match non_empty(&state["waiting"]["reason"]) {
        Some(reason) if reason != "PodInitializing" => format!("Init:{reason}"),
        _ => format!("Init:{index}/{init_count}"),
    }
}

/// A terminated container's reason, else its signal, else its exit code.
fn terminated_reason(terminated: &Value, prefix: &str) -> String {
    if let Some(reason) = non_empty(&terminated["reason"]) {
        return format!("{prefix}{reason}");
    }
    match int(&terminated["signal"]) {
        0 => format!("{prefix}ExitCode:{}", int(&terminated["exitCode"])),
        signal => format!("{prefix}Signal:{signal}"),
    }
}

/// An init container with restartPolicy Always runs alongside the main ones.
fn is_sidecar(container: &Value) -> bool {
    container["restartPolicy"] == "Always"
}

fn condition_is_true(pod: &Value, kind: &str) -> bool {
    list(&pod["status"]["conditions"])
        .iter()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

fn non_empty(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// podIP wins over podIPs[0] when both are set, as upstream's conversion.
fn pod_ip(pod: &Value) -> &str {
    let status = &pod["status"];
    non_empty(&status["podIP"]).unwrap_or(text(&status["podIPs"][0]["ip"]))
}

/// "true/all" over the pod's readiness gates, or "<none>" without gates.
fn readiness_gates(pod: &Value) -> String {
    let gates = list(&pod["spec"]["readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = list(&pod["status"]["conditions"]);
    let passing = gates
        .iter()
        .filter(|gate| {
            let first = conditions
                .iter()
                .find(|c| c["type"] == gate["conditionType"]);
            first.is_some_and(|c| c["status"] == "True")
        })
        .count();
    format!("{passing}/{}", gates.len())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse().unwrap_or_default()
    }

    fn running(name: &str) -> Value {
        json!({"name": name, "ready": true, "restartCount": 0, "state": {"running": {}}})
    }

    fn pod(spec: Value, status: Value) -> Value {
        json!({
            "metadata": {"name": "web", "creationTimestamp": "2025-06-01T11:55:00Z"},
            "spec": spec,
            "status": status,
        })
    }

    fn status_of(pod: &Value) -> String {
        PodSummary::of(pod).reason
    }

    #[test]
    fn running_pod_row_has_every_cell() {
        let p = pod(
            json!({"containers": [{"name": "a"}], "nodeName": "n1"}),
            json!({"phase": "Running", "podIP": "10.1.0.4", "containerStatuses": [running("a")]}),
        );
        assert_eq!(
            row(&p, now()),
            [
                json!("web"),
                json!("1/1"),
                json!("Running"),
                json!("0"),
                json!("5m"),
                json!("10.1.0.4"),
                json!("n1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn ready_counts_ready_running_containers_out_of_all() {
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Running", "containerStatuses": [
                running("a"),
                {"name": "b", "ready": false, "state": {"running": {}}}
            ]}),
        );
        assert_eq!(row(&p, now())[1], "1/2");
    }

    #[test]
    fn waiting_reason_replaces_the_phase() {
        let p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Pending", "containerStatuses": [
                {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}
            ]}),
        );
        assert_eq!(status_of(&p), "ContainerCreating");
    }

    #[test]
    fn crash_looping_container_shows_crash_loop_back_off_and_restarts_ago() {
        let p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Running", "containerStatuses": [{
                "name": "a", "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-06-01T11:58:00Z"}}
            }]}),
        );
        let cells = row(&p, now());
        assert_eq!(cells[2], "CrashLoopBackOff");
        assert_eq!(cells[3], "4 (2m ago)");
    }

    #[test]
    fn first_container_state_wins_over_later_ones() {
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "a", "state": {"waiting": {"reason": "ImagePullBackOff"}}},
                {"name": "b", "state": {"waiting": {"reason": "ContainerCreating"}}}
            ]}),
        );
        assert_eq!(status_of(&p), "ImagePullBackOff");
    }

    #[test]
    fn succeeded_pod_shows_completed() {
        let p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Succeeded", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ]}),
        );
        assert_eq!(row(&p, now())[1..3], [json!("0/1"), json!("Completed")]);
    }

    #[test]
    fn terminated_without_reason_shows_signal_or_exit_code() {
        let with = |terminated: Value| {
            let p = pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Failed", "containerStatuses": [
                    {"name": "a", "state": {"terminated": terminated}}
                ]}),
            );
            status_of(&p)
        };
        assert_eq!(with(json!({"exitCode": 137, "signal": 9})), "Signal:9");
        assert_eq!(with(json!({"exitCode": 2})), "ExitCode:2");
        assert_eq!(with(json!({"exitCode": 1, "reason": "Error"})), "Error");
    }

    #[test]
    fn completed_container_beside_a_running_one_shows_running_or_not_ready() {
        let statuses = json!({"phase": "Running", "containerStatuses": [
            {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            running("b")
        ]});
        let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(status_of(&pod(spec.clone(), statuses.clone())), "NotReady");
        let mut ready = statuses;
        ready["conditions"] = json!([{"type": "Ready", "status": "True"}]);
        assert_eq!(status_of(&pod(spec, ready)), "Running");
    }

    #[test]
    fn completed_container_beside_a_failed_one_shows_the_failure() {
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Failed", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "b", "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}
            ]}),
        );
        assert_eq!(status_of(&p), "Error");
    }

    #[test]
    fn init_containers_show_progress_as_init_done_of_all() {
        let p = pod(
            json!({"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]}),
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "state": {"running": {}}}
            ]}),
        );
        assert_eq!(status_of(&p), "Init:1/2");
    }

    #[test]
    fn init_container_waiting_or_failing_shows_its_reason() {
        let with = |state: Value| {
            let p = pod(
                json!({"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]}),
                json!({"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": state}]}),
            );
            status_of(&p)
        };
        assert_eq!(
            with(json!({"waiting": {"reason": "ErrImagePull"}})),
            "Init:ErrImagePull"
        );
        assert_eq!(
            with(json!({"waiting": {"reason": "PodInitializing"}})),
            "Init:0/1"
        );
        assert_eq!(
            with(json!({"terminated": {"exitCode": 1, "reason": "Error"}})),
            "Init:Error"
        );
        assert_eq!(
            with(json!({"terminated": {"exitCode": 2}})),
            "Init:ExitCode:2"
        );
        assert_eq!(
            with(json!({"terminated": {"exitCode": 1, "signal": 15}})),
            "Init:Signal:15"
        );
    }

    #[test]
    fn started_sidecar_counts_as_a_ready_container() {
        let p = pod(
            json!({
                "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                "containers": [{"name": "a"}]
            }),
            json!({
                "phase": "Running",
                "initContainerStatuses": [{
                    "name": "proxy", "started": true, "ready": true, "restartCount": 2,
                    "state": {"running": {}}
                }],
                "containerStatuses": [running("a")]
            }),
        );
        let cells = row(&p, now());
        assert_eq!(cells[1..4], [json!("2/2"), json!("Running"), json!("2")]);
    }

    #[test]
    fn deleted_pod_shows_terminating_unless_finished() {
        let mut p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Running", "containerStatuses": [running("a")]}),
        );
        p["metadata"]["deletionTimestamp"] = json!("2025-06-01T11:59:00Z");
        assert_eq!(status_of(&p), "Terminating");
        p["status"]["phase"] = json!("Succeeded");
        assert_eq!(status_of(&p), "Succeeded");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(status_of(&p), "Unknown");
    }

    #[test]
    fn scheduling_gated_pod_says_so() {
        let p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
            ]}),
        );
        assert_eq!(status_of(&p), "SchedulingGated");
    }

    #[test]
    fn evicted_pod_shows_its_status_reason() {
        let p = pod(json!({}), json!({"phase": "Failed", "reason": "Evicted"}));
        assert_eq!(status_of(&p), "Evicted");
    }

    #[test]
    fn wide_cells_show_ip_node_nominated_node_and_gates() {
        let p = pod(
            json!({"containers": [], "readinessGates": [
                {"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}
            ]}),
            json!({
                "podIPs": [{"ip": "fd00::5"}],
                "nominatedNodeName": "n2",
                "conditions": [{"type": "example.com/lb", "status": "True"}]
            }),
        );
        let cells = row(&p, now());
        assert_eq!(
            cells[5..],
            [json!("fd00::5"), json!("<none>"), json!("n2"), json!("1/2")]
        );
    }

    #[test]
    fn pod_columns_mark_the_wide_ones_with_priority_one() {
        let wide: Vec<_> = COLUMNS
            .iter()
            .filter(|c| c.priority == 1)
            .map(|c| c.name)
            .collect();
        assert_eq!(wide, ["IP", "Node", "Nominated Node", "Readiness Gates"]);
    }
}
