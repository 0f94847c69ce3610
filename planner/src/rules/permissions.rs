//! `permissions`: the nine `kubectl auth can-i …` answers the upgrade needs: eight `create`
//! rights, and `*` on `*` in every namespace — the manifest's ClusterRole grants that, and RBAC's
//! escalation prevention lets a user create a role only with rights they hold (a person with
//! `create clusterroles` but not cluster-admin gets `forbidden: attempting to grant RBAC
//! permissions not currently held` from `kubectl apply`).
//!
//! How an answer is matched to a required right, most specific first (the most specific kind of
//! answer present decides; among equals the last pasted wins):
//! 1. the same resource asked in the required namespace (any namespace for cluster-scoped ones);
//! 2. the same resource asked without `--namespace`: kubectl answered for the current context's
//!    namespace. When `kubectl config get-contexts` was pasted, that namespace is known (an empty
//!    column is `default`) and the answer counts for it alone. When it was not, the answer counts
//!    for every namespace the check needs, and the item says so: a `no` must not be lost for want
//!    of a `--namespace`, and the remedy still names the exact commands;
//! 3. a `yes` for `*` (verb or resource, `*.*` from `--list` tables) or for `--all-namespaces`.
//!    A wildcard or all-namespaces `no` says nothing about one resource in one namespace.
//!
//! `*` on `*` in every namespace is answered only by `kubectl auth can-i '*' '*' --all-namespaces`:
//! a `yes` in one namespace (a RoleBinding to cluster-admin there, a `--list` table) does not let
//! anyone create a ClusterRole, while a `no` in any namespace is a `no` everywhere.

use super::{finding, item_evidence, worst, RuleInput};
use crate::facts::Permission;
use crate::path::{PermissionScope, RequiredPermission, CLUSTER_ROLE};
use crate::report::{name_list, Finding, Item, Status};

const ID: &str = "permissions";

