//! `finish`: after the platform team accepted the upgrade, remove what the upgrade manifest left
//! standing — the finished upgrade Job and its pods, and above all the ClusterRoleBinding that
//! gives the upgrader's ServiceAccount `*` on `*` — and, when asked, the backup PVC. Refuses while
//! a rollback could still be needed (the platform not verified on 0.23, an upgrade or rollback Job
//! running) unless `--force`.

use std::fmt::Debug;

use anyhow::Context as _;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client, ResourceExt as _};
use planner::path::{self as upgrade_path, LTS_0_16_TO_0_23};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::engine::{self, Existing};
use super::run::Run;
use super::{confirm, duration_arg, verify};
use crate::exit::{Code, Exit};
use crate::journal::Journal;
use crate::progress::Output;
use crate::{cluster, FinishArgs, GlobalArgs};

const NS: &str = LTS_0_16_TO_0_23.upgrade_namespace;

/// Why `finish` must not run now (empty: it may).
pub fn refusals(
    upgrade: Existing,
    rollback: Existing,
    platform_problems: &[String],
) -> Vec<String> {
    let mut why = Vec::new();
    if upgrade == Existing::Active {
        why.push(format!(
            "Job {NS}/{} is still running",
            upgrade_path::UPGRADE_JOB
        ));
    }
    if rollback == Existing::Active {
        why.push(format!(
            "a rollback is running (Job {NS}/{})",
            upgrade_path::ROLLBACK_JOB
        ));
    }
    if !platform_problems.is_empty() {
        why.push(format!(
            "the platform is not verified on {}: {}",
            LTS_0_16_TO_0_23.to_platform,
            platform_problems.join("; ")
        ));
    }
    why
}

/// The `finish` command for this context and namespace, as findings print it.
pub fn finish_command(global: &GlobalArgs) -> String {
    let mut command = "astro-upgrade finish".to_string();
    if global.namespace != LTS_0_16_TO_0_23.default_platform_namespace {
        command.push_str(&format!(" -n {}", global.namespace));
    }
    if let Some(context) = global.single_context() {
        command.push_str(&format!(" --context {context}"));
    }
    command
}

/// Whether a ClusterRole's rules give every verb on every resource.
fn grants_everything(role: &ClusterRole) -> bool {
    role.rules.iter().flatten().any(|rule| {
        rule.verbs.iter().any(|v| v == "*") && rule.resources.iter().flatten().any(|r| r == "*")
    })
}

/// The security finding `status` and `verify` show while the upgrader's ClusterRoleBinding stands:
/// `Some((text, json))`, or `None` when it is gone.
pub async fn standing_binding(
    client: &Client,
    global: &GlobalArgs,
) -> anyhow::Result<Option<(String, serde_json::Value)>> {
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let Some(binding) = bindings
        .get_opt(upgrade_path::CLUSTER_ROLE_BINDING)
        .await
        .context("cannot read the upgrader's ClusterRoleBinding")?
    else {
        return Ok(None);
    };
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let role_name = binding.role_ref.name.clone();
    let everything = roles
        .get_opt(&role_name)
        .await
        .ok()
        .flatten()
        .is_some_and(|role| grants_everything(&role));
    let subjects: Vec<String> = binding
        .subjects
        .iter()
        .flatten()
        .map(|s| {
            format!(
                "{} {}/{}",
                s.kind,
                s.namespace.as_deref().unwrap_or(""),
                s.name
            )
        })
        .collect();
    let command = finish_command(global);
    let grant = if everything {
        "cluster-admin rights (`*` on `*`)".to_string()
    } else {
        "its rights".to_string()
    };
    let text = format!(
        "SECURITY: ClusterRoleBinding {} still gives {} of ClusterRole {role_name} to {}; once the upgrade is accepted, remove it with `{command}`",
        upgrade_path::CLUSTER_ROLE_BINDING,
        grant,
        subjects.join(", "),
    );
    let detail = json!({
        "finding": "upgrader-cluster-admin",
        "cluster_role_binding": upgrade_path::CLUSTER_ROLE_BINDING,
        "cluster_role": role_name,
        "everything": everything,
        "subjects": subjects,
        "command": command,
    });
    Ok(Some((text, detail)))
}

/// Deletes one object; `false` when it was already absent.
async fn delete<K>(api: &Api<K>, what: &str, name: &str) -> anyhow::Result<bool>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(err) => Err(err).with_context(|| format!("cannot delete {what} {name}")),
    }
}

