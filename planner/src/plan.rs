//! The approvable plan: what will be done, in order, on which cluster, on what evidence.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::acks::Acknowledgements;
use crate::facts::{Diagnostic, Facts};
use crate::input::{EvidenceKind, Source};
use crate::options::UpgraderOptions;
use crate::path::{UpgradePath, ROLLBACK_JOB, UPGRADE_JOB};
use crate::report::{redact_secrets, Finding, Report, Verdict};
use crate::rules;

pub const PLAN_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub schema_version: u32,
    /// `astronomer-0.16-to-0.23`
    pub upgrade_path: String,
    /// Given by the caller (the planner has no clock); excluded from the plan digest.
    pub created_at: String,
    /// SHA-256 over the evidence in canonical order (see [`evidence_digest`]).
    pub evidence_digest: String,
    /// Each piece of evidence by name and hash: what was assessed, without its text.
    pub evidence: Vec<EvidenceEntry>,
    /// What the cluster looked like; the executor compares it with the live cluster.
    pub cluster_fingerprint: ClusterFingerprint,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    /// What the readers could not read or doubted, with secrets masked.
    pub diagnostics: Vec<Diagnostic>,
    pub acknowledgements: Acknowledgements,
    /// What `apply` sets on the upgrade Job beyond the reviewed manifest (absent when nothing).
    #[serde(default, skip_serializing_if = "UpgraderOptions::is_default")]
    pub upgrader_options: UpgraderOptions,
    /// The hosts `apply`'s probe must reach from inside the cluster before the upgrade Job is
    /// created (absent from plans written before the probe tested egress).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress_probe: Vec<String>,
    /// The upgrade, in order: manual commands exactly as typed, and the executor's equivalent.
    pub steps: Vec<Step>,
    pub rollback: Rollback,
    /// The post-upgrade checks (the procedure's Step 7, plus the Helm and pod checks).
    pub verification: Vec<String>,
    /// SHA-256 over the canonical JSON of the plan without `created_at` and `plan_digest`.
    pub plan_digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceEntry {
    /// `source` for cluster evidence, `manifest` for a manifest to apply.
    pub role: String,
    pub name: String,
    pub kind: Option<String>,
    /// SHA-256 of the text: proves which text was assessed without keeping it. None when the
    /// text may hold a credential: a hash of a short, mostly known text would let a password be
    /// guessed. The evidence digest still covers it.
    pub sha256: Option<String>,
    pub lines: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterFingerprint {
    pub server_version: Option<String>,
    pub platform_release: Option<String>,
    pub platform_namespace: Option<String>,
    pub chart_version: Option<String>,
    /// `namespace/name` of every pod that was not healthy, sorted.
    pub unhealthy_pods: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// A person types the commands.
    Manual,
    /// `astro-upgrade` does it.
    Executor,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Stable id (`apply-upgrade`), for journals and cross references.
    pub id: String,
    pub title: String,
    pub kind: StepKind,
    /// Exactly as a person would type them, in order.
    pub commands: Vec<String>,
    /// What to look for, and what to do when it goes wrong.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    /// When to roll back.
    pub when: String,
    pub steps: Vec<Step>,
    /// What the rollback needs and destroys.
    pub warnings: Vec<String>,
}

impl ClusterFingerprint {
    /// The fingerprint of a cluster as the facts describe it (pasted or live).
    pub fn from_facts(facts: &Facts) -> ClusterFingerprint {
        let path = &crate::path::LTS_0_16_TO_0_23;
        let release = rules::platform_release(path, facts);
        let mut unhealthy_pods: Vec<String> = facts
            .pods
            .iter()
            .filter(|p| !p.healthy)
            .map(|p| match &p.namespace {
                Some(ns) => format!("{ns}/{}", p.name),
                None => p.name.clone(),
            })
            .collect();
        crate::sort::sort_by(&mut unhealthy_pods, String::cmp);
        unhealthy_pods.dedup();
        ClusterFingerprint {
            server_version: facts.kubernetes.server_version.clone(),
            platform_release: release.map(|r| r.name.clone()),
            platform_namespace: release.and_then(|r| r.namespace.clone()),
            chart_version: release.and_then(|r| r.chart_version.clone()),
            unhealthy_pods,
        }
    }

    /// Each difference between the planned cluster (`self`) and `other`, in words; empty when
    /// they match.
    pub fn diff(&self, other: &ClusterFingerprint) -> Vec<String> {
        let mut differences = Vec::new();
        let fields = [
            (
                "Kubernetes server version",
                &self.server_version,
                &other.server_version,
            ),
            (
                "platform release",
                &self.platform_release,
                &other.platform_release,
            ),
            (
                "platform namespace",
                &self.platform_namespace,
                &other.platform_namespace,
            ),
            (
                "platform chart version",
                &self.chart_version,
                &other.chart_version,
            ),
        ];
        for (what, planned, now) in fields {
            if planned != now {
                differences.push(format!(
                    "{what} was {} in the plan and is {} now",
                    shown(planned),
                    shown(now)
                ));
            }
        }
        let newly: Vec<&str> = other
            .unhealthy_pods
            .iter()
            .filter(|p| !self.unhealthy_pods.contains(p))
            .map(String::as_str)
            .collect();
        if !newly.is_empty() {
            differences.push(format!(
                "pods unhealthy now but not in the plan: {}",
                newly.join(", ")
            ));
        }
        let recovered: Vec<&str> = self
            .unhealthy_pods
            .iter()
            .filter(|p| !other.unhealthy_pods.contains(p))
            .map(String::as_str)
            .collect();
        if !recovered.is_empty() {
            differences.push(format!(
                "pods unhealthy in the plan but not now: {}",
                recovered.join(", ")
            ));
        }
        differences
    }
}

fn shown(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("`{v}`"),
        None => "unknown".to_string(),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a text may hold a credential, so that even its hash is withheld: the connection
/// string (perhaps still base64), a whole transcript, an untyped paste, or any text in which a
/// credential is visible.
fn may_hold_credential(source: &Source) -> bool {
    matches!(
        source.kind,
        None | Some(EvidenceKind::Connection) | Some(EvidenceKind::Transcript)
    ) || redact_secrets(&source.text) != source.text
}

fn entry(role: &str, source: &Source) -> EvidenceEntry {
    let holds_credential = role == "source" && may_hold_credential(source);
    EvidenceEntry {
        role: role.to_string(),
        name: source.name.clone(),
        kind: source.kind.map(|k| k.as_str().to_string()),
        sha256: (!holds_credential).then(|| sha256_hex(source.text.as_bytes())),
        lines: source.text.lines().count(),
    }
}

/// Every piece of evidence with its role, in canonical order (role, name, kind, text).
fn canonical<'s>(
    sources: &'s [Source],
    manifests: &'s [Source],
) -> Vec<(&'static str, &'s Source)> {
    let mut all: Vec<(&'static str, &Source)> = sources
        .iter()
        .map(|s| ("source", s))
        .chain(manifests.iter().map(|m| ("manifest", m)))
        .collect();
    crate::sort::sort_by(&mut all, |(role_a, a), (role_b, b)| {
        (role_a, &a.name, a.kind.map(|k| k.as_str()), &a.text).cmp(&(
            role_b,
            &b.name,
            b.kind.map(|k| k.as_str()),
            &b.text,
        ))
    });
    all
}

/// The evidence entries in canonical order: sources then manifests, by name and kind.
pub fn evidence_entries(sources: &[Source], manifests: &[Source]) -> Vec<EvidenceEntry> {
    canonical(sources, manifests)
        .into_iter()
        .map(|(role, source)| entry(role, source))
        .collect()
}

/// SHA-256 over the evidence in canonical order: role, name, kind and the full text of each
/// piece, length-prefixed. The same evidence in any order gives the same digest. The digest runs
/// over the texts themselves, not over their per-file hashes, so a text holding a password
/// cannot be guessed from the plan without every other pasted text.
pub fn evidence_digest(sources: &[Source], manifests: &[Source]) -> String {
    let mut hasher = Sha256::new();
    for (role, source) in canonical(sources, manifests) {
        let kind = source.kind.map_or("", |k| k.as_str());
        for part in [role, source.name.as_str(), kind, source.text.as_str()] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Plan {
    /// Builds the plan for `path` from evaluated evidence and seals it with its digest.
    /// `sources` and `manifests` are the evidence the facts and report were made from.
    pub fn build(
        path: &UpgradePath,
        evidence: (&[Source], &[Source]),
        facts: &Facts,
        report: &Report,
        acks: &Acknowledgements,
        options: &UpgraderOptions,
        created_at: &str,
    ) -> Plan {
        let (sources, manifests) = evidence;
        let namespace = rules::platform_namespace(path, facts);
        let release = rules::platform_release(path, facts)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| "<release>".to_string());
        let mut findings = report.findings.clone();
        for finding in &mut findings {
            finding.message = redact_secrets(&finding.message);
            finding.remedy = finding.remedy.as_deref().map(redact_secrets);
            for item in &mut finding.items {
                item.subject = redact_secrets(&item.subject);
                item.message = redact_secrets(&item.message);
            }
        }
        let mut diagnostics = report.diagnostics.clone();
        for diagnostic in &mut diagnostics {
            diagnostic.message = redact_secrets(&diagnostic.message);
        }
        let egress_probe: Vec<String> = rules::required_egress(path, facts, acks)
            .iter()
            .map(|host| host.host.to_string())
            .collect();
        let mut plan = Plan {
            schema_version: PLAN_SCHEMA_VERSION,
            upgrade_path: path.id.to_string(),
            created_at: created_at.to_string(),
            evidence_digest: evidence_digest(sources, manifests),
            evidence: evidence_entries(sources, manifests),
            cluster_fingerprint: ClusterFingerprint::from_facts(facts),
            verdict: report.verdict,
            findings,
            diagnostics,
            acknowledgements: acks.clone(),
            upgrader_options: options.clone(),
            steps: steps(path, (acks, options), &egress_probe, &release, &namespace),
            egress_probe,
            rollback: rollback(path, &release, &namespace),
            verification: verification(path, &release, &namespace),
            plan_digest: String::new(),
        };
        plan.plan_digest = plan.compute_digest();
        plan
    }

    /// SHA-256 (hex) over the canonical JSON: the plan serialised with its fields in struct
    /// order, `created_at` and `plan_digest` blanked.
    pub fn compute_digest(&self) -> String {
        let mut canonical = self.clone();
        canonical.created_at = String::new();
        canonical.plan_digest = String::new();
        let json = serde_json::to_vec(&canonical).unwrap_or_default();
        sha256_hex(&json)
    }

    /// Whether the plan is exactly the one that was sealed (nothing edited since).
    pub fn verify_digest(&self) -> bool {
        !self.plan_digest.is_empty() && self.plan_digest == self.compute_digest()
    }

    /// The plan as Markdown for a change ticket.
    pub fn to_markdown(&self) -> String {
        crate::render::plan_markdown(self)
    }
}

fn step(id: &str, title: &str, kind: StepKind, commands: &[String], notes: &[String]) -> Step {
    Step {
        id: id.to_string(),
        title: title.to_string(),
        kind,
        commands: commands.to_vec(),
        notes: notes.to_vec(),
    }
}

fn steps(
    path: &UpgradePath,
    (acks, options): (&Acknowledgements, &UpgraderOptions),
    egress_probe: &[String],
    release: &str,
    ns: &str,
) -> Vec<Step> {
    let upgrade = path.upgrade_manifest.file_name;
    let rollback = path.rollback_manifest.file_name;
    let target = path.upgrade_namespace;
    let mut download = rules::download_commands(path);
    download.push(format!("sha256sum {upgrade} {rollback}"));
    let mut download_notes = vec![format!(
        "The URL on the procedure page ({}) does not exist; these are the real files at tag {}.",
        path.documented_broken_url, path.git_tag
    )];
    if acks.air_gapped {
        let registry = acks.mirrors.as_deref().unwrap_or("<registry>");
        let image = path
            .upgrader_image
            .split(':')
            .next()
            .unwrap_or(path.upgrader_image);
        download_notes.insert(
            0,
            format!(
                "Air-gapped: download on a connected machine, carry the files in, then point them at the mirror. The {} platform images must be in the mirror too.",
                path.to_platform
            ),
        );
        download.push(format!(
            "sed -i 's#{image}#{registry}/astronomer/{}#' {upgrade} {rollback}",
            path.upgrader_image_name
        ));
    }
    vec![
        step(
            "record-starting-point",
            "Record the starting point",
            StepKind::Manual,
            &[
                format!("helm history {release} -n {ns}"),
                format!("kubectl get pods -n {ns}"),
            ],
            &[format!(
                "Keep both outputs in the change ticket: the last revision must be astronomer-{}.x `deployed`.",
                path.from_platform
            )],
        ),
        step(
            "download-manifests",
            "Download the upgrade and rollback manifests",
            StepKind::Manual,
            &download,
            &download_notes,
        ),
        step(
            "execute-with-astro-upgrade",
            "Either: let astro-upgrade carry out the upgrade",
            StepKind::Executor,
            &[if acks.rollback_data_loss {
                format!(
                    "astro-upgrade apply --plan plan.json --manifest {upgrade} --rollback-manifest {rollback} --auto-rollback"
                )
            } else {
                format!("astro-upgrade apply --plan plan.json --manifest {upgrade} --rollback-manifest {rollback}")
            }],
            &[
                "Replaces the manual steps switch-namespace, apply-upgrade, watch-upgrade and confirm-release.".into(),
                "It verifies this plan's digest, re-checks the live cluster and refuses on drift, applies the manifest, watches the Job and verifies the release.".into(),
                format!(
                    "Before it creates the upgrade Job, a probe Job with the upgrader's image, ServiceAccount and backup volume proves the image pulls, the volume binds, and that the cluster reaches {} over HTTPS; it refuses (exit 3) naming each host that does not answer.",
                    if egress_probe.is_empty() { "no host (none is needed)".to_string() } else { egress_probe.join(", ") }
                ),
                if acks.rollback_data_loss {
                    format!("Automatic rollback (acknowledged: rollback-data-loss) only when the upgrader failed at `{}` or later and this run's database dump finished before it; a failure before that changed nothing and is never rolled back (exit 7: fix the cause, then `apply --rerun`).", crate::upgrader::POINT_OF_NO_RETURN)
                } else {
                    "No automatic rollback: `--auto-rollback` needs the acknowledgement rollback-data-loss in this plan (the rollback deletes the Elasticsearch log volumes and restores the Houston database from this run's backup).".into()
                },
            ],
        ),
        step(
            "switch-namespace",
            "Or, by hand: switch the kubectl context to the default namespace",
            StepKind::Manual,
            &[
                format!("kubectl config set-context --current --namespace={target}"),
                "kubectl config view --minify --output 'jsonpath={..namespace}'".into(),
            ],
            &[format!(
                "The second command must print `{target}`: the manifest's objects take the context's namespace, and its ClusterRoleBinding names `{target}`."
            )],
        ),
        step(
            "apply-upgrade",
            "Apply the upgrade manifest",
            StepKind::Manual,
            &[format!("kubectl apply -f {upgrade}")],
            &apply_notes(path, options),
        ),
        step(
            "watch-upgrade",
            "Watch the upgrade Job",
            StepKind::Manual,
            &[
                format!("kubectl get pods -n {target} | grep {UPGRADE_JOB}"),
                format!("kubectl logs -n {target} -f job/{UPGRADE_JOB}"),
            ],
            &[
                "The pod ends `Completed` on success. `Error` means the upgrade failed: the Job does not retry (backoffLimit 0); go to the rollback section.".into(),
                "A PVC stuck `Pending` means no default StorageClass; `ImagePullBackOff` means the image cannot be pulled.".into(),
            ],
        ),
        step(
            "confirm-release",
            "Confirm the platform release",
            StepKind::Manual,
            &[
                format!("helm history {release} -n {ns}"),
                format!("kubectl get pods -n {ns}"),
            ],
            &[format!(
                "The last revision must be astronomer-{}.x `deployed`, and every pod Running with full readiness or Completed.",
                path.to_platform
            )],
        ),
        step(
            "verify-platform",
            "Verify the platform (checklist below)",
            StepKind::Manual,
            &[],
            &["Work through the verification checklist; roll back if a check fails and cannot be fixed.".into()],
        ),
        step(
            "upgrade-astro-cli",
            "Upgrade the Astronomer CLI of every user",
            StepKind::Manual,
            &[path.cli_upgrade_command.to_string()],
            &[],
        ),
    ]
}

/// What applying the manifest creates, and by hand what the plan's upgrader options need.
fn apply_notes(path: &UpgradePath, options: &UpgraderOptions) -> Vec<String> {
    let mut notes = vec![format!(
        "Creates, in `{}`, the ServiceAccount, a {} backup PVC and the Job `{UPGRADE_JOB}`, plus a cluster-wide ClusterRole and its binding.",
        path.upgrade_namespace, path.backup_volume_size
    )];
    let env = options.env();
    let command = options.command();
    if env.is_empty() && command.is_none() {
        return notes;
    }
    let mut edit = format!(
        "This plan sets upgrader options (`astro-upgrade apply` does this itself): by hand, before `kubectl apply`, add to the Job `{UPGRADE_JOB}`'s container in {}:",
        path.upgrade_manifest.file_name
    );
    if !env.is_empty() {
        edit.push_str(" `env:`");
        for (name, value) in &env {
            edit.push_str(&format!(" `- {{name: {name}, value: \"{value}\"}}`"));
        }
    }
    if let Some(command) = &command {
        let quoted: Vec<String> = command.iter().map(|w| format!("\"{w}\"")).collect();
        edit.push_str(&format!(" `command: [{}]`", quoted.join(", ")));
    }
    edit.push('.');
    notes.push(edit);
    notes
}

fn rollback(path: &UpgradePath, release: &str, ns: &str) -> Rollback {
    let file = path.rollback_manifest.file_name;
    let target = path.upgrade_namespace;
    Rollback {
        when: format!(
            "Only when the upgrader failed at `{}` or later (the point of no return), or verification fails and cannot be fixed, and this run's database dump (`{}`) finished: return to {}.x with that backup. A failure in an earlier task changed nothing on the platform: never roll back then (the rollback would restore the newest backup directory, a partial dump or an older attempt's); fix the cause and re-run.",
            crate::upgrader::POINT_OF_NO_RETURN,
            crate::upgrader::DATABASE_BACKUP_TASK,
            path.from_platform
        ),
        steps: vec![
            step(
                "rollback-with-astro-upgrade",
                "Either: let astro-upgrade roll back",
                StepKind::Executor,
                &[format!("astro-upgrade rollback --rollback-manifest {file}")],
                &[],
            ),
            step(
                "apply-rollback",
                "Or, by hand: apply the rollback manifest in the default namespace",
                StepKind::Manual,
                &[
                    format!("kubectl config set-context --current --namespace={target}"),
                    format!("kubectl apply -f {file}"),
                ],
                &[],
            ),
            step(
                "watch-rollback",
                "Watch the rollback Job",
                StepKind::Manual,
                &[
                    format!("kubectl get pods -n {target} | grep {ROLLBACK_JOB}"),
                    format!("kubectl logs -n {target} -f job/{ROLLBACK_JOB}"),
                ],
                &["The pod ends `Completed` on success; on `Error` call Astronomer support with the log.".into()],
            ),
            step(
                "confirm-rollback",
                "Confirm the platform is back",
                StepKind::Manual,
                &[
                    format!("helm history {release} -n {ns}"),
                    format!("watch kubectl get pods -n {ns}"),
                ],
                &[format!(
                    "The last revision must be astronomer-{}.x `deployed`; wait until every pod is Running with full readiness or Completed.",
                    path.from_platform
                )],
            ),
        ],
        warnings: rules::rollback_caveats(path),
    }
}

fn verification(path: &UpgradePath, release: &str, ns: &str) -> Vec<String> {
    vec![
        format!(
            "`helm history {release} -n {ns}` shows the last revision as astronomer-{}.x `deployed`",
            path.to_platform
        ),
        format!("`kubectl get pods -n {ns}`: every pod Running with full readiness, or Completed"),
        "Log in to Astronomer at https://app.BASEDOMAIN".into(),
        "See Workspaces and Airflow Deployments in the Astronomer UI".into(),
        "Open the settings of your Airflow Deployments".into(),
        "See metrics on the Metrics tab in the Astronomer UI".into(),
        "Run `astro deploy` successfully with the Astronomer CLI".into(),
        "Open a Deployment in the Airflow UI".into(),
        "Read the logs of your DAGs' tasks in the Airflow UI".into(),
    ]
}