pub fn permissions(ctx: &RuleInput) -> Finding {
    let platform_ns = ctx.platform_namespace();
    let context_ns = context_namespace(ctx);
    let required = ctx.path.permissions;
    let mut items = Vec::new();
    let mut commands = Vec::new();
    let mut escalation_denied = false;
    for need in required {
        let namespace = match need.scope {
            PermissionScope::PlatformNamespace => Some(platform_ns.as_str()),
            PermissionScope::UpgradeNamespace => Some(ctx.path.upgrade_namespace),
            PermissionScope::Cluster | PermissionScope::AllNamespaces => None,
        };
        let command = can_i_command(need, namespace);
        let subject = match (namespace, need.scope) {
            (Some(ns), _) => format!("{} {} in namespace {ns}", need.verb, need.resource),
            (None, PermissionScope::AllNamespaces) => format!(
                "`{}` on `{}` in every namespace (what the upgrader's ClusterRole grants)",
                need.verb, need.resource
            ),
            (None, _) => format!("{} {} (cluster-wide)", need.verb, need.resource),
        };
        let answer = best_answer(
            &ctx.facts.permissions,
            need,
            namespace,
            context_ns.as_deref(),
        );
        if need.scope == PermissionScope::AllNamespaces {
            escalation_denied |= answer.is_some_and(|(p, _)| !p.allowed);
        }
        let (status, message, at) = match answer {
            Some((p, rank)) => {
                let how = match rank {
                    Rank::Exact => String::new(),
                    Rank::ContextNamespace => match &context_ns {
                        Some(ns) => format!(
                            " (asked without --namespace, counted for the context namespace `{ns}`)"
                        ),
                        None => " (asked without --namespace and the contexts were not pasted: assumed to hold here; paste `kubectl config get-contexts` to be sure)".to_string(),
                    },
                    Rank::Wildcard => " (granted by a wildcard or --all-namespaces answer)".into(),
                    Rank::OneNamespace => format!(
                        " (asked for one namespace only{}: a no there is a no in every namespace)",
                        p.namespace.as_deref().map(|ns| format!(", `{ns}`")).unwrap_or_default()
                    ),
                };
                if p.allowed {
                    (Status::Pass, format!("yes{how}"), Some(p.at.clone()))
                } else {
                    (Status::Fail, format!("no{how}"), Some(p.at.clone()))
                }
            }
            None => {
                let one_namespace_yes = need.scope == PermissionScope::AllNamespaces
                    && ctx
                        .facts
                        .permissions
                        .iter()
                        .any(|p| p.allowed && p.as_user.is_none() && same_right(p, need));
                let message = if one_namespace_yes {
                    format!("a yes asked for one namespace only, which does not let you create a ClusterRole: run `{command}`")
                } else {
                    format!("not pasted: run `{command}`")
                };
                (Status::Unknown, message, None)
            }
        };
        if status != Status::Pass {
            commands.push(command);
        }
        items.push(Item {
            subject,
            status,
            message,
            evidence: at.into_iter().collect(),
        });
    }
    let status = worst(&items);
    let names = |s: Status| -> Vec<String> {
        items
            .iter()
            .filter(|i| i.status == s)
            .map(|i| i.subject.clone())
            .collect::<Vec<_>>()
    };
    let total = required.len();
    let (message, remedy) = match status {
        Status::Fail => {
            let denied = names(Status::Fail);
            let why = if escalation_denied {
                format!(
                    "the manifest's ClusterRole `{CLUSTER_ROLE}` grants `*` on `*`, and Kubernetes lets you create a role only with rights you hold: without them `kubectl apply` stops with `forbidden: attempting to grant RBAC permissions not currently held`. Have a cluster administrator bind you to cluster-admin (`kubectl create clusterrolebinding <you>-cluster-admin --clusterrole=cluster-admin --user=<you>`) or apply the manifest as one. (A grant of the `escalate` and `bind` verbs on clusterroles would let `kubectl apply` create the role and its binding too, but `kubectl auth can-i '*' '*' --all-namespaces` still answers no, so this check and `astro-upgrade apply` keep refusing.) Then paste the answers of:"
                )
            } else {
                "ask a cluster administrator for these rights (the upgrade manifest creates a ClusterRole with `*` on everything, so in practice you need cluster-admin, e.g. `kubectl create clusterrolebinding <you>-cluster-admin --clusterrole=cluster-admin --user=<you>`), then paste the answers of:".to_string()
            };
            (
                format!("{} of {total} required rights are denied: {}", denied.len(), name_list(&denied, "; ")),
                Some(format!(
                    "{why}\n{}",
                    commands.join("\n")
                )),
            )
        }
        Status::Unknown => {
            let missing = names(Status::Unknown);
            (
                format!("{} of {total} required rights were not pasted: {}", missing.len(), name_list(&missing, "; ")),
                Some(format!("paste the answers of:\n{}", commands.join("\n"))),
            )
        }
        _ => (
            format!("all {total} required rights are granted (platform namespace `{platform_ns}`, `default`, cluster-wide)"),
            None,
        ),
    };
    let mut result = finding(ID, status, message, remedy, item_evidence(&items));
    result.items = items;
    result
}

/// The exact command to paste for one right (`*` quoted, so no shell expands it).
pub fn can_i_command(need: &RequiredPermission, namespace: Option<&str>) -> String {
    let word = |w: &str| {
        if w == "*" {
            "'*'".to_string()
        } else {
            w.to_string()
        }
    };
    let (verb, resource) = (word(need.verb), word(need.resource));
    match (namespace, need.scope) {
        (Some(ns), _) => format!("kubectl auth can-i {verb} {resource} --namespace {ns}"),
        (None, PermissionScope::AllNamespaces) => {
            format!("kubectl auth can-i {verb} {resource} --all-namespaces")
        }
        (None, _) => format!("kubectl auth can-i {verb} {resource}"),
    }
}