async fn existing(client: &Client, name: &str) -> anyhow::Result<Existing> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let job = jobs
        .get_opt(name)
        .await
        .with_context(|| format!("cannot read Job {NS}/{name}"))?;
    Ok(engine::existing_of(job.as_ref()))
}

/// The pod that copies the backups off the PVC: the upgrader's image (it pulls where the upgrade
/// pulled), the PVC mounted read-only, `tar cz | base64` to its log.
pub const COPY_POD: &str = "astro-upgrade-backup-copy";
/// How long the copy pod may take to run to its end.
const COPY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

fn copy_pod(image: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": COPY_POD,
            "namespace": NS,
            "labels": {"app.kubernetes.io/managed-by": "astro-upgrade"},
        },
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "copy",
                "image": image,
                "command": ["sh", "-c", "tar cz -C /astronomer-backups . | base64"],
                "volumeMounts": [{"name": "backups", "mountPath": "/astronomer-backups", "readOnly": true}],
            }],
            "volumes": [{"name": "backups", "persistentVolumeClaim": {"claimName": upgrade_path::BACKUP_PVC, "readOnly": true}}],
        },
    }))
    .expect("a valid Pod")
}

/// Decodes the copy pod's log (base64 lines) into the gzipped tar it printed.
pub fn decode_copy(log: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let text: String = log.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|err| format!("the copy pod's log is not base64: {err}"))?;
    if bytes.len() < 2 || bytes[..2] != [0x1f, 0x8b] {
        return Err("the copy pod's log does not decode to a gzip stream".to_string());
    }
    Ok(bytes)
}

