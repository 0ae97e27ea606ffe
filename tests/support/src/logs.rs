//! Which container instance a pod log request reads, as the kubelet decides
//! (`validateContainerLogStatus`) and the API server relays as a 400: a pod
//! not yet on a node has no log, `previous=true` needs a terminated previous
//! instance (`lastState.terminated`), and a container waiting to start for
//! the first time has nothing to show. Pure: the pod in, the refusal out.

use serde_json::Value;

/// Why the log of `container` in `pod` (current, or `previous`) cannot be
/// read, in the real server's words; `None` when it can.
pub fn refusal(pod: &Value, container: &str, previous: bool) -> Option<String> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
        return Some(format!("pod {name} does not have a host assigned"));
    }
    let status = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .flat_map(|k| pod["status"][*k].as_array().into_iter().flatten())
        .find(|c| c["name"] == container);
    let Some(status) = status else {
        return Some(format!(
            "container \"{container}\" in pod \"{name}\" is not available"
        ));
    };
    let last_terminated = status["lastState"]["terminated"].is_object();
    if previous {
        return (!last_terminated).then(|| {
            format!("previous terminated container \"{container}\" in pod \"{name}\" not found")
        });
    }
    let state = &status["state"];
    if state["running"].is_object() || state["terminated"].is_object() || last_terminated {
        return None;
    }
    let reason = state["waiting"]["reason"].as_str()?;
    let why = match reason {
        "ErrImagePull" => "image can't be pulled".to_string(),
        "ImagePullBackOff" => "trying and failing to pull image".to_string(),
        other => other.to_string(),
    };
    Some(format!(
        "container \"{container}\" in pod \"{name}\" is waiting to start: {why}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {"nodeName": "node-1"},
               "status": {"containerStatuses": [status]}})
    }

    #[test]
    fn the_kubelet_refuses_logs_that_do_not_exist() {
        let crash = pod(json!({"name": "c", "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1}}}));
        assert_eq!(refusal(&crash, "c", false), None);
        assert_eq!(refusal(&crash, "c", true), None);
        let running = pod(json!({"name": "c", "state": {"running": {}}, "lastState": {}}));
        assert_eq!(refusal(&running, "c", false), None);
        assert_eq!(
            refusal(&running, "c", true).unwrap(),
            "previous terminated container \"c\" in pod \"p\" not found"
        );
        let pulling = pod(
            json!({"name": "c", "state": {"waiting": {"reason": "ImagePullBackOff"}}, "lastState": {}}),
        );
        assert_eq!(
            refusal(&pulling, "c", false).unwrap(),
            "container \"c\" in pod \"p\" is waiting to start: trying and failing to pull image"
        );
        let pending = json!({"metadata": {"name": "p"}, "spec": {}});
        assert_eq!(
            refusal(&pending, "c", false).unwrap(),
            "pod p does not have a host assigned"
        );
    }
}