/// The namespace kubectl answered for when a can-i command named none, when the pasted
/// contexts tell (a current context without a namespace uses `default`).
fn context_namespace(ctx: &RuleInput) -> Option<String> {
    let current = ctx.facts.contexts.iter().rfind(|c| c.current)?;
    Some(
        current
            .namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| ctx.path.upgrade_namespace.to_string()),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Exact,
    ContextNamespace,
    Wildcard,
    /// A `no` to a question that needs every namespace, asked for one.
    OneNamespace,
}

fn best_answer<'p>(
    answers: &'p [Permission],
    need: &RequiredPermission,
    namespace: Option<&str>,
    context_ns: Option<&str>,
) -> Option<(&'p Permission, Rank)> {
    let mut best: Option<(&Permission, Rank)> = None;
    // An answer asked `--as` someone else says nothing about the person running the upgrade.
    for answer in answers.iter().filter(|answer| answer.as_user.is_none()) {
        let Some(rank) = rank(answer, need, namespace, context_ns) else {
            continue;
        };
        if best.is_none_or(|(_, current)| rank <= current) {
            best = Some((answer, rank));
        }
    }
    best
}

/// Whether `answer` asks for the right `need` names, whatever the namespace.
fn same_right(answer: &Permission, need: &RequiredPermission) -> bool {
    answer
        .verb
        .trim()
        .trim_matches(['\'', '"'])
        .to_ascii_lowercase()
        == need.verb
        && normalise_resource(&answer.resource) == need.resource
}

fn rank(
    answer: &Permission,
    need: &RequiredPermission,
    namespace: Option<&str>,
    context_ns: Option<&str>,
) -> Option<Rank> {
    if need.scope == PermissionScope::AllNamespaces {
        return match (same_right(answer, need), answer.all_namespaces) {
            (false, _) => None,
            (true, true) => Some(Rank::Exact),
            (true, false) => (!answer.allowed).then_some(Rank::OneNamespace),
        };
    }
    let verb = answer.verb.trim().to_ascii_lowercase();
    let resource = normalise_resource(&answer.resource);
    let verb_exact = verb == need.verb;
    let resource_exact = resource == need.resource;
    let wildcard = (verb_exact || verb == "*") && (resource_exact || resource == "*");
    if !wildcard {
        return None;
    }
    let answered_ns = answer.namespace.as_deref().filter(|ns| !ns.is_empty());
    let namespace_rank = match namespace {
        None => Some(Rank::Exact),
        Some(ns) if answered_ns == Some(ns) => Some(Rank::Exact),
        Some(ns)
            if answered_ns.is_none()
                && !answer.all_namespaces
                && context_ns.is_none_or(|context| context == ns) =>
        {
            Some(Rank::ContextNamespace)
        }
        Some(_) if answer.all_namespaces => Some(Rank::Wildcard),
        Some(_) => None,
    }?;
    if verb_exact && resource_exact && namespace_rank != Rank::Wildcard {
        Some(namespace_rank)
    } else if answer.allowed {
        Some(Rank::Wildcard)
    } else {
        None
    }
}

/// `sa` → `serviceaccounts`, `jobs.batch` → `jobs`, `*.*` → `*`: the spelling the path uses.
fn normalise_resource(resource: &str) -> String {
    let resource = resource
        .trim()
        .trim_matches(['\'', '"'])
        .to_ascii_lowercase();
    let base = resource.split(['.', '/']).next().unwrap_or("");
    let plural = match base {
        "po" | "pod" => "pods",
        "sa" | "serviceaccount" => "serviceaccounts",
        "pvc" | "persistentvolumeclaim" => "persistentvolumeclaims",
        "job" => "jobs",
        "clusterrole" => "clusterroles",
        "clusterrolebinding" => "clusterrolebindings",
        other => other,
    };
    plural.to_string()
}
