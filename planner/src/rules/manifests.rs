//! `manifest-source` and `rollback-readiness`: what will be applied, and whether it can be undone.

use super::{finding, item_evidence, worst, RuleInput};
use crate::facts::At;
use crate::input::Source;
use crate::manifest::{issues, read_manifest, recognise, Severity};
use crate::path::{UpgradePath, BACKUP_PVC, SERVICE_ACCOUNT};
use crate::report::{Finding, Item, Status};

const ID_SOURCE: &str = "manifest-source";
const ID_ROLLBACK: &str = "rollback-readiness";

/// The commands that fetch both manifests from the pinned tag.
pub fn download_commands(path: &UpgradePath) -> Vec<String> {
    [path.upgrade_manifest, path.rollback_manifest]
        .iter()
        .map(|m| format!("curl -fsSL -o {} {}", m.file_name, m.url))
        .collect()
}

pub fn manifest_source(ctx: &RuleInput) -> Finding {
    let path = ctx.path;
    if ctx.manifests.is_empty() {
        return finding(
            ID_SOURCE,
            Status::Pass,
            format!(
                "no manifest given: use {} and {} from tag {} (the URL on the procedure page does not exist)",
                path.upgrade_manifest.file_name, path.rollback_manifest.file_name, path.git_tag
            ),
            Some(download_commands(path).join("\n")),
            Vec::new(),
        );
    }
    let mut items = Vec::new();
    for source in ctx.manifests {
        items.extend(source_items(ctx, source));
    }
    let status = worst(&items);
    let (message, remedy) = match status {
        Status::Fail => (
            "a given manifest is not the upgrade or rollback manifest the plan expects".to_string(),
            Some(format!(
                "use the files from tag {}:\n{}",
                path.git_tag,
                download_commands(path).join("\n")
            )),
        ),
        Status::Warn => (
            format!(
                "the manifests are recognised, but their image `{}` is mutable",
                path.upgrader_image
            ),
            Some("record the image digest you reviewed (`docker pull` then `docker inspect --format '{{index .RepoDigests 0}}'`) and pin it in the manifests as `image: …@sha256:…`".into()),
        ),
        _ => ("the given manifests are the expected ones".to_string(), None),
    };
    let mut result = finding(ID_SOURCE, status, message, remedy, item_evidence(&items));
    result.items = items;
    result
}

/// The items of one given manifest: unrecognised, or each issue the path's rules find.
fn source_items(ctx: &RuleInput, source: &Source) -> Vec<Item> {
    let path = ctx.path;
    let at = |line: u32| At::new(source.name.clone(), line);
    let objects = match read_manifest(&source.text) {
        Ok(objects) => objects,
        Err(unreadable) => {
            return vec![Item {
                subject: source.name.clone(),
                status: Status::Fail,
                message: unreadable.message,
                evidence: vec![at(unreadable.line.unwrap_or(1))],
            }]
        }
    };
    let specs = recognise(&objects, path);
    if specs.is_empty() {
        let message = if source.text.trim() == "404: Not Found" {
            format!(
                "it is GitHub's \"404: Not Found\" page, not a manifest: the URL on the procedure page does not exist; download {} instead",
                path.upgrade_manifest.url
            )
        } else {
            format!(
                "unrecognised: it has no Job `{}` or `{}` ({} object(s) read)",
                path.upgrade_manifest.job_name,
                path.rollback_manifest.job_name,
                objects.len()
            )
        };
        return vec![Item {
            subject: source.name.clone(),
            status: Status::Fail,
            message,
            evidence: vec![At {
                source: source.name.clone(),
                line: None,
            }],
        }];
    }
    let mut items = Vec::new();
    for spec in &specs {
        for issue in issues(&objects, spec, path) {
            items.push(Item {
                subject: match &issue.object {
                    Some(object) => format!("{}: {object}", source.name),
                    None => format!("{} as {}", source.name, spec.file_name),
                },
                status: match issue.severity {
                    Severity::Refuse => Status::Fail,
                    Severity::Warn => Status::Warn,
                },
                message: issue.message,
                evidence: vec![at(issue.line.unwrap_or(1))],
            });
        }
    }
    if items.is_empty() {
        let names: Vec<&str> = specs.iter().map(|s| s.file_name).collect();
        items.push(Item {
            subject: source.name.clone(),
            status: Status::Pass,
            message: format!("has every object of {}", names.join(" and ")),
            evidence: vec![at(1)],
        });
    }
    items
}

/// What the rollback needs and what it costs, carried into the plan's rollback section.
pub fn rollback_caveats(path: &UpgradePath) -> Vec<String> {
    vec![
        format!(
            "The rollback needs the PersistentVolumeClaim `{BACKUP_PVC}` (it holds the database backup) and the ServiceAccount `{SERVICE_ACCOUNT}` (with its ClusterRole and binding): never run `kubectl delete -f {}` (the docs' clean-up step) while a rollback may still be needed.",
            path.upgrade_manifest.file_name
        ),
        "The rollback deletes the Elasticsearch StatefulSets and every PVC whose name contains `elasticsearch` in the platform namespace: platform and task logs kept there are lost.".to_string(),
        format!(
            "Airflow deployments are not rolled back: they stay on the Airflow chart the {} upgrade moved them to.",
            path.to_platform
        ),
        "The rollback restores the newest backup on the PVC; database changes made after the upgrade are lost.".to_string(),
        "The upgrader's backup holds only the Houston database (`<release>_houston`): the Airflow deployments' databases on the same Postgres instance are neither dumped nor restored by it. Your own backup of the whole instance (acknowledgement database-backup) is their only copy.".to_string(),
    ]
}

pub fn rollback_readiness(ctx: &RuleInput) -> Finding {
    let caveats = "the rollback needs the upgrade's backup PVC and ServiceAccount kept, deletes the Elasticsearch volumes, and does not roll back Airflow deployments";
    if let Some(resources) = &ctx.facts.upgrade_resources {
        if resources.upgrade_job.is_some() && (!resources.service_account || !resources.backup_pvc)
        {
            let mut gone = Vec::new();
            if !resources.backup_pvc {
                gone.push(format!("PersistentVolumeClaim `{BACKUP_PVC}`"));
            }
            if !resources.service_account {
                gone.push(format!("ServiceAccount `{SERVICE_ACCOUNT}`"));
            }
            return finding(
                ID_ROLLBACK,
                Status::Fail,
                format!(
                    "the upgrade ran, but its {} is already deleted: the rollback manifest cannot run",
                    gone.join(" and ")
                ),
                Some(format!(
                    "a deleted backup PVC cannot be recovered: restore the database from your own backup; re-create the ServiceAccount with `kubectl create serviceaccount {SERVICE_ACCOUNT} -n default` only if the PVC still exists"
                )),
                Vec::new(),
            );
        }
    }
    let automatic = if ctx.acks.rollback_data_loss {
        "automatic rollback acknowledged (rollback-data-loss)"
    } else {
        "`apply --auto-rollback` needs `--ack rollback-data-loss`"
    };
    finding(
        ID_ROLLBACK,
        Status::Pass,
        format!("rollback possible with caveats: {caveats}; {automatic} (see the plan's rollback section)"),
        None,
        Vec::new(),
    )
}
