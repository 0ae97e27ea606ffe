//! Readiness of a Job: Ready once it has completed, Failed as soon as the Job
//! controller gives up (no point waiting out the timeout), Progressing with its
//! pod counts otherwise. The log tail of the failed pod that DESIGN §6 asks to
//! show next to the failure is fetched by the caller; this rule only reads the
//! Job object.

use serde_json::Value;

use super::{Facts, Readiness, bool_at, condition, int_at};

pub(super) fn job(object: &Value, _: &Facts) -> Readiness {
    // `FailureTarget` comes before `Failed` while the last pods terminate
    // (Kubernetes ≥ 1.31); the outcome is already decided.
    for kind in ["Failed", "FailureTarget"] {
        if let Some(failed) = condition(object, kind)
            && failed.is_true()
        {
            let why = failed.explain();
            return Readiness::Failed(if why.is_empty() {
                "Job failed".to_owned()
            } else {
                format!("Job failed: {why}")
            });
        }
    }
    if condition(object, "Complete").is_some_and(|c| c.is_true()) {
        return Readiness::Ready;
    }
    if bool_at(object, &["spec", "suspend"]) {
        return Readiness::Progressing(
            "suspended: set spec.suspend to false to let the Job run".to_owned(),
        );
    }
    let status = |field| int_at(object, &["status", field]).unwrap_or(0);
    Readiness::Progressing(format!(
        "{} active, {} succeeded, {} failed",
        status("active"),
        status("succeeded"),
        status("failed")
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, readiness};
    use super::*;

    fn check(yaml: &str) -> Readiness {
        readiness(&fixture(yaml), &Facts::default())
    }

    #[test]
    fn complete_job_is_ready() {
        let got = check(
            r#"
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
status:
  succeeded: 1
  conditions:
  - {type: SuccessCriteriaMet, status: "True"}
  - {type: Complete, status: "True"}
"#,
        );
        assert_eq!(got, Readiness::Ready);
    }

    #[test]
    fn failed_job_fails_at_once_with_its_reason() {
        let got = check(
            r#"
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
status:
  failed: 7
  conditions:
  - type: Failed
    status: "True"
    reason: BackoffLimitExceeded
    message: Job has reached the specified backoff limit
"#,
        );
        assert_eq!(
            got,
            Readiness::Failed(
                "Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
                    .into()
            )
        );
    }

    #[test]
    fn failure_target_already_counts_as_failed() {
        let got = check(
            r#"
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
status:
  conditions:
  - {type: FailureTarget, status: "True", reason: DeadlineExceeded, message: Job was active longer than specified deadline}
"#,
        );
        assert_eq!(
            got,
            Readiness::Failed(
                "Job failed: DeadlineExceeded: Job was active longer than specified deadline"
                    .into()
            )
        );
    }

    #[test]
    fn suspended_job() {
        let got = check(
            "
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec: {suspend: true}
status: {}
",
        );
        assert_eq!(
            got,
            Readiness::Progressing(
                "suspended: set spec.suspend to false to let the Job run".into()
            )
        );
    }

    #[test]
    fn running_job_shows_its_counts() {
        let got = check(
            "
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
status: {active: 1, failed: 2}
",
        );
        assert_eq!(
            got,
            Readiness::Progressing("1 active, 0 succeeded, 2 failed".into())
        );
    }
}
