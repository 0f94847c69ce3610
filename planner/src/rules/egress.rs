//! `egress-or-mirror`: the hosts the upgrader reaches, proven from inside the cluster.
//!
//! The upgrader needs helm.astronomer.io before it changes anything (`Add public helm repo`),
//! updates.astronomer.io at step (4/6), after its point of no return, and the nodes pull from
//! quay.io (and Docker Hub for the in-cluster `bitnami/postgresql`). Only evidence passes: a pasted
//! in-cluster test (`egress.txt`), or at the latest `apply`'s probe, which refuses on any host
//! that does not answer.

use super::{finding, item, item_evidence, RuleInput};
use crate::acks::Acknowledgements;
use crate::facts::Facts;
use crate::path::{EgressHost, UpgradePath};
use crate::report::{name_list, Finding, Item, Status};

/// The hosts the upgrade reaches from this cluster: all of the path's, without the image
/// registries on an air-gapped site (its mirror replaces them), and Docker Hub only for a
/// platform running its in-cluster `bitnami/postgresql`.
pub fn required_egress<'p>(
    path: &'p UpgradePath,
    facts: &Facts,
    acks: &Acknowledgements,
) -> Vec<&'p EgressHost> {
    let postgres = in_cluster_postgres(facts);
    path.egress
        .iter()
        .filter(|host| !(host.registry && acks.air_gapped))
        .filter(|host| !host.in_cluster_postgres_only || postgres)
        .collect()
}

/// The platform runs the chart's own PostgreSQL: its image is listed, or the bootstrap
/// connection names the chart's service (`<release>-postgresql.<namespace>.svc…`).
fn in_cluster_postgres(facts: &Facts) -> bool {
    let image = facts
        .images
        .iter()
        .any(|image| image.repository.ends_with("bitnami/postgresql"));
    let service = facts
        .database_connection
        .as_ref()
        .is_some_and(|connection| {
            connection
                .host
                .split('.')
                .next()
                .is_some_and(|name| name.ends_with("-postgresql"))
        });
    image || service
}

/// The in-cluster test of one host, as the remedy and the page show it.
pub fn egress_test_command(host: &EgressHost) -> String {
    format!(
        "kubectl run egress-test -n default --rm -i --restart=Never --image=curlimages/curl -- curl -sSI {}",
        host.url
    )
}

pub fn egress_or_mirror(ctx: &RuleInput) -> Finding {
    const ID: &str = "egress-or-mirror";
    let path = ctx.path;
    let mirror = if ctx.acks.air_gapped {
        let Some(registry) = ctx.acks.mirrors.as_deref() else {
            return finding(
                ID,
                Status::Fail,
                format!("air-gapped, and no mirror acknowledged for {}", path.upgrader_image),
                Some(format!(
                    "mirror `{}` (and the {} platform images) into your registry, point the manifests' `image:` at it, then add `--ack mirrors=<registry>`",
                    path.upgrader_image, path.to_platform
                )),
                Vec::new(),
            );
        };
        Some(registry)
    } else {
        None
    };
    let mut items: Vec<Item> = Vec::new();
    let mut untested: Vec<&EgressHost> = Vec::new();
    for host in required_egress(path, ctx.facts, ctx.acks) {
        let tests: Vec<_> = ctx
            .facts
            .egress
            .iter()
            .filter(|test| host.covers(&test.host))
            .collect();
        if let Some(failed) = tests.iter().find(|test| !test.reachable) {
            let when = if host.after_point_of_no_return {
                "the upgrade would fail after its point of no return"
            } else {
                "the upgrade would fail before changing anything"
            };
            items.push(item(
                host.host,
                Status::Fail,
                format!(
                    "does not answer from inside the cluster ({}); needed by {}: {when}",
                    failed.detail, host.needed_by
                ),
                &failed.at,
            ));
        } else if let Some(answered) = tests.first() {
            items.push(item(
                host.host,
                Status::Pass,
                format!("answers from inside the cluster ({})", answered.detail),
                &answered.at,
            ));
        } else {
            untested.push(host);
        }
    }
    let failed: Vec<&str> = items
        .iter()
        .filter(|i| i.status == Status::Fail)
        .map(|i| i.subject.as_str())
        .collect();
    let evidence = item_evidence(&items);
    let site = match mirror {
        Some(registry) => format!("air-gapped, images mirrored in `{registry}`; "),
        None => String::new(),
    };
    let (status, message, remedy) = if !failed.is_empty() {
        (
            Status::Fail,
            format!(
                "{site}{} not reachable from inside the cluster: the upgrader needs {}",
                name_list(&failed, ", "),
                if failed.len() == 1 { "it" } else { "each" }
            ),
            Some(format!(
                "allow HTTPS (443) from namespaces `{}` and `{}` to {} (proxy, firewall, NetworkPolicy, DNS), then paste the test again: `{}`",
                path.upgrade_namespace,
                ctx.platform_namespace(),
                name_list(&failed, ", "),
                path.egress
                    .iter()
                    .find(|h| failed.contains(&h.host))
                    .map(egress_test_command)
                    .unwrap_or_default()
            )),
        )
    } else if !untested.is_empty() {
        let names: Vec<&str> = untested.iter().map(|h| h.host).collect();
        let commands: Vec<String> = untested.iter().map(|h| egress_test_command(h)).collect();
        let helm_repo = match (mirror, ctx.acks.helm_repository.as_deref()) {
            (Some(_), Some(repo)) => format!(" (the chart repository is acknowledged as mirrored at `{repo}`, but the upgrader still asks for https://helm.astronomer.io by name)"),
            _ => String::new(),
        };
        (
            Status::Warn,
            format!(
                "{site}egress not proven: {} not tested from inside the cluster{helm_repo}; `astro-upgrade apply` tests each from a probe pod before the upgrade Job exists and refuses when one does not answer",
                name_list(&names, ", ")
            ),
            Some(format!(
                "to know now, paste what these print (each pod is deleted after): {}",
                commands.join(" ; ")
            )),
        )
    } else if items.is_empty() {
        (
            Status::Pass,
            format!("{site}no host needs to be reached from inside the cluster"),
            None,
        )
    } else {
        let names: Vec<&str> = items.iter().map(|i| i.subject.as_str()).collect();
        (
            Status::Pass,
            format!(
                "{site}{} answer from inside the cluster",
                name_list(&names, ", ")
            ),
            None,
        )
    };
    let mut result = finding(ID, status, message, remedy, evidence);
    result.items = items;
    result
}
