//! `pod-health`: every pod Running with all containers ready, or Completed.

use super::{finding, item, item_evidence, worst, RuleInput};
use crate::facts::Pod;
use crate::report::{name_list, Finding, Status, NAMES_SHOWN};

const ID: &str = "pod-health";

pub fn pod_health(ctx: &RuleInput) -> Finding {
    let pods = &ctx.facts.pods;
    if pods.is_empty() && !ctx.facts.pods_listed {
        return ctx.missing(
            ID,
            "no pod listing was pasted",
            "paste the output of `kubectl get pods -A`".into(),
        );
    }
    let acknowledged = |pod: &Pod| {
        ctx.acks
            .known_crashing
            .iter()
            .any(|known| matches_known_crashing(known, pod.namespace.as_deref(), &pod.name))
    };
    let unhealthy: Vec<&Pod> = pods.iter().filter(|pod| !pod.healthy).collect();
    let failing: Vec<&Pod> = unhealthy
        .iter()
        .copied()
        .filter(|pod| !acknowledged(pod))
        .collect();
    let items: Vec<_> = unhealthy
        .iter()
        .map(|pod| {
            if acknowledged(pod) {
                let message = format!("{}; acknowledged as known to crash", describe(pod));
                item(qualified(pod), Status::Warn, message, &pod.at)
            } else {
                item(qualified(pod), Status::Fail, describe(pod), &pod.at)
            }
        })
        .collect();
    let status = worst(&items);
    // The message names the first pods and counts the rest; the items list every one.
    let list =
        |pods: &[&Pod]| name_list(&pods.iter().map(|p| qualified(p)).collect::<Vec<_>>(), ", ");
    let (message, remedy) = match (unhealthy.is_empty(), failing.first()) {
        (true, _) if pods.is_empty() => (
            "the pod listing is empty: no pod to worry about".to_string(),
            None,
        ),
        (true, _) => (
            format!(
                "all {} pods are Running and ready, or Completed",
                pods.len()
            ),
            None,
        ),
        (false, None) => (
            format!(
                "{} pod(s) unhealthy, all acknowledged as known to crash: {}",
                unhealthy.len(),
                list(&unhealthy)
            ),
            Some("note these pods in the change ticket; the upgrade will not fix them".into()),
        ),
        (false, Some(first)) => {
            let ns = first.namespace.as_deref().unwrap_or("<namespace>");
            let names: Vec<&str> = failing
                .iter()
                .take(NAMES_SHOWN)
                .map(|p| p.name.as_str())
                .collect();
            let more = if failing.len() > NAMES_SHOWN {
                format!(
                    " (these are the first {NAMES_SHOWN} of {}; every pod is an item of the JSON report)",
                    failing.len()
                )
            } else {
                String::new()
            };
            (
                format!(
                    "{} of {} pods are not healthy: {}",
                    failing.len(),
                    pods.len(),
                    list(&failing)
                ),
                Some(format!(
                    "find out why (e.g. `kubectl describe pod {name} -n {ns}` and `kubectl logs {name} -n {ns} --previous`) and fix them; if they are known to crash and you accept that, add `--ack known-crashing={}`{more}",
                    names.join(","),
                    name = first.name
                )),
            )
        }
    };
    let mut result = finding(ID, status, message, remedy, item_evidence(&items));
    result.items = items;
    result
}

fn qualified(pod: &Pod) -> String {
    match &pod.namespace {
        Some(ns) => format!("{ns}/{}", pod.name),
        None => pod.name.clone(),
    }
}

fn describe(pod: &Pod) -> String {
    let mut state = pod.status.clone();
    if let Some(ready) = &pod.ready {
        state.push_str(&format!(", ready {ready}"));
    }
    if let Some(restarts) = pod.restarts.filter(|r| *r > 0) {
        state.push_str(&format!(", {restarts} restarts"));
    }
    state
}

/// Whether an acknowledged name covers a pod. It matches the pod's exact name, or the name
/// without its generated suffix: `astronomer-kibana` covers `astronomer-kibana-5c7d8f9b6-x2x4q`
/// and `astronomer-elasticsearch-data` covers `astronomer-elasticsearch-data-0`, but
/// `astronomer-houston` does not cover `astronomer-houston-worker-6f9c…`: what follows the
/// acknowledged name must be one or two generated segments (Kubernetes' vowel-free random
/// alphabet of 5–10 characters, or a StatefulSet ordinal / CronJob timestamp of digits).
/// `NAMESPACE/NAME` also restricts the namespace; kubectl's `pod/NAME` is the bare name.
pub fn matches_known_crashing(acknowledged: &str, namespace: Option<&str>, pod_name: &str) -> bool {
    let acknowledged = acknowledged.trim();
    let acknowledged = match acknowledged.split_once('/') {
        Some(("pod" | "pods" | "po", name)) => name,
        Some((ns, name)) if namespace == Some(ns) => name,
        Some(_) => return false,
        None => acknowledged,
    };
    if acknowledged.is_empty() {
        return false;
    }
    if pod_name == acknowledged {
        return true;
    }
    let Some(suffix) = pod_name
        .strip_prefix(acknowledged)
        .and_then(|rest| rest.strip_prefix('-'))
    else {
        return false;
    };
    let segments: Vec<&str> = suffix.split('-').collect();
    segments.len() <= 2 && segments.iter().all(|s| generated_segment(s))
}

fn generated_segment(segment: &str) -> bool {
    const ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";
    let digits = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    let random = (5..=10).contains(&segment.len()) && segment.chars().all(|c| ALPHABET.contains(c));
    digits || random
}
