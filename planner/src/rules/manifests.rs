//! `manifest-source` and `rollback-readiness`: what will be applied, and whether it can be undone.

use super::{finding, item_evidence, worst, RuleInput};
use crate::facts::At;
use crate::manifest::{read_manifest, ManifestObject};
use crate::path::{ManifestSpec, UpgradePath, BACKUP_PVC, SERVICE_ACCOUNT};
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
        let objects = read_manifest(&source.text);
        let at = |line: u32| At::new(source.name.clone(), line);
        let mut issues: Vec<Item> = Vec::new();
        let specs: Vec<&ManifestSpec> = [&path.upgrade_manifest, &path.rollback_manifest]
            .into_iter()
            .filter(|spec| {
                objects
                    .iter()
                    .any(|o| o.kind == "Job" && o.name == spec.job_name)
            })
            .collect();
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
            items.push(Item {
                subject: source.name.clone(),
                status: Status::Fail,
                message,
                evidence: vec![At {
                    source: source.name.clone(),
                    line: None,
                }],
            });
            continue;
        }
        for spec in &specs {
            let missing: Vec<String> = spec
                .objects
                .iter()
                .filter(|want| {
                    !objects
                        .iter()
                        .any(|o| o.kind == want.kind && o.name == want.name)
                })
                .map(|want| format!("{} `{}`", want.kind, want.name))
                .collect();
            if !missing.is_empty() {
                issues.push(Item {
                    subject: format!("{} as {}", source.name, spec.file_name),
                    status: Status::Fail,
                    message: format!("missing {}", missing.join(", ")),
                    evidence: vec![at(1)],
                });
            }
        }
        for object in &objects {
            issues.extend(object_issues(ctx, object, &at(object.line), &source.name));
        }
        if issues.is_empty() {
            let names: Vec<&str> = specs.iter().map(|s| s.file_name).collect();
            items.push(Item {
                subject: source.name.clone(),
                status: Status::Pass,
                message: format!("has every object of {}", names.join(" and ")),
                evidence: vec![at(1)],
            });
        }
        items.extend(issues);
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

fn object_issues(ctx: &RuleInput, object: &ManifestObject, at: &At, source: &str) -> Vec<Item> {
    let subject = format!("{source}: {}/{}", object.kind, object.name);
    let issue = |status, message: String| Item {
        subject: subject.clone(),
        status,
        message,
        evidence: vec![at.clone()],
    };
    let mut issues = Vec::new();
    let target = ctx.path.upgrade_namespace;
    if let Some(ns) = object.namespace.as_deref().filter(|ns| *ns != target) {
        issues.push(issue(
            Status::Fail,
            format!("sets `namespace: {ns}`; the upgrade's objects must be in `{target}` (its binding names `{target}`)"),
        ));
    }
    for image in &object.images {
        let (repository, tag, digest) = split_image(image);
        let name = repository.rsplit('/').next().unwrap_or(repository);
        if name != ctx.path.upgrader_image_name {
            issues.push(issue(
                Status::Fail,
                format!(
                    "runs image `{image}`, not `{}` (or its mirror)",
                    ctx.path.upgrader_image
                ),
            ));
        } else if digest.is_none() && tag.is_none_or(|t| t == "latest") {
            issues.push(issue(
                Status::Warn,
                format!("image `{image}` is the mutable `:latest`: what runs may differ from what was reviewed"),
            ));
        }
    }
    issues
}

/// `registry/path:tag@sha256:…` → (`registry/path`, tag, digest).
fn split_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(colon) => (
            &rest[..last_slash + colon],
            Some(&rest[last_slash + colon + 1..]),
            digest,
        ),
        None => (rest, None, digest),
    }
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