/// Copies `/astronomer-backups` off the backup PVC to `DIR/astronomer-backups.tar.gz`.
async fn save_backup(run: &mut Run, client: &Client, dir: &std::path::Path) -> anyhow::Result<()> {
    use kube::api::{LogParams, PostParams};
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
    if claims.get_opt(upgrade_path::BACKUP_PVC).await?.is_none() {
        anyhow::bail!(
            "PVC {NS}/{} does not exist: there is no backup to save; nothing was deleted",
            upgrade_path::BACKUP_PVC
        );
    }
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let image = jobs
        .get_opt(upgrade_path::UPGRADE_JOB)
        .await?
        .and_then(|job| job.spec?.template.spec?.containers.first()?.image.clone())
        .unwrap_or_else(|| LTS_0_16_TO_0_23.upgrader_image.to_string());
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let _ = delete(&pods, "Pod", COPY_POD).await?;
    for _ in 0..60 {
        if pods.get_opt(COPY_POD).await?.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    pods.create(&PostParams::default(), &copy_pod(&image))
        .await
        .context("cannot create the backup copy pod")?;
    run.record(
        "save-backup",
        "started",
        &format!(
            "copying the backups off PVC {NS}/{} with pod {NS}/{COPY_POD} ({image})",
            upgrade_path::BACKUP_PVC
        ),
        json!({"pod": COPY_POD, "image": image}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + COPY_TIMEOUT;
    let phase = loop {
        let pod = pods.get_opt(COPY_POD).await?;
        let phase = pod
            .and_then(|p| p.status?.phase)
            .unwrap_or_else(|| "Gone".to_string());
        if matches!(phase.as_str(), "Succeeded" | "Failed" | "Gone") {
            break phase;
        }
        if tokio::time::Instant::now() > deadline {
            break format!("{phase} after {}s", COPY_TIMEOUT.as_secs());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    let log = pods.logs(COPY_POD, &LogParams::default()).await;
    let _ = delete(&pods, "Pod", COPY_POD).await;
    if phase != "Succeeded" {
        anyhow::bail!("the backup copy pod ended {phase}; nothing was deleted");
    }
    let bytes = decode_copy(&log.context("cannot read the backup copy pod's log")?)
        .map_err(|err| anyhow::anyhow!("{err}; nothing was deleted"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = dir.join("astronomer-backups.tar.gz");
    std::fs::write(&file, &bytes).with_context(|| format!("cannot write {}", file.display()))?;
    run.record(
        "save-backup",
        "saved",
        &format!(
            "backups saved to {} ({} bytes)",
            file.display(),
            bytes.len()
        ),
        json!({"file": file.display().to_string(), "bytes": bytes.len()}),
    )
    .await;
    Ok(())
}

pub async fn run_finish(global: &GlobalArgs, args: FinishArgs) -> anyhow::Result<Code> {
    let settle = duration_arg("--settle", &args.settle)?;
    let out = Output::new(global.output);
    let journal = Journal::open(args.journal.as_deref())?;
    out.event(
        "journal",
        &format!("journal: {}", journal.path().display()),
        json!({"path": journal.path().display().to_string()}),
    );
    let connection = cluster::connect(global).await?;
    let client = connection.client.clone();
    let upgrade = existing(&client, upgrade_path::UPGRADE_JOB).await?;
    let rollback = existing(&client, upgrade_path::ROLLBACK_JOB).await?;
    let mut run = Run::new(&connection, global, out, journal);
    let expect = LTS_0_16_TO_0_23.to_platform.to_string();
    let problems = verify::verify_platform(
        &run.view,
        &run.out,
        &global.namespace,
        None,
        &expect,
        settle,
        &[],
    )
    .await?;
    let why = refusals(upgrade, rollback, &problems);
    if !why.is_empty() {
        if !args.force {
            run.record(
                "finish",
                "refused",
                "",
                json!({"reasons": why, "forced": false}),
            )
            .await;
            run.out.finish();
            return Err(Exit::refused(format!(
                "refusing to finish while a rollback could still be needed: {}. Nothing was deleted. \
                 Verify the platform (`astro-upgrade verify`), or pass --force to clean up anyway \
                 (a rollback then needs the upgrade manifest re-applied first)",
                why.join("; ")
            )));
        }
        run.out
            .warn(&format!("--force: finishing although {}", why.join("; ")));
    } else {
        run.out.event(
            "finish-gate",
            &format!("the platform is verified on {expect}; no upgrade or rollback Job is running"),
            json!({"expect": expect}),
        );
    }
    let mut doomed = vec![
        format!("Job {NS}/{} and its pods", upgrade_path::UPGRADE_JOB),
        format!("ClusterRoleBinding {}", upgrade_path::CLUSTER_ROLE_BINDING),
        format!("ClusterRole {}", upgrade_path::CLUSTER_ROLE),
        format!("ServiceAccount {NS}/{}", upgrade_path::SERVICE_ACCOUNT),
    ];
    if args.delete_backup {
        doomed.push(format!(
            "PersistentVolumeClaim {NS}/{} (the database backups on it are lost)",
            upgrade_path::BACKUP_PVC
        ));
    }
    run.out.suspend(|| {
        confirm(
            &format!(
                "Delete {} in context {}?",
                doomed.join(", "),
                connection.context
            ),
            args.yes,
        )
    })?;
    run.mirror = true;
    run.record(
        "finish",
        "started",
        &format!("finishing: deleting {}", doomed.join(", ")),
        json!({"objects": doomed, "forced": !why.is_empty(), "reasons": why}),
    )
    .await;

    if let Some(dir) = &args.save_backup {
        save_backup(&mut run, &client, dir).await?;
    }
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let mut targets: Vec<(String, String, bool)> = Vec::new();
    let gone = delete(&jobs, "Job", upgrade_path::UPGRADE_JOB).await?;
    targets.push((
        "Job".into(),
        format!("{NS}/{}", upgrade_path::UPGRADE_JOB),
        gone,
    ));
    let job_pods = pods
        .list(&ListParams::default().labels(&format!("job-name={}", upgrade_path::UPGRADE_JOB)))
        .await
        .context("cannot list the upgrade Job's pods")?;
    for pod in job_pods.items {
        let name = pod.name_any();
        let gone = delete(&pods, "Pod", &name).await?;
        targets.push(("Pod".into(), format!("{NS}/{name}"), gone));
    }
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let gone = delete(
        &bindings,
        "ClusterRoleBinding",
        upgrade_path::CLUSTER_ROLE_BINDING,
    )
    .await?;
    targets.push((
        "ClusterRoleBinding".into(),
        upgrade_path::CLUSTER_ROLE_BINDING.into(),
        gone,
    ));
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let gone = delete(&roles, "ClusterRole", upgrade_path::CLUSTER_ROLE).await?;
    targets.push((
        "ClusterRole".into(),
        upgrade_path::CLUSTER_ROLE.into(),
        gone,
    ));
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), NS);
    let gone = delete(&accounts, "ServiceAccount", upgrade_path::SERVICE_ACCOUNT).await?;
    targets.push((
        "ServiceAccount".into(),
        format!("{NS}/{}", upgrade_path::SERVICE_ACCOUNT),
        gone,
    ));
    if args.delete_backup {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
        let gone = delete(&claims, "PersistentVolumeClaim", upgrade_path::BACKUP_PVC).await?;
        targets.push((
            "PersistentVolumeClaim".into(),
            format!("{NS}/{}", upgrade_path::BACKUP_PVC),
            gone,
        ));
    }
    for (kind, name, deleted) in &targets {
        let (event, human) = if *deleted {
            ("deleted", format!("{kind} {name} deleted"))
        } else {
            ("absent", format!("{kind} {name} was already absent"))
        };
        run.record(
            "finish-object",
            event,
            &human,
            json!({"object": format!("{kind}/{name}")}),
        )
        .await;
    }
    if !args.delete_backup {
        run.out.say(&format!(
            "PersistentVolumeClaim {NS}/{} (the upgrade's database backups) is kept; \
             `astro-upgrade finish --delete-backup` deletes it",
            upgrade_path::BACKUP_PVC
        ));
    }
    run.record(
        "finish",
        "done",
        "finished: the upgrader's cluster-wide rights are removed",
        json!({"deleted": targets.iter().filter(|t| t.2).count(), "absent": targets.iter().filter(|t| !t.2).count()}),
    )
    .await;
    run.out.finish();
    Ok(Code::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_waits_for_a_verified_platform_and_no_running_job() {
        assert!(refusals(Existing::Complete, Existing::Absent, &[]).is_empty());
        assert!(refusals(Existing::Absent, Existing::Complete, &[]).is_empty());
        let why = refusals(Existing::Complete, Existing::Active, &[]);
        assert_eq!(why.len(), 1);
        assert!(why[0].contains("rollback is running"), "{why:?}");
        let why = refusals(Existing::Active, Existing::Absent, &[]);
        assert!(
            why[0].contains("upgrade-astronomer is still running"),
            "{why:?}"
        );
        let why = refusals(
            Existing::Complete,
            Existing::Absent,
            &["Helm release astronomer is on chart 0.16.9, not 0.23.x".into()],
        );
        assert!(why[0].contains("not verified on 0.23"), "{why:?}");
        assert!(why[0].contains("0.16.9"), "{why:?}");
    }

    #[test]
    fn the_copy_pod_s_log_decodes_to_gzip_or_is_refused() {
        use base64::Engine as _;
        let gz = [0x1f, 0x8b, 8, 0, 1, 2, 3];
        let encoded = base64::engine::general_purpose::STANDARD.encode(gz);
        let log = format!("{}\n{}\n", &encoded[..4], &encoded[4..]);
        assert_eq!(decode_copy(&log).unwrap(), gz);
        assert!(decode_copy("not base64!").is_err());
        let plain = base64::engine::general_purpose::STANDARD.encode("hello");
        assert!(decode_copy(&plain).unwrap_err().contains("gzip"));
        let pod = serde_json::to_value(copy_pod("quay.io/x:1")).unwrap();
        assert_eq!(
            pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "astronomer-upgrades-backup"
        );
        assert_eq!(
            pod["spec"]["containers"][0]["command"][2],
            "tar cz -C /astronomer-backups . | base64"
        );
    }

    #[test]
    fn only_star_on_star_is_cluster_admin() {
        let role = |verbs: &[&str], resources: &[&str]| -> ClusterRole {
            serde_json::from_value(json!({
                "metadata": {"name": "r"},
                "rules": [{"apiGroups": ["*"], "resources": resources, "verbs": verbs}],
            }))
            .unwrap()
        };
        assert!(grants_everything(&role(&["*"], &["*"])));
        assert!(!grants_everything(&role(&["get"], &["*"])));
        assert!(!grants_everything(&role(&["*"], &["pods"])));
    }

    #[test]
    fn the_command_names_a_non_default_namespace_and_context() {
        let mut global = GlobalArgs {
            kubeconfigs: Vec::new(),
            contexts: Vec::new(),
            namespace: "astronomer".into(),
            output: crate::OutputFormat::Human,
        };
        assert_eq!(finish_command(&global), "astro-upgrade finish");
        global.namespace = "astro".into();
        global.contexts = vec!["prod".into()];
        assert_eq!(
            finish_command(&global),
            "astro-upgrade finish -n astro --context prod"
        );
    }
}
