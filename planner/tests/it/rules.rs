//! Rules, verdict, plan and Markdown, on facts built by hand (independent of the readers).

use planner::facts::{
    At, Certified, CertifiedForm, ConnectionError, Context, DatabaseConnection, Diagnostic,
    EgressCheck, Facts, HelmGeneration, HelmRelease, HelmRevision, Image, KubernetesFacts,
    Permission, Pod, Severity, StorageClass, UpgradeResources, UpgraderSplit,
};
use planner::path::{CheckKind, LTS_0_16_TO_0_23};
use planner::plan::{evidence_digest, ClusterFingerprint, Plan, StepKind};
use planner::report::{redact_secrets, Report, Status, Verdict};
use planner::rules::{evaluate, matches_known_crashing};
use planner::{Acknowledgements, EvidenceKind, Source};

const ALL_IDS: [&str; 16] = [
    "kubernetes-version",
    "kubectl-skew",
    "platform-version",
    "helm-release-state",
    "airflow-releases",
    "airflow-images",
    "permissions",
    "system-admin",
    "database-backup",
    "pod-health",
    "context-namespace",
    "default-storageclass",
    "database-connection",
    "egress-or-mirror",
    "manifest-source",
    "rollback-readiness",
];

fn at(source: &str, line: u32) -> At {
    At::new(source, line)
}

fn pod(ns: &str, name: &str, ready: &str, status: &str, healthy: bool, line: u32) -> Pod {
    Pod {
        namespace: Some(ns.into()),
        name: name.into(),
        ready: Some(ready.into()),
        status: status.into(),
        restarts: Some(0),
        healthy,
        at: at("pods.txt", line),
    }
}

fn permission(resource: &str, namespace: Option<&str>, allowed: bool, line: u32) -> Permission {
    Permission {
        verb: "create".into(),
        resource: resource.into(),
        namespace: namespace.map(Into::into),
        allowed,
        all_namespaces: false,
        as_user: None,
        at: at("can-i.txt", line),
    }
}

/// `kubectl auth can-i '*' '*' --all-namespaces`: everything the upgrader's ClusterRole grants.
fn everything(allowed: bool, line: u32) -> Permission {
    Permission {
        verb: "*".into(),
        resource: "*".into(),
        namespace: None,
        allowed,
        all_namespaces: true,
        as_user: None,
        at: at("can-i.txt", line),
    }
}

/// The nine answers the `permissions` check asks for, all yes.
fn required_permissions() -> Vec<Permission> {
    vec![
        permission("pods", Some("astronomer"), true, 2),
        permission("serviceaccounts", Some("astronomer"), true, 4),
        permission("jobs", Some("astronomer"), true, 6),
        permission("serviceaccounts", Some("default"), true, 8),
        permission("persistentvolumeclaims", Some("default"), true, 10),
        permission("jobs", Some("default"), true, 12),
        permission("clusterroles", None, true, 14),
        permission("clusterrolebindings", None, true, 16),
        everything(true, 18),
    ]
}

fn certified(
    tag: &str,
    version: &str,
    build: Option<u32>,
    onbuild: bool,
    form: CertifiedForm,
) -> Image {
    Image {
        reference: format!("quay.io/astronomer/ap-airflow:{tag}"),
        registry: Some("quay.io".into()),
        repository: "astronomer/ap-airflow".into(),
        tag: Some(tag.into()),
        digest: None,
        certified: Some(Certified {
            airflow_version: version.into(),
            build_number: build,
            distribution: Some("buster".into()),
            onbuild,
            form,
        }),
        base: None,
        at: at("images.txt", 1),
    }
}

fn plain_image(reference: &str, repository: &str, tag: Option<&str>) -> Image {
    Image {
        reference: reference.into(),
        registry: None,
        repository: repository.into(),
        tag: tag.map(Into::into),
        digest: None,
        certified: None,
        base: None,
        at: at("images.txt", 2),
    }
}

fn platform_release(chart_version: &str, status: &str) -> HelmRelease {
    HelmRelease {
        name: "astronomer".into(),
        namespace: Some("astronomer".into()),
        revision: Some(4),
        status: Some(status.into()),
        chart: "astronomer".into(),
        chart_version: Some(chart_version.into()),
        app_version: Some(chart_version.into()),
        helm: Some(HelmGeneration::Helm3),
        at: at("helm-list.txt", 2),
    }
}

/// How the upgrader's pattern splits a connection string, the password left out.
fn split(user: &str, host: &str, port: &str) -> UpgraderSplit {
    UpgraderSplit {
        user: user.into(),
        host: host.into(),
        host_holds_password: false,
        port: port.into(),
        password_empty: false,
        percent_encoded: false,
    }
}

/// A cluster on which every check passes.
fn healthy() -> Facts {
    Facts {
        kubernetes: KubernetesFacts {
            client_version: Some("1.18.3".into()),
            server_version: Some("1.18.20-gke.901".into()),
            error: None,
            client_at: Some(at("kubectl-version.txt", 1)),
            server_at: Some(at("kubectl-version.txt", 2)),
            error_at: None,
        },
        pods: vec![
            pod(
                "astronomer",
                "astronomer-houston-6f7c9d8b5-k2x9q",
                "1/1",
                "Running",
                true,
                2,
            ),
            pod(
                "astronomer",
                "astronomer-prisma-7d9d7f9cc6-xsp45",
                "1/1",
                "Running",
                true,
                3,
            ),
        ],
        pods_listed: true,
        permissions: required_permissions(),
        images: vec![certified(
            "1.10.12-1-buster-onbuild",
            "1.10.12",
            Some(1),
            true,
            CertifiedForm::Pinned,
        )],
        helm_releases: vec![
            platform_release("0.16.9", "deployed"),
            HelmRelease {
                name: "infrared-photon-7780".into(),
                namespace: Some("astronomer-infrared-photon-7780".into()),
                revision: Some(2),
                status: Some("deployed".into()),
                chart: "airflow".into(),
                chart_version: Some("0.15.6".into()),
                app_version: None,
                helm: Some(HelmGeneration::Helm3),
                at: at("helm-list.txt", 3),
            },
        ],
        helm_list_all: Some(at("helm-list.txt", 1)),
        helm_history: Vec::new(),
        storage_classes: vec![StorageClass {
            name: "standard".into(),
            default: true,
            provisioner: Some("kubernetes.io/gce-pd".into()),
            at: at("storageclass.txt", 2),
        }],
        contexts: vec![Context {
            name: "gke_prod".into(),
            namespace: None,
            current: true,
            at: at("contexts.txt", 2),
        }],
        database_connection: Some(DatabaseConnection {
            scheme: "postgres".into(),
            host: "db.example.internal".into(),
            has_port: true,
            upgrader: Some(split("astro", "db.example.internal", "5432")),
            upgrader_evaluated: true,
            at: at("connection.txt", 1),
        }),
        egress: ["helm.astronomer.io", "updates.astronomer.io", "quay.io"]
            .iter()
            .zip(1..)
            .map(|(host, line)| EgressCheck {
                host: host.to_string(),
                url: None,
                reachable: true,
                detail: "HTTP/2 200".into(),
                at: at("egress.txt", line),
            })
            .collect(),
        upgrade_resources: None,
        diagnostics: Vec::new(),
    }
}

fn acks() -> Acknowledgements {
    Acknowledgements {
        database_backup: Some("CHG-1234".into()),
        system_admin: true,
        ..Acknowledgements::default()
    }
}

fn run(facts: &Facts, acks: &Acknowledgements) -> Report {
    evaluate(facts, acks, &[])
}

fn status_of(report: &Report, id: &str) -> Status {
    report
        .finding(id)
        .unwrap_or_else(|| panic!("no finding {id}"))
        .status
}

fn check_with(facts: &Facts, id: &str) -> Status {
    status_of(&run(facts, &acks()), id)
}

#[test]
fn one_finding_per_check_id_in_order() {
    let report = run(&healthy(), &acks());
    let ids: Vec<&str> = report.findings.iter().map(|f| f.check.as_str()).collect();
    assert_eq!(ids, ALL_IDS);
    let path_ids: Vec<&str> = LTS_0_16_TO_0_23.checks.iter().map(|c| c.id).collect();
    assert_eq!(path_ids, ALL_IDS);
    let advisory: Vec<&str> = LTS_0_16_TO_0_23
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::Advisory)
        .map(|c| c.id)
        .collect();
    assert_eq!(
        advisory,
        [
            "kubectl-skew",
            "context-namespace",
            "manifest-source",
            "rollback-readiness"
        ]
    );
}

#[test]
fn healthy_cluster_with_acks_is_go() {
    let report = run(&healthy(), &acks());
    for f in &report.findings {
        assert_eq!(f.status, Status::Pass, "{}: {}", f.check, f.message);
        assert!(
            !f.message.is_empty() && !f.message.contains('\n'),
            "{}",
            f.check
        );
    }
    assert_eq!(report.verdict, Verdict::Go);
}

#[test]
fn no_evidence_at_all_is_incomplete_and_never_a_silent_pass() {
    let report = run(&Facts::default(), &Acknowledgements::default());
    assert_eq!(report.verdict, Verdict::Incomplete);
    for spec in LTS_0_16_TO_0_23.checks {
        let f = report.finding(spec.id).unwrap();
        match (spec.id, spec.kind) {
            // Without evidence these two state what to use and what it costs, which is their pass.
            ("manifest-source" | "rollback-readiness", _) => assert_eq!(f.status, Status::Pass),
            // Egress is proven by `apply`'s probe at the latest: unproven, a warning naming it.
            ("egress-or-mirror", _) => {
                assert_eq!(f.status, Status::Warn);
                assert!(f.message.contains("egress not proven"), "{}", f.message);
            }
            (_, CheckKind::Required) => assert_eq!(f.status, Status::Unknown, "{}", spec.id),
            (_, CheckKind::Advisory) => {
                assert_eq!(f.status, Status::Warn, "{}", spec.id);
                assert!(f.message.starts_with("not evaluated"), "{}", f.message);
            }
        }
        if f.status == Status::Unknown {
            assert!(f.remedy.is_some(), "{} needs a remedy", spec.id);
        }
    }
}

#[test]
fn verdict_logic() {
    let mut facts = healthy();
    assert_eq!(run(&facts, &acks()).verdict, Verdict::Go);
    // A warning alone does not block GO.
    facts.kubernetes.client_version = Some("1.14.0".into());
    let report = run(&facts, &acks());
    assert_eq!(status_of(&report, "kubectl-skew"), Status::Warn);
    assert_eq!(report.verdict, Verdict::Go);
    // An unknown blocks it.
    let report = run(&facts, &Acknowledgements::default());
    assert_eq!(report.verdict, Verdict::Incomplete);
    // A fail wins over unknowns.
    facts.kubernetes.server_version = Some("1.19.3".into());
    let report = run(&facts, &Acknowledgements::default());
    assert_eq!(report.verdict, Verdict::NoGo);
    assert_eq!(report.failing_checks(), ["kubernetes-version"]);
}

#[test]
fn vendor_suffixes_are_not_prereleases() {
    use planner::version::{parse, Version};
    let core = |text: &str| {
        parse(text).map(|v| {
            assert!(v.pre.is_empty(), "{text} read as a pre-release");
            Version::new(v.major, v.minor, v.patch)
        })
    };
    assert_eq!(core("1.18.20-gke.901"), Some(Version::new(1, 18, 20)));
    assert_eq!(core("v1.16.15-eks-ad4801"), Some(Version::new(1, 16, 15)));
    assert_eq!(core("1.17.4+k3s1"), Some(Version::new(1, 17, 4)));
    assert_eq!(core("1.16+"), Some(Version::new(1, 16, 0)));
    assert_eq!(parse("garbage"), None);
}

#[test]
fn kubernetes_version_cases() {
    let mut facts = healthy();
    for (server, expected) in [
        ("1.18.20-gke.901", Status::Pass),
        ("1.16.15-eks-ad4801", Status::Pass),
        ("1.17.4+k3s1", Status::Pass),
        ("1.19.0-eks-1", Status::Fail),
        ("1.19.2", Status::Fail),
        ("1.13.12", Status::Fail),
        ("1.14.10", Status::Warn),
        ("1.15.11-gke.3", Status::Warn),
    ] {
        facts.kubernetes.server_version = Some(server.into());
        facts.kubernetes.client_version = Some(server.into());
        assert_eq!(
            check_with(&facts, "kubernetes-version"),
            expected,
            "{server}"
        );
    }
    facts.kubernetes.server_version = None;
    facts.kubernetes.error = Some(ConnectionError::ConnectionRefused);
    facts.kubernetes.error_at = Some(at("kubectl-version.txt", 2));
    let report = run(&facts, &acks());
    let f = report.finding("kubernetes-version").unwrap();
    assert_eq!(f.status, Status::Unknown);
    assert!(f.message.contains("connection refused"), "{}", f.message);
    assert!(f.remedy.as_deref().unwrap().contains("kubectl"));
    assert_eq!(f.evidence, vec![at("kubectl-version.txt", 2)]);
}

#[test]
fn version_requirements_decide_with_vendor_builds_and_pre_releases() {
    // Kubernetes: vendor suffixes are builds of a release; a real pre-release satisfies nothing.
    let mut facts = healthy();
    for (server, expected) in [
        ("v1.18", Status::Pass),
        ("1.16+", Status::Pass),
        ("1.18.20-gke.901", Status::Pass),
        ("1.19.0-rc.1", Status::Fail),
        ("1.18.0-rc.1", Status::Fail),
        ("1.15.0-beta.2", Status::Fail),
    ] {
        facts.kubernetes.server_version = Some(server.into());
        assert_eq!(
            check_with(&facts, "kubernetes-version"),
            expected,
            "{server}"
        );
    }
    facts.kubernetes.server_version = Some("1.18.0-rc.1".into());
    let report = run(&facts, &acks());
    let message = &report.finding("kubernetes-version").unwrap().message;
    assert!(message.contains("pre-release"), "{message}");
    assert!(message.contains("1.14 ≤ version < 1.19"), "{message}");

    // The platform chart: 0.16.x only, by number rather than by text prefix.
    let mut facts = healthy();
    for (chart, expected) in [
        ("0.16.9", Status::Pass),
        ("v0.16.15", Status::Pass),
        ("0.16", Status::Pass),
        ("0.160.1", Status::Fail),
        ("0.17.0", Status::Fail),
    ] {
        facts.helm_releases[0] = platform_release(chart, "deployed");
        assert_eq!(check_with(&facts, "platform-version"), expected, "{chart}");
    }
    facts.helm_releases[0] = platform_release("0.15.2", "deployed");
    let report = run(&facts, &acks());
    let message = &report.finding("platform-version").unwrap().message;
    assert!(message.contains("starts from 0.16.x"), "{message}");

    // Airflow: at least 1.10.5; 1.10.10 is newer than 1.10.5 (not a text comparison).
    let mut facts = healthy();
    for (version, expected) in [
        ("1.10.10", Status::Pass),
        ("2.0.0", Status::Pass),
        ("1.10.4", Status::Fail),
        ("1.9.0", Status::Fail),
    ] {
        facts.images = vec![certified(
            &format!("{version}-1-buster-onbuild"),
            version,
            Some(1),
            true,
            CertifiedForm::Pinned,
        )];
        assert_eq!(check_with(&facts, "airflow-images"), expected, "{version}");
    }
    let report = run(&facts, &acks());
    let item = &report.finding("airflow-images").unwrap().items[0];
    assert!(item.message.contains("older than"), "{}", item.message);
    assert!(item.message.contains("1.10.5"), "{}", item.message);
}

#[test]
fn kubectl_skew_cases() {
    let mut facts = healthy();
    for (client, expected) in [
        ("1.17.0", Status::Pass),
        ("1.19.2", Status::Pass),
        ("1.20.0", Status::Warn),
        ("1.16.3", Status::Warn),
    ] {
        facts.kubernetes.client_version = Some(client.into());
        assert_eq!(check_with(&facts, "kubectl-skew"), expected, "{client}");
    }
    facts.kubernetes.client_version = None;
    let report = run(&facts, &acks());
    let f = report.finding("kubectl-skew").unwrap();
    assert_eq!(f.status, Status::Warn);
    assert!(f.message.contains("not evaluated"));
}

#[test]
fn platform_version_cases() {
    let mut facts = healthy();
    facts.helm_releases[0] = platform_release("0.23.18", "deployed");
    let report = run(&facts, &acks());
    let f = report.finding("platform-version").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(
        f.message.contains("already upgraded: nothing to do"),
        "{}",
        f.message
    );
    assert_eq!(f.evidence, vec![at("helm-list.txt", 2)]);

    facts.helm_releases[0] = platform_release("0.15.2", "deployed");
    assert_eq!(check_with(&facts, "platform-version"), Status::Fail);

    // `helm history` alone is enough to know the platform version.
    let mut history_only = healthy();
    history_only.helm_releases.clear();
    history_only.helm_history = vec![HelmRevision {
        release: Some("astronomer".into()),
        revision: 4,
        status: "deployed".into(),
        chart: "astronomer".into(),
        chart_version: Some("0.16.9".into()),
        app_version: Some("0.16.9".into()),
        description: Some("Upgrade complete".into()),
        at: at("helm-history.txt", 5),
    }];
    let report = run(&history_only, &acks());
    assert_eq!(status_of(&report, "platform-version"), Status::Pass);
    assert_eq!(status_of(&report, "helm-release-state"), Status::Pass);
    assert_eq!(
        report.finding("platform-version").unwrap().evidence,
        vec![at("helm-history.txt", 5)]
    );

    // Only Airflow releases listed: the platform release is unknown, and the remedy shows --all.
    facts.helm_releases.remove(0);
    let report = run(&facts, &acks());
    let f = report.finding("platform-version").unwrap();
    assert_eq!(f.status, Status::Unknown);
    assert!(f.remedy.as_deref().unwrap().contains("helm list -A --all"));
    assert_eq!(status_of(&report, "helm-release-state"), Status::Unknown);
}

#[test]
fn platform_release_is_the_astronomer_chart_not_postgresql() {
    let mut facts = healthy();
    facts.helm_releases.insert(
        0,
        HelmRelease {
            name: "cautious-seal".into(),
            namespace: Some("datarouter".into()),
            revision: Some(1),
            status: Some("failed".into()),
            chart: "postgresql".into(),
            chart_version: Some("0.18.1".into()),
            app_version: None,
            helm: None,
            at: at("helm-list.txt", 5),
        },
    );
    let report = run(&facts, &acks());
    assert_eq!(status_of(&report, "platform-version"), Status::Pass);
    assert_eq!(status_of(&report, "helm-release-state"), Status::Pass);
}

#[test]
fn platform_namespace_is_inferred_from_the_release() {
    let mut facts = healthy();
    facts.helm_releases[0].namespace = Some("astro".into());
    // without the `*` on `*` answer, which would grant every namespaced right anywhere
    facts.permissions.pop();
    // The can-i answers were asked for `astronomer`: now they are not for the platform namespace.
    let report = run(&facts, &acks());
    let f = report.finding("permissions").unwrap();
    assert_eq!(f.status, Status::Unknown);
    assert!(f
        .remedy
        .as_deref()
        .unwrap()
        .contains("kubectl auth can-i create pods --namespace astro"));
}

#[test]
fn helm_release_state_cases() {
    let mut facts = healthy();
    facts.helm_releases[0].status = Some("pending-upgrade".into());
    let report = run(&facts, &acks());
    let f = report.finding("helm-release-state").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(f
        .remedy
        .as_deref()
        .unwrap()
        .contains("helm history astronomer -n astronomer"));

    facts.helm_releases[0].status = Some("deployed".into());
    facts.helm_releases[0].helm = Some(HelmGeneration::Helm2);
    let report = run(&facts, &acks());
    let f = report.finding("helm-release-state").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(f.message.contains("migrate to Helm 3 first"));

    // The last history row counts even when the list row says deployed.
    facts.helm_releases[0].helm = Some(HelmGeneration::Helm3);
    let row = |revision, status: &str, line| HelmRevision {
        release: Some("astronomer".into()),
        revision,
        status: status.into(),
        chart: "astronomer".into(),
        chart_version: Some("0.16.9".into()),
        app_version: Some("0.16.9".into()),
        description: None,
        at: at("helm-history.txt", line),
    };
    facts.helm_history = vec![row(4, "deployed", 2), row(5, "failed", 3)];
    let report = run(&facts, &acks());
    let f = report.finding("helm-release-state").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(f.evidence.contains(&at("helm-history.txt", 3)));
    assert!(
        f.remedy
            .as_deref()
            .unwrap()
            .contains("helm rollback astronomer 4 -n astronomer"),
        "{:?}",
        f.remedy
    );

    facts.helm_history = vec![row(3, "superseded", 2), row(4, "deployed", 3)];
    assert_eq!(check_with(&facts, "helm-release-state"), Status::Pass);
}

#[test]
fn airflow_images_cases() {
    let mut facts = healthy();
    let cases = [
        (
            certified(
                "1.10.12-1-buster-onbuild",
                "1.10.12",
                Some(1),
                true,
                CertifiedForm::Pinned,
            ),
            Status::Pass,
        ),
        (
            certified(
                "1.10.5-9-buster",
                "1.10.5",
                Some(9),
                false,
                CertifiedForm::Pinned,
            ),
            Status::Warn,
        ),
        (
            certified(
                "1.10.12-buster-onbuild",
                "1.10.12",
                None,
                true,
                CertifiedForm::Floating,
            ),
            Status::Warn,
        ),
        (
            certified(
                "1.10.4-1-buster-onbuild",
                "1.10.4",
                Some(1),
                true,
                CertifiedForm::Pinned,
            ),
            Status::Fail,
        ),
        (
            certified(
                "0.10.3-1.10.5-onbuild",
                "1.10.5",
                None,
                true,
                CertifiedForm::Legacy,
            ),
            Status::Fail,
        ),
        (
            plain_image(
                "quay.io/astronomer/ap-airflow:latest-onbuild",
                "astronomer/ap-airflow",
                Some("latest-onbuild"),
            ),
            Status::Fail,
        ),
        (
            plain_image("astronomerinc/ap-airflow", "astronomerinc/ap-airflow", None),
            Status::Fail,
        ),
        (
            plain_image("apache/airflow:1.10.12", "apache/airflow", Some("1.10.12")),
            Status::Fail,
        ),
        (
            plain_image(
                "registry.astro.example.com/infrared-photon-7780/airflow:deploy-3",
                "infrared-photon-7780/airflow",
                Some("deploy-3"),
            ),
            // built by `astro deploy`: its base is not shown
            Status::Unknown,
        ),
    ];
    for (image, expected) in cases {
        let reference = image.reference.clone();
        facts.images = vec![image];
        let report = run(&facts, &acks());
        let f = report.finding("airflow-images").unwrap();
        assert_eq!(f.status, expected, "{reference}: {}", f.message);
        assert_eq!(f.items.len(), 1);
        assert_eq!(f.items[0].subject, reference);
    }
    // A private mirror of the certified repository is certified.
    let mut mirrored = certified(
        "1.10.12-1-buster-onbuild",
        "1.10.12",
        Some(1),
        true,
        CertifiedForm::Pinned,
    );
    mirrored.repository = "mirror/astronomer/ap-airflow".into();
    mirrored.registry = Some("registry.corp.example:5000".into());
    facts.images = vec![mirrored];
    assert_eq!(check_with(&facts, "airflow-images"), Status::Pass);
    // Platform images are not Airflow images: alone they leave the check unknown.
    facts.images = vec![plain_image(
        "quay.io/astronomer/ap-houston-api:0.16.15",
        "astronomer/ap-houston-api",
        Some("0.16.15"),
    )];
    assert_eq!(check_with(&facts, "airflow-images"), Status::Unknown);
    facts.images.clear();
    assert_eq!(check_with(&facts, "airflow-images"), Status::Unknown);
    // A template's placeholder is not evidence.
    facts.images = vec![plain_image(
        "<your-registry>/ap-airflow:<image-tag>",
        "ap-airflow",
        Some("<image-tag>"),
    )];
    assert_eq!(check_with(&facts, "airflow-images"), Status::Unknown);
    // The same image pasted twice is one item citing both lines.
    let mut twice = certified(
        "1.10.12-1-buster-onbuild",
        "1.10.12",
        Some(1),
        true,
        CertifiedForm::Pinned,
    );
    facts.images = vec![twice.clone()];
    twice.at = at("images.txt", 7);
    facts.images.push(twice);
    let report = run(&facts, &acks());
    let f = report.finding("airflow-images").unwrap();
    assert_eq!(f.items.len(), 1);
    assert_eq!(
        f.items[0].evidence,
        vec![at("images.txt", 1), at("images.txt", 7)]
    );
    // The finding is the worst of its items.
    facts.images = vec![
        certified(
            "1.10.12-1-buster-onbuild",
            "1.10.12",
            Some(1),
            true,
            CertifiedForm::Pinned,
        ),
        certified(
            "1.10.12-buster",
            "1.10.12",
            None,
            false,
            CertifiedForm::Floating,
        ),
        certified(
            "1.10.4-1-buster",
            "1.10.4",
            Some(1),
            false,
            CertifiedForm::Pinned,
        ),
    ];
    let report = run(&facts, &acks());
    let f = report.finding("airflow-images").unwrap();
    assert_eq!(f.status, Status::Fail);
    let statuses: Vec<Status> = f.items.iter().map(|i| i.status).collect();
    assert_eq!(statuses, [Status::Pass, Status::Warn, Status::Fail]);
}

#[test]
fn permissions_cases() {
    let mut facts = healthy();
    facts.permissions[6].allowed = false;
    let report = run(&facts, &acks());
    let f = report.finding("permissions").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.items.len(), 9);
    assert_eq!(f.items[6].status, Status::Fail);
    assert_eq!(f.items[6].evidence, vec![at("can-i.txt", 14)]);
    assert!(f
        .remedy
        .as_deref()
        .unwrap()
        .contains("kubectl auth can-i create clusterroles"));

    // The procedure's three only: the manifest's five are missing → unknown with the commands.
    facts.permissions.truncate(3);
    let report = run(&facts, &acks());
    let f = report.finding("permissions").unwrap();
    assert_eq!(f.status, Status::Unknown);
    let remedy = f.remedy.as_deref().unwrap();
    assert!(remedy.contains("kubectl auth can-i create persistentvolumeclaims --namespace default"));
    assert!(remedy.contains("kubectl auth can-i create clusterrolebindings"));
    assert!(!remedy.contains("can-i create pods"));

    // `*.*` from `kubectl auth can-i --list` in the context namespace (`default`) grants the
    // rights in `default` and cluster-wide, but says nothing about the platform namespace.
    let wildcard = Permission {
        verb: "*".into(),
        resource: "*.*".into(),
        namespace: None,
        allowed: true,
        all_namespaces: false,
        as_user: None,
        at: at("can-i.txt", 3),
    };
    facts.permissions = vec![wildcard.clone()];
    let report = run(&facts, &acks());
    let f = report.finding("permissions").unwrap();
    assert_eq!(f.status, Status::Unknown);
    let statuses: Vec<Status> = f.items.iter().map(|i| i.status).collect();
    assert_eq!(statuses[..3], [Status::Unknown; 3]);
    assert_eq!(statuses[3..8], [Status::Pass; 5]);
    // …nor about holding `*` on `*` in every namespace, which creating the ClusterRole needs
    assert_eq!(statuses[8], Status::Unknown);
    assert!(
        f.items[8].message.contains("one namespace only"),
        "{}",
        f.items[8].message
    );
    // Asked with --all-namespaces, a wildcard yes grants everything.
    facts.permissions = vec![Permission {
        all_namespaces: true,
        ..wildcard
    }];
    assert_eq!(check_with(&facts, "permissions"), Status::Pass);
    facts.permissions = required_permissions();
    facts.permissions[1].resource = "sa".into();
    facts.permissions[4].resource = "pvc".into();
    assert_eq!(check_with(&facts, "permissions"), Status::Pass);
    // A specific "no" beats a wildcard "yes".
    facts
        .permissions
        .push(permission("clusterroles", None, false, 20));
    assert_eq!(check_with(&facts, "permissions"), Status::Fail);
}

#[test]
fn creating_the_cluster_role_needs_everything_it_grants() {
    // `create clusterroles` and `create clusterrolebindings` alone are not enough: RBAC's
    // escalation prevention refuses a role granting rights its creator does not hold.
    let mut facts = healthy();
    facts.permissions.pop();
    facts.permissions.push(everything(false, 18));
    let report = run(&facts, &acks());
    let f = report.finding("permissions").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        f.items.iter().filter(|i| i.status == Status::Fail).count(),
        1
    );
    assert!(f.items[8].subject.contains("every namespace"));
    assert_eq!(f.items[8].evidence, vec![at("can-i.txt", 18)]);
    let remedy = f.remedy.as_deref().unwrap();
    for needed in [
        "attempting to grant RBAC permissions not currently held",
        "cluster-admin",
        "`escalate`",
        "`bind`",
        "kubectl auth can-i '*' '*' --all-namespaces",
    ] {
        assert!(remedy.contains(needed), "{needed}: {remedy}");
    }
    // Not pasted: unknown, with the command to run.
    facts.permissions.pop();
    let f = run(&facts, &acks()).finding("permissions").unwrap().clone();
    assert_eq!(f.status, Status::Unknown);
    assert!(f
        .remedy
        .unwrap()
        .contains("kubectl auth can-i '*' '*' --all-namespaces"));
    // A `no` asked for one namespace is a `no` in every namespace; a `yes` there proves nothing.
    let mut one_namespace = everything(false, 20);
    one_namespace.all_namespaces = false;
    one_namespace.namespace = Some("astronomer".into());
    facts.permissions.push(one_namespace.clone());
    assert_eq!(check_with(&facts, "permissions"), Status::Fail);
    facts.permissions.pop();
    one_namespace.allowed = true;
    facts.permissions.push(one_namespace);
    assert_eq!(check_with(&facts, "permissions"), Status::Unknown);
    // An all-namespaces answer beats a one-namespace one.
    facts.permissions.push(everything(true, 22));
    assert_eq!(check_with(&facts, "permissions"), Status::Pass);
}

#[test]
fn permission_without_namespace_counts_for_the_context_namespace() {
    let mut facts = healthy();
    // A `*` on `*` yes in every namespace would grant every right below: leave it out.
    facts.permissions.pop();
    let everything_yes = everything(true, 18);
    for p in &mut facts.permissions[3..6] {
        p.namespace = None;
    }
    // The current context has no namespace: kubectl used `default`.
    facts.permissions.push(everything_yes);
    assert_eq!(check_with(&facts, "permissions"), Status::Pass);
    facts.permissions.pop();
    facts.contexts[0].namespace = Some("astronomer".into());
    // Now they were answered for `astronomer`, and `default` is unanswered.
    let report = run(&facts, &acks());
    let f = report.finding("permissions").unwrap();
    assert_eq!(f.status, Status::Unknown);
    assert_eq!(f.items[3].status, Status::Unknown);
    assert!(f
        .remedy
        .as_deref()
        .unwrap()
        .contains("kubectl auth can-i create jobs --namespace default"));

    // Without contexts the namespace is unknown: a namespace-less answer counts wherever it
    // is needed (and says so), so a `no` is never lost.
    facts.contexts.clear();
    facts.permissions = required_permissions();
    for p in &mut facts.permissions {
        p.namespace = None;
    }
    let report = run(&facts, &acks());
    let f = report.finding("permissions").unwrap();
    assert_eq!(f.status, Status::Pass);
    assert!(
        f.items[0].message.contains("contexts were not pasted"),
        "{}",
        f.items[0].message
    );
    // One namespace-less `kubectl auth can-i create jobs` → no: both jobs rights fail.
    facts.permissions.remove(5);
    facts.permissions[2].allowed = false;
    let report = run(&facts, &acks());
    let f = report.finding("permissions").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.items[2].status, Status::Fail);
    assert_eq!(f.items[5].status, Status::Fail);
    // An explicit answer for the namespace beats a namespace-less one.
    facts
        .permissions
        .push(permission("jobs", Some("astronomer"), true, 30));
    let report = run(&facts, &acks());
    let f = report.finding("permissions").unwrap();
    assert_eq!(f.items[2].status, Status::Pass);
    assert_eq!(f.items[5].status, Status::Fail);
}

#[test]
fn acknowledgement_checks() {
    let facts = healthy();
    let mut given = Acknowledgements::default();
    let report = run(&facts, &given);
    assert_eq!(status_of(&report, "system-admin"), Status::Unknown);
    assert_eq!(status_of(&report, "database-backup"), Status::Unknown);
    assert!(report
        .finding("database-backup")
        .unwrap()
        .remedy
        .as_deref()
        .unwrap()
        .contains("--ack database-backup="));
    given.parse_ack("system-admin").unwrap();
    given.parse_ack("database-backup=CHG-1234").unwrap();
    let report = run(&facts, &given);
    assert_eq!(status_of(&report, "system-admin"), Status::Pass);
    let f = report.finding("database-backup").unwrap();
    assert_eq!(f.status, Status::Pass);
    assert!(f.message.contains("CHG-1234"));
}

#[test]
fn the_backup_acknowledgement_covers_what_the_upgrader_does_not_dump() {
    let mut facts = healthy();
    facts.helm_releases[0].name = "ice-ice".into();
    let say = |facts: &Facts, given: &Acknowledgements| {
        let report = run(facts, given);
        let f = report.finding("database-backup").unwrap();
        (f.message.clone(), f.remedy.clone().unwrap_or_default())
    };
    // Missing: the finding says the upgrader's dump is Houston's alone, names the Airflow
    // deployments it leaves out, and asks for the whole instance.
    let (message, remedy) = say(&facts, &Acknowledgements::default());
    assert!(
        message.contains("whole platform Postgres instance"),
        "{message}"
    );
    assert!(
        message.contains("dumps only `ice_ice_houston`"),
        "{message}"
    );
    assert!(
        message.contains("the database of the Airflow deployment `infrared-photon-7780`"),
        "{message}"
    );
    assert!(remedy.contains("every database"), "{remedy}");
    // Acknowledged: the same scope in the passing message, and in the plan's rollback warnings.
    let (message, _) = say(&facts, &acks());
    assert!(message.contains("ice_ice_houston"), "{message}");
    let plan = planner::make_plan(
        &[],
        &acks(),
        &planner::UpgraderOptions::default(),
        &[],
        "2026-11-27T16:00:00Z",
    );
    assert!(
        plan.rollback
            .warnings
            .iter()
            .any(|w| w.contains("only the Houston database")
                && w.contains("Airflow deployments' databases")),
        "{:?}",
        plan.rollback.warnings
    );
}

#[test]
fn parse_ack_spellings() {
    let mut a = Acknowledgements::default();
    a.parse_ack("known-crashing=astronomer-kibana, astronomer-fluentd-x2x4q")
        .unwrap();
    a.parse_ack("known-crashing=astronomer-kibana").unwrap();
    a.parse_ack("mirrors=registry.corp.example:5000").unwrap();
    a.parse_ack("helm-repo=https://charts.corp.example/astronomer")
        .unwrap();
    a.parse_ack("air-gapped").unwrap();
    assert_eq!(
        a.known_crashing,
        ["astronomer-kibana", "astronomer-fluentd-x2x4q"]
    );
    assert_eq!(a.mirrors.as_deref(), Some("registry.corp.example:5000"));
    assert!(a.air_gapped);
    assert!(a.parse_ack("database-backup").is_err());
    assert!(a.parse_ack("database-backup=").is_err());
    assert!(a.parse_ack("system-admin=maybe").is_err());
    let err = a.parse_ack("sysadmin").unwrap_err();
    assert!(err.to_string().contains("system-admin"), "{err}");
    assert_eq!(
        a.to_cli_args(),
        [
            "--ack known-crashing=astronomer-kibana,astronomer-fluentd-x2x4q",
            "--air-gapped",
            "--ack mirrors=registry.corp.example:5000",
            "--ack helm-repo=https://charts.corp.example/astronomer",
        ]
    );
}

#[test]
fn a_credential_in_an_acknowledgement_reaches_no_plan_or_report() {
    let password = "r0b0t-s3cr3t";
    let url = format!("https://robot:{password}@charts.corp.example/astronomer");
    // the CLI's path: dropped as the value is parsed
    let mut parsed = acks();
    parsed.parse_ack(&format!("helm-repo={url}")).unwrap();
    assert_eq!(
        parsed.helm_repository.as_deref(),
        Some("https://***@charts.corp.example/astronomer")
    );
    // the page's path: acknowledgements built from its controls, unmasked
    let built = Acknowledgements {
        air_gapped: true,
        mirrors: Some("registry.corp.example:5000".into()),
        database_backup: Some(format!("CHG-1234 (restore with token={password})")),
        helm_repository: Some(url.clone()),
        ..acks()
    };
    let sources = [Source::new(
        "pods.txt",
        Some(EvidenceKind::Pods),
        "NAMESPACE NAME READY STATUS RESTARTS AGE\nastronomer houston-0 1/1 Running 0 1d\n",
    )];
    let plan = planner::make_plan(
        &sources,
        &built,
        &Default::default(),
        &[],
        "2026-11-27T16:00:00Z",
    );
    let json = serde_json::to_string(&plan).unwrap();
    assert!(!json.contains(password), "{json}");
    assert!(
        json.contains("charts.corp.example/astronomer"),
        "the URL stays"
    );
    assert!(!plan.to_markdown().contains(password));
    let (_, report) = planner::check(&sources, &built, &[]);
    assert!(!serde_json::to_string(&report).unwrap().contains(password));
}

#[test]
fn a_flag_acknowledgement_takes_yes_or_true_and_the_page_built_texts_are_masked() {
    let mut a = Acknowledgements::default();
    a.parse_ack("system-admin=yes").unwrap();
    a.parse_ack("rollback-data-loss=TRUE").unwrap();
    assert!(a.system_admin && a.rollback_data_loss);
    assert!(a.parse_ack("air-gapped=no").is_err());
    assert!(!a.air_gapped);

    // The page builds its acknowledgements from its controls: every text is masked all the same.
    let built = Acknowledgements {
        database_backup: Some("CHG-1234 (restore with token=s3cr3t-t0k3n)".into()),
        mirrors: Some("https://robot:s3cr3t-pw@registry.corp.example:5000".into()),
        helm_repository: Some("https://robot:s3cr3t-pw@charts.corp.example/astronomer".into()),
        ..Acknowledgements::default()
    }
    .without_secrets();
    for text in [
        &built.database_backup,
        &built.mirrors,
        &built.helm_repository,
    ] {
        let text = text.as_deref().unwrap();
        assert!(!text.contains("s3cr3t"), "{text}");
    }
    assert!(built
        .mirrors
        .unwrap()
        .ends_with("@registry.corp.example:5000"));
}

#[test]
fn pod_health_cases() {
    let mut facts = healthy();
    facts.pods.push(pod(
        "astronomer",
        "astronomer-upgrade-astronomer-x2x4q",
        "0/1",
        "Completed",
        true,
        4,
    ));
    assert_eq!(check_with(&facts, "pod-health"), Status::Pass);
    facts.pods.push(pod(
        "astronomer",
        "astronomer-kibana-5c7d8f9b6-x2x4q",
        "0/1",
        "CrashLoopBackOff",
        false,
        5,
    ));
    facts.pods.push(pod(
        "astronomer-infrared-photon-7780",
        "infrared-photon-7780-scheduler-5d8c6f7b9-qwz8n",
        "1/2",
        "Running",
        false,
        6,
    ));
    let report = run(&facts, &acks());
    let f = report.finding("pod-health").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.items.len(), 2);
    assert_eq!(f.evidence, vec![at("pods.txt", 5), at("pods.txt", 6)]);
    assert!(f
        .remedy
        .as_deref()
        .unwrap()
        .contains("--ack known-crashing="));

    let mut given = acks();
    given.known_crashing = vec!["astronomer-kibana".into()];
    let report = run(&facts, &given);
    let f = report.finding("pod-health").unwrap();
    assert_eq!(f.status, Status::Fail, "the scheduler is not acknowledged");
    assert_eq!(f.items[0].status, Status::Warn);
    given
        .known_crashing
        .push("infrared-photon-7780-scheduler-5d8c6f7b9-qwz8n".into());
    let report = run(&facts, &given);
    assert_eq!(status_of(&report, "pod-health"), Status::Warn);
    assert_eq!(report.verdict, Verdict::Go);

    // An explicit empty listing (`No resources found`) is evidence; no listing at all is not.
    facts.pods.clear();
    assert_eq!(check_with(&facts, "pod-health"), Status::Pass);
    facts.pods_listed = false;
    assert_eq!(check_with(&facts, "pod-health"), Status::Unknown);
}

#[test]
fn known_crashing_matches_exact_names_and_generated_suffixes_only() {
    let kibana = "astronomer-kibana-5c7d8f9b6-x2x4q";
    let ns = Some("astronomer");
    assert!(matches_known_crashing(kibana, ns, kibana));
    assert!(matches_known_crashing("astronomer-kibana", ns, kibana));
    assert!(matches_known_crashing(
        "astronomer/astronomer-kibana",
        ns,
        kibana
    ));
    assert!(matches_known_crashing(
        "pod/astronomer-kibana-5c7d8f9b6-x2x4q",
        ns,
        kibana
    ));
    assert!(!matches_known_crashing(
        "kube-system/astronomer-kibana",
        ns,
        kibana
    ));
    assert!(matches_known_crashing(
        "astronomer-elasticsearch-data",
        ns,
        "astronomer-elasticsearch-data-0"
    ));
    assert!(!matches_known_crashing(
        "astronomer-houston",
        ns,
        "astronomer-houston-worker-6f9c7b8d5-k2x9q"
    ));
    assert!(!matches_known_crashing("astronomer-kib", ns, kibana));
    assert!(!matches_known_crashing("", ns, kibana));
}

#[test]
fn context_namespace_cases() {
    let mut facts = healthy();
    assert_eq!(check_with(&facts, "context-namespace"), Status::Pass);
    facts.contexts[0].namespace = Some("default".into());
    assert_eq!(check_with(&facts, "context-namespace"), Status::Pass);
    facts.contexts[0].namespace = Some("astronomer".into());
    let report = run(&facts, &acks());
    let f = report.finding("context-namespace").unwrap();
    assert_eq!(f.status, Status::Warn);
    assert!(f
        .remedy
        .as_deref()
        .unwrap()
        .contains("kubectl config set-context --current --namespace=default"));
    facts.contexts.clear();
    let report = run(&facts, &acks());
    let f = report.finding("context-namespace").unwrap();
    assert_eq!(f.status, Status::Warn);
    assert!(f.message.starts_with("not evaluated"));
}

#[test]
fn default_storageclass_cases() {
    let mut facts = healthy();
    facts.storage_classes[0].default = false;
    let report = run(&facts, &acks());
    let f = report.finding("default-storageclass").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        f.remedy.as_deref().unwrap(),
        r#"mark one as default: `kubectl patch storageclass standard -p '{"metadata": {"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}'`"#
    );
    // Two defaults: Kubernetes before 1.26 refuses to create a PVC without a class.
    facts.storage_classes[0].default = true;
    facts.storage_classes.push(StorageClass {
        name: "premium-rwo".into(),
        default: true,
        provisioner: None,
        at: at("storageclass.txt", 3),
    });
    let report = run(&facts, &acks());
    let f = report.finding("default-storageclass").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(f
        .remedy
        .as_deref()
        .unwrap()
        .contains("kubectl patch storageclass premium-rwo"));
    facts.storage_classes.clear();
    assert_eq!(check_with(&facts, "default-storageclass"), Status::Unknown);
}

#[test]
fn database_connection_cases() {
    let mut facts = healthy();
    facts.database_connection.as_mut().unwrap().scheme = "postgresql".into();
    let report = run(&facts, &acks());
    let f = report.finding("database-connection").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(f.message.contains("postgresql://"));
    let healthy_connection = healthy().database_connection.unwrap();
    let report = run(&healthy(), &acks());
    let f = report.finding("database-connection").unwrap();
    assert_eq!(f.status, Status::Pass);
    assert!(
        f.message
            .contains("user `astro`, host `db.example.internal`, port `5432`")
            && f.message.contains("database `astronomer_houston`"),
        "{}",
        f.message
    );
    // The upgrader's pattern does not match (a user without a password, no port).
    facts.database_connection = Some(DatabaseConnection {
        upgrader: None,
        ..healthy_connection.clone()
    });
    let report = run(&facts, &acks());
    let f = report.finding("database-connection").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert!(f.message.contains("does not match"), "{}", f.message);
    assert!(f.message.contains("`USER:PASSWORD@`"), "{}", f.message);
    facts.database_connection = Some(DatabaseConnection {
        has_port: false,
        upgrader: None,
        ..healthy_connection.clone()
    });
    let f = run(&facts, &acks())
        .finding("database-connection")
        .unwrap()
        .clone();
    assert!(f.message.contains(":PORT"), "{}", f.message);
    // Matches, but with a host or port that cannot be right.
    let with = |split: UpgraderSplit| {
        let mut facts = healthy();
        facts.database_connection.as_mut().unwrap().upgrader = Some(split);
        run(&facts, &acks())
            .finding("database-connection")
            .unwrap()
            .clone()
    };
    let f = with(UpgraderSplit {
        host_holds_password: true,
        ..split("astro", "db.example.internal", "5432")
    });
    assert_eq!(f.status, Status::Fail);
    assert!(
        f.message.contains("the password holds `@`"),
        "{}",
        f.message
    );
    assert!(f.remedy.as_deref().unwrap().contains("without `@`"));
    for (host, port, says) in [
        ("", "5432", "host is empty"),
        ("[", "", "IPv6"),
        ("db", "", "port is empty"),
        ("db", "70000", "not a TCP port"),
        ("db/x", "5432", "cannot be a host"),
    ] {
        let f = with(split("astro", host, port));
        assert_eq!(f.status, Status::Fail, "{host} {port}");
        assert!(f.message.contains(says), "{host} {port}: {}", f.message);
    }
    let f = with(split("", "db", "5432"));
    assert!(f.message.contains("user is empty"), "{}", f.message);
    // Percent escapes reach Postgres undecoded, an empty password and Unicode digits work: warnings.
    for (variant, says) in [
        (
            UpgraderSplit {
                percent_encoded: true,
                ..split("astro", "db", "5432")
            },
            "undecoded",
        ),
        (
            UpgraderSplit {
                password_empty: true,
                ..split("astro", "db", "5432")
            },
            "password is empty",
        ),
        (split("astro", "db", "٥٤٣٢"), "non-ASCII digits"),
    ] {
        let f = with(variant);
        assert_eq!(f.status, Status::Warn, "{says}");
        assert!(f.message.contains(says), "{}", f.message);
    }
    // Facts from before the pattern was evaluated (an older bundle): judged by the port alone.
    facts.database_connection = Some(DatabaseConnection {
        has_port: false,
        upgrader: None,
        upgrader_evaluated: false,
        ..healthy_connection.clone()
    });
    assert_eq!(check_with(&facts, "database-connection"), Status::Fail);
    facts.database_connection = Some(DatabaseConnection {
        upgrader: None,
        upgrader_evaluated: false,
        ..healthy_connection
    });
    assert_eq!(check_with(&facts, "database-connection"), Status::Pass);
    facts.database_connection = None;
    assert_eq!(check_with(&facts, "database-connection"), Status::Unknown);
}

#[test]
fn egress_or_mirror_cases() {
    let facts = healthy();
    let report = run(&facts, &acks());
    let f = report.finding("egress-or-mirror").unwrap();
    assert_eq!(f.status, Status::Pass, "{}", f.message);
    for host in ["quay.io", "helm.astronomer.io", "updates.astronomer.io"] {
        assert!(f.message.contains(host), "{}", f.message);
    }
    // Not pasted: a warning that names what `apply`'s probe proves, never a silent pass.
    let mut untested = healthy();
    untested.egress.clear();
    let f = run(&untested, &acks())
        .finding("egress-or-mirror")
        .unwrap()
        .clone();
    assert_eq!(f.status, Status::Warn);
    assert!(f.message.contains("probe"), "{}", f.message);
    assert!(f.remedy.unwrap().contains("kubectl run egress-test"));
    let mut given = acks();
    given.air_gapped = true;
    assert_eq!(
        status_of(&run(&facts, &given), "egress-or-mirror"),
        Status::Fail
    );
    given.mirrors = Some("registry.corp.example:5000".into());
    // Mirrored: the registries are not needed, the upgrader's two hosts still are.
    assert_eq!(
        status_of(&run(&facts, &given), "egress-or-mirror"),
        Status::Pass
    );
    assert_eq!(
        status_of(&run(&untested, &given), "egress-or-mirror"),
        Status::Warn
    );
    given.helm_repository = Some("https://charts.corp.example".into());
    assert_eq!(
        status_of(&run(&untested, &given), "egress-or-mirror"),
        Status::Warn
    );
}

const UPGRADE_MANIFEST: &str = "---
kind: ServiceAccount
apiVersion: v1
metadata:
  name: astronomer-upgrader-service-account
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: astronomer-upgrades-backup
spec:
  accessModes:
  - ReadWriteOnce
  resources:
    requests:
      storage: 20Gi
---
apiVersion: batch/v1
kind: Job
metadata:
  name: upgrade-astronomer
spec:
  backoffLimit: 0
  template:
    metadata:
      labels:
        run: upgrade
    spec:
      serviceAccountName: astronomer-upgrader-service-account
      restartPolicy: Never
      containers:
      - image: quay.io/astronomer/lts-016-023-upgrade:latest
        imagePullPolicy: Always
        name: upgrade
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: astronomer-upgrader-cluster-role
rules:
- apiGroups:
  - '*'
  resources:
  - '*'
  verbs:
  - '*'
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: astronomer-upgrader-cluster-role-binding
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: astronomer-upgrader-cluster-role
subjects:
- kind: ServiceAccount
  name: astronomer-upgrader-service-account
  namespace: default
";

#[test]
fn manifest_reader_lists_objects() {
    let objects = planner::manifest::read_manifest(UPGRADE_MANIFEST).unwrap();
    let names: Vec<(&str, &str, Option<&str>)> = objects
        .iter()
        .map(|o| (o.kind.as_str(), o.name.as_str(), o.namespace.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            (
                "ServiceAccount",
                "astronomer-upgrader-service-account",
                None
            ),
            ("PersistentVolumeClaim", "astronomer-upgrades-backup", None),
            ("Job", "upgrade-astronomer", None),
            ("ClusterRole", "astronomer-upgrader-cluster-role", None),
            (
                "ClusterRoleBinding",
                "astronomer-upgrader-cluster-role-binding",
                None
            ),
        ]
    );
    assert_eq!(
        objects[2].images,
        ["quay.io/astronomer/lts-016-023-upgrade:latest"]
    );
    assert_eq!(objects[2].line, 19);
}

fn manifest_status(text: &str) -> (Status, Report) {
    let manifests = [Source::new("upgrade-0.16-to-0.23.yaml", None, text)];
    let report = evaluate(&healthy(), &acks(), &manifests);
    (report.finding("manifest-source").unwrap().status, report)
}

#[test]
fn manifest_source_cases() {
    let report = run(&healthy(), &acks());
    let f = report.finding("manifest-source").unwrap();
    assert_eq!(f.status, Status::Pass);
    assert!(f
        .remedy
        .as_deref()
        .unwrap()
        .contains(LTS_0_16_TO_0_23.upgrade_manifest.url));
    assert!(LTS_0_16_TO_0_23.upgrade_manifest.url.contains("/v0.23.18/"));

    // The real manifest: recognised, but its image is the mutable :latest.
    let (status, _) = manifest_status(UPGRADE_MANIFEST);
    assert_eq!(status, Status::Warn);
    let pinned = UPGRADE_MANIFEST.replace(
        ":latest",
        "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    );
    assert_eq!(manifest_status(&pinned).0, Status::Pass);
    let mirrored = UPGRADE_MANIFEST.replace(
        "quay.io/astronomer/lts-016-023-upgrade:latest",
        "registry.corp.example:5000/astronomer/lts-016-023-upgrade:1234",
    );
    assert_eq!(manifest_status(&mirrored).0, Status::Pass);
    // An explicit namespace other than default.
    let namespaced = UPGRADE_MANIFEST.replace(
        "  name: upgrade-astronomer\n",
        "  name: upgrade-astronomer\n  namespace: astronomer\n",
    );
    let (status, report) = manifest_status(&namespaced);
    assert_eq!(status, Status::Fail);
    assert!(report
        .finding("manifest-source")
        .unwrap()
        .items
        .iter()
        .any(|i| i.message.contains("namespace: astronomer")));
    // A missing object.
    let cut = &UPGRADE_MANIFEST[..UPGRADE_MANIFEST.find("kind: ClusterRole\n").unwrap()];
    assert_eq!(manifest_status(cut).0, Status::Fail);
    // Not a manifest of this path.
    assert_eq!(
        manifest_status("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n").0,
        Status::Fail
    );
    // What `curl` without `-f` saves from the URL on the procedure page.
    let (status, report) = manifest_status("404: Not Found");
    assert_eq!(status, Status::Fail);
    assert!(report.finding("manifest-source").unwrap().items[0]
        .message
        .contains("404"));
    // A document that is not YAML refuses the manifest, naming its line.
    let broken = UPGRADE_MANIFEST.replacen("metadata:\n", "metadata: [\n", 1);
    let (status, report) = manifest_status(&broken);
    assert_eq!(status, Status::Fail);
    let item = &report.finding("manifest-source").unwrap().items[0];
    assert!(
        item.message
            .starts_with("document 1 of the manifest is not valid YAML: "),
        "{}",
        item.message
    );
    assert!(item.evidence[0].line.is_some_and(|line| line > 1));
    // The rollback manifest is recognised on its own.
    let rollback = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: rollback-astronomer\nspec:\n  template:\n    spec:\n      containers:\n      - name: upgrade\n        image: quay.io/astronomer/lts-016-023-upgrade@sha256:00\n";
    assert_eq!(manifest_status(rollback).0, Status::Pass);
}

/// What `apply` refuses, `check --manifest` fails too: the rules live once, in the planner.
#[test]
fn manifest_rules_apply_refuses_are_failures_of_the_check() {
    let message_of = |text: &str| {
        let (status, report) = manifest_status(text);
        let messages: Vec<String> = report
            .finding("manifest-source")
            .unwrap()
            .items
            .iter()
            .map(|i| format!("{}: {}", i.subject, i.message))
            .collect();
        (status, messages.join("\n"))
    };
    // An object the upgrade manifest does not have.
    let extra = format!(
        "{UPGRADE_MANIFEST}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"
    );
    let (status, messages) = message_of(&extra);
    assert_eq!(status, Status::Fail);
    assert!(
        messages.contains("ConfigMap/extra: is not an object of"),
        "{messages}"
    );
    // A binding of the ServiceAccount in another namespace.
    let bound = UPGRADE_MANIFEST.replace("  namespace: default", "  namespace: astronomer");
    assert_ne!(bound, UPGRADE_MANIFEST, "the fixture binds in default");
    let (status, messages) = message_of(&bound);
    assert_eq!(status, Status::Fail);
    assert!(
        messages.contains("binds a ServiceAccount outside `default`"),
        "{messages}"
    );
    // Another image.
    let other = UPGRADE_MANIFEST.replace(
        "quay.io/astronomer/lts-016-023-upgrade:latest",
        "docker.io/evil/tool:1",
    );
    let (status, messages) = message_of(&other);
    assert_eq!(status, Status::Fail);
    assert!(
        messages.contains("not `quay.io/astronomer/lts-016-023-upgrade"),
        "{messages}"
    );
}

#[test]
fn flow_style_and_json_manifests_are_read_like_block_style() {
    let flow = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: astronomer-upgrader-service-account}\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: astronomer-upgrades-backup}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 20Gi}}}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: upgrade-astronomer}\nspec:\n  template:\n    spec:\n      containers: [{name: upgrade, image: \"quay.io/astronomer/lts-016-023-upgrade:latest\"}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: astronomer-upgrader-cluster-role}\nrules: [{apiGroups: [\"*\"], resources: [\"*\"], verbs: [\"*\"]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: astronomer-upgrader-cluster-role-binding}\nsubjects: [{kind: ServiceAccount, name: astronomer-upgrader-service-account, namespace: default}]\n";
    let block = planner::manifest::read_manifest(UPGRADE_MANIFEST).unwrap();
    let read = planner::manifest::read_manifest(flow).unwrap();
    let identity = |objects: &[planner::manifest::ManifestObject]| {
        objects
            .iter()
            .map(|o| {
                (
                    o.label(),
                    o.namespace.clone(),
                    o.images.clone(),
                    o.service_account_subjects.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(identity(&read), identity(&block));
    assert_eq!(
        manifest_status(flow).0,
        Status::Warn,
        "recognised; :latest warns"
    );

    let json = r#"{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "rollback-astronomer"},
      "spec": {"template": {"spec": {"containers": [{"name": "upgrade", "image": "quay.io/astronomer/lts-016-023-upgrade@sha256:00"}]}}}}"#;
    let objects = planner::manifest::read_manifest(json).unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].label(), "Job/rollback-astronomer");
    assert_eq!(manifest_status(json).0, Status::Pass);
}

#[test]
fn rollback_readiness_cases() {
    let mut facts = healthy();
    let f = run(&facts, &acks())
        .finding("rollback-readiness")
        .unwrap()
        .clone();
    assert_eq!(f.status, Status::Pass);
    assert!(f.message.contains("Elasticsearch"));
    facts.upgrade_resources = Some(UpgradeResources {
        service_account: true,
        backup_pvc: false,
        upgrade_job: Some("upgrade-astronomer".into()),
    });
    assert_eq!(check_with(&facts, "rollback-readiness"), Status::Fail);
    facts.upgrade_resources = Some(UpgradeResources {
        service_account: true,
        backup_pvc: true,
        upgrade_job: Some("upgrade-astronomer".into()),
    });
    assert_eq!(check_with(&facts, "rollback-readiness"), Status::Pass);
}

#[test]
fn the_rollback_data_loss_acknowledgement_reaches_the_plan_and_is_in_its_digest() {
    let mut given = acks();
    given.parse_ack("rollback-data-loss").unwrap();
    assert!(given.rollback_data_loss);
    assert!(given
        .to_cli_args()
        .contains(&"--ack rollback-data-loss".to_string()));
    assert!(Acknowledgements::default()
        .parse_ack("rollback-data-loss=maybe")
        .is_err());
    let sources = [Source::new(
        "pods.txt",
        Some(EvidenceKind::Pods),
        "NAME READY\n",
    )];
    let with = plan_for(&healthy(), &given, &sources);
    let without = plan_for(&healthy(), &acks(), &sources);
    let command = |plan: &Plan| {
        plan.steps
            .iter()
            .find(|s| s.id == "execute-with-astro-upgrade")
            .unwrap()
            .commands[0]
            .clone()
    };
    assert!(
        command(&with).ends_with("--auto-rollback"),
        "{}",
        command(&with)
    );
    assert!(
        !command(&without).contains("--auto-rollback"),
        "{}",
        command(&without)
    );
    assert!(with
        .rollback
        .when
        .contains("Run SQL for Prisma 1 to Prisma 2 migration"));
    let markdown = planner::render::plan_markdown(&with);
    assert!(
        markdown.contains("- `--ack rollback-data-loss`"),
        "{markdown}"
    );
    let finding = |plan: &Plan| {
        plan.findings
            .iter()
            .find(|f| f.check == "rollback-readiness")
            .unwrap()
            .message
            .clone()
    };
    assert!(finding(&with).contains("automatic rollback acknowledged"));
    assert!(finding(&without).contains("needs `--ack rollback-data-loss`"));
    // Editing the acknowledgement into a plan breaks its digest.
    let mut tampered = without.clone();
    tampered.acknowledgements.rollback_data_loss = true;
    assert!(!tampered.verify_digest());
    // A plan without it has no such key, so plans written before it existed still verify.
    let json = serde_json::to_string(&without).unwrap();
    assert!(!json.contains("rollback_data_loss"));
    assert!(serde_json::to_string(&with)
        .unwrap()
        .contains("\"rollback_data_loss\":true"));
}

fn plan_for(facts: &Facts, acks: &Acknowledgements, sources: &[Source]) -> Plan {
    let report = evaluate(facts, acks, &[]);
    Plan::build(
        &LTS_0_16_TO_0_23,
        (sources, &[]),
        facts,
        &report,
        acks,
        &Default::default(),
        "2026-11-27T16:00:00Z",
    )
}

#[test]
fn plan_digest_is_stable_and_detects_tampering() {
    let sources = [Source::new(
        "pods.txt",
        Some(EvidenceKind::Pods),
        "NAME READY\n",
    )];
    let plan = plan_for(&healthy(), &acks(), &sources);
    assert_eq!(plan.plan_digest.len(), 64);
    assert!(plan.verify_digest());
    // created_at is outside the digest; the same inputs give the same digest.
    let mut later = plan_for(&healthy(), &acks(), &sources);
    later.created_at = "2027-01-01T00:00:00Z".into();
    assert_eq!(later.compute_digest(), plan.plan_digest);
    assert!(later.verify_digest());
    // A JSON round trip keeps it valid.
    let json = serde_json::to_string(&plan).unwrap();
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert!(back.verify_digest());
    // Any edited field breaks it.
    let mut tampered = plan.clone();
    tampered.verdict = Verdict::NoGo;
    assert!(!tampered.verify_digest());
    let mut tampered = plan.clone();
    tampered.steps[3].commands[0] = "kubectl apply -f evil.yaml".into();
    assert!(!tampered.verify_digest());
    let mut tampered = plan.clone();
    tampered.acknowledgements.database_backup = Some("CHG-9999".into());
    assert!(!tampered.verify_digest());
}

/// Every part of a plan is sealed by its digest: an edit anywhere but `created_at` is caught.
#[test]
fn an_edit_to_any_part_of_the_plan_breaks_its_digest() {
    let sources = [Source::new(
        "pods.txt",
        Some(EvidenceKind::Pods),
        "NAME READY\n",
    )];
    let mut facts = healthy();
    facts.pods[0].healthy = false;
    facts.diagnostics.push(planner::facts::Diagnostic {
        source: "pods.txt".into(),
        line: Some(3),
        severity: planner::facts::Severity::Warning,
        message: "a row was cut".into(),
    });
    let plan = plan_for(&facts, &acks(), &sources);
    let sealed = serde_json::to_value(&plan).unwrap();
    let fields: Vec<String> = sealed.as_object().unwrap().keys().cloned().collect();
    assert!(fields.len() >= 14, "{fields:?}");
    for field in &fields {
        if field == "plan_digest" {
            continue;
        }
        let mut edited = sealed.clone();
        assert!(
            edit_first_leaf(&mut edited[field.as_str()]),
            "{field} has nothing to edit"
        );
        let edited: Plan = match serde_json::from_value(edited) {
            Ok(plan) => plan,
            // "GOx" is no verdict: such a plan is not read at all (the verdict's own edit is
            // checked in plan_digest_is_stable_and_detects_tampering).
            Err(_) if field == "verdict" => continue,
            Err(err) => panic!("{field}: {err}"),
        };
        assert_eq!(
            edited.verify_digest(),
            field == "created_at",
            "an edit of {field} {}",
            if field == "created_at" {
                "must keep the digest valid"
            } else {
                "must break the digest"
            }
        );
    }
    // The fingerprint's parts one by one: a plan for one cluster never verifies for another.
    for part in [
        "server_version",
        "platform_release",
        "platform_namespace",
        "chart_version",
        "unhealthy_pods",
    ] {
        let mut edited = sealed.clone();
        assert!(
            edit_first_leaf(&mut edited["cluster_fingerprint"][part]),
            "{part}"
        );
        let edited: Plan = serde_json::from_value(edited).unwrap();
        assert!(!edited.verify_digest(), "cluster_fingerprint.{part}");
    }
}

/// Changes the first string, number or boolean found in `value` (depth first); false if none.
fn edit_first_leaf(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(text) => {
            text.push('x');
            true
        }
        Value::Number(n) => {
            *value = Value::from(n.as_u64().unwrap_or(0) + 1);
            true
        }
        Value::Bool(b) => {
            *b = !*b;
            true
        }
        Value::Array(items) => items.iter_mut().any(edit_first_leaf),
        Value::Object(map) => map.values_mut().any(edit_first_leaf),
        Value::Null => false,
    }
}

#[test]
fn evidence_digest_is_order_independent_and_content_sensitive() {
    let a = Source::new("pods.txt", Some(EvidenceKind::Pods), "x");
    let b = Source::new("images.txt", Some(EvidenceKind::Images), "y");
    let digest = evidence_digest(&[a.clone(), b.clone()], &[]);
    assert_eq!(digest, evidence_digest(&[b.clone(), a.clone()], &[]));
    let changed = Source::new("pods.txt", Some(EvidenceKind::Pods), "z");
    assert_ne!(digest, evidence_digest(&[changed, b.clone()], &[]));
    assert_ne!(
        digest,
        evidence_digest(&[a, b], &[Source::new("m.yaml", None, "kind: Job")])
    );
}

#[test]
fn fingerprint_and_diff() {
    let facts = healthy();
    let planned = ClusterFingerprint::from_facts(&facts);
    assert_eq!(planned.server_version.as_deref(), Some("1.18.20-gke.901"));
    assert_eq!(planned.platform_release.as_deref(), Some("astronomer"));
    assert_eq!(planned.platform_namespace.as_deref(), Some("astronomer"));
    assert_eq!(planned.chart_version.as_deref(), Some("0.16.9"));
    assert!(planned.diff(&planned).is_empty());

    let mut live = facts.clone();
    live.kubernetes.server_version = Some("1.19.3".into());
    live.helm_releases[0].chart_version = Some("0.16.15".into());
    live.pods.push(pod(
        "astronomer",
        "astronomer-nginx-5b9c8d7f6-k2x9q",
        "0/1",
        "CrashLoopBackOff",
        false,
        9,
    ));
    let differences = planned.diff(&ClusterFingerprint::from_facts(&live));
    assert_eq!(differences.len(), 3, "{differences:?}");
    assert!(differences[0].contains("1.18.20-gke.901") && differences[0].contains("1.19.3"));
    assert!(differences[1].contains("chart version"));
    assert!(differences[2].contains("astronomer/astronomer-nginx-5b9c8d7f6-k2x9q"));
}

#[test]
fn a_pod_still_unhealthy_is_no_drift_and_one_that_recovered_is() {
    let mut facts = healthy();
    facts.pods.push(pod(
        "astronomer",
        "astronomer-kibana-5c7d-q9z8w",
        "0/1",
        "CrashLoopBackOff",
        false,
        9,
    ));
    let planned = ClusterFingerprint::from_facts(&facts);
    assert_eq!(
        planned.diff(&ClusterFingerprint::from_facts(&facts)),
        Vec::<String>::new()
    );
    let mut live = facts.clone();
    live.pods.last_mut().unwrap().healthy = true;
    let differences = planned.diff(&ClusterFingerprint::from_facts(&live));
    assert_eq!(
        differences,
        ["pods unhealthy in the plan but not now: astronomer/astronomer-kibana-5c7d-q9z8w"]
    );
}

#[test]
fn the_plan_hashes_each_plain_paste_and_withholds_the_hash_of_any_that_may_hold_a_credential() {
    let pods = "NAME READY STATUS RESTARTS AGE\nastronomer-houston-6b4f-x2x4q 1/1 Running 0 3d\n";
    let sources = [
        Source::new("pods.txt", Some(EvidenceKind::Pods), pods),
        // No password visible, but a connection string may carry one in any spelling.
        Source::new(
            "connection.txt",
            Some(EvidenceKind::Connection),
            "postgres://db.example.internal:5432",
        ),
        Source::new(
            "session.txt",
            Some(EvidenceKind::Transcript),
            "$ kubectl version\n",
        ),
        Source::new("untyped.txt", None, "anything\n"),
        Source::new(
            "pods-with-env.txt",
            Some(EvidenceKind::Pods),
            "PGPASSWORD=hunter2-hunter2 kubectl get pods\n",
        ),
    ];
    let plan = plan_for(&healthy(), &acks(), &sources);
    let hash = |name: &str| {
        plan.evidence
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} is not in the plan"))
            .sha256
            .clone()
    };
    let pods_hash = hash("pods.txt").expect("a plain pods paste is hashed");
    assert_eq!(pods_hash.len(), 64);
    assert!(pods_hash.bytes().all(|b| b.is_ascii_hexdigit()));
    for withheld in [
        "connection.txt",
        "session.txt",
        "untyped.txt",
        "pods-with-env.txt",
    ] {
        assert_eq!(hash(withheld), None, "{withheld}");
    }
}

#[test]
fn plan_steps_carry_the_exact_commands() {
    let plan = plan_for(&healthy(), &acks(), &[]);
    let commands: Vec<&str> = plan
        .steps
        .iter()
        .flat_map(|s| s.commands.iter().map(String::as_str))
        .collect();
    for expected in [
        "kubectl config set-context --current --namespace=default",
        "kubectl apply -f upgrade-0.16-to-0.23.yaml",
        "kubectl get pods -n default | grep upgrade-astronomer",
        "kubectl logs -n default -f job/upgrade-astronomer",
        "helm history astronomer -n astronomer",
        "astro-upgrade apply --plan plan.json --manifest upgrade-0.16-to-0.23.yaml --rollback-manifest rollback-0.16-to-0.23.yaml",
    ] {
        assert!(commands.contains(&expected), "missing {expected}");
    }
    assert!(commands
        .iter()
        .any(|c| c.contains(LTS_0_16_TO_0_23.upgrade_manifest.url)));
    let set_context = commands
        .iter()
        .position(|c| c.starts_with("kubectl config set-context"))
        .unwrap();
    let apply = commands
        .iter()
        .position(|c| *c == "kubectl apply -f upgrade-0.16-to-0.23.yaml")
        .unwrap();
    assert!(set_context < apply);
    assert!(plan.steps.iter().any(|s| s.kind == StepKind::Executor));
    let warnings = plan.rollback.warnings.join(" ");
    assert!(warnings.contains("Elasticsearch"));
    assert!(warnings.contains("Airflow deployments are not rolled back"));
    assert!(warnings.contains("astronomer-upgrades-backup"));
    assert!(plan.rollback.steps.iter().any(|s| s
        .commands
        .contains(&"kubectl apply -f rollback-0.16-to-0.23.yaml".to_string())));
    assert!(plan.verification.iter().any(|v| v.contains("astro deploy")));

    let mut air = acks();
    air.air_gapped = true;
    air.mirrors = Some("registry.corp.example:5000".into());
    let plan = plan_for(&healthy(), &air, &[]);
    assert!(plan.steps[1]
        .commands
        .iter()
        .any(|c| c.contains("registry.corp.example:5000/astronomer/lts-016-023-upgrade")));
}

#[test]
fn markdown_is_fit_for_a_ticket() {
    let mut facts = healthy();
    facts.storage_classes[0].default = false;
    let report = evaluate(&facts, &acks(), &[]);
    let md = planner::render::report_markdown(&report);
    assert!(md.starts_with("# Astronomer Enterprise 0.16 → 0.23 readiness: NO-GO"));
    assert!(md.contains("| 12 | `default-storageclass` | FAIL |"));
    assert!(md.contains("### FAIL `default-storageclass`"));

    let plan = plan_for(&healthy(), &acks(), &[]);
    let md = plan.to_markdown();
    for expected in [
        "# Upgrade plan: Astronomer Enterprise 0.16 → 0.23 — GO",
        "## Steps",
        "   ```sh\n   kubectl apply -f upgrade-0.16-to-0.23.yaml\n   ```",
        "## Rollback",
        "> **Warning:**",
        "- [ ] Log in to Astronomer at https://app.BASEDOMAIN",
        &plan.plan_digest,
        &plan.evidence_digest,
        "- `--ack database-backup=CHG-1234`",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in\n{md}");
    }
}

#[test]
fn no_secret_reaches_the_plan() {
    let password = "S3cr3t-Example";
    let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl";
    let sources = [
        Source::new(
            "connection.txt",
            Some(EvidenceKind::Connection),
            format!("postgres://postgres:{password}@db.example.internal:5432\n"),
        ),
        Source::new(
            "transcript.txt",
            Some(EvidenceKind::Transcript),
            format!("$ curl -H 'Authorization: Bearer {token}' https://k8s\n"),
        ),
    ];
    // Even a reader diagnostic quoting the lines must not carry them into the plan.
    let mut facts = healthy();
    facts.diagnostics.push(Diagnostic {
        source: "connection.txt".into(),
        line: Some(1),
        severity: Severity::Warning,
        message: format!(
            "could not read `postgres://postgres:{password}@db.example.internal:5432`"
        ),
    });
    facts.diagnostics.push(Diagnostic {
        source: "transcript.txt".into(),
        line: Some(1),
        severity: Severity::Info,
        message: format!("skipped `Authorization: Bearer {token}`"),
    });
    let plan = plan_for(&facts, &acks(), &sources);
    let json = serde_json::to_string(&plan).unwrap();
    let md = plan.to_markdown();
    for text in [&json, &md] {
        assert!(!text.contains(password));
        assert!(!text.contains(token));
        assert!(!text.contains("c2lnbmF0dXJl"));
    }
    assert!(json.contains("db.example.internal"), "the host stays");
    // A text holding a credential is not even hashed on its own (a short hash could be guessed).
    let connection = plan
        .evidence
        .iter()
        .find(|e| e.name == "connection.txt")
        .unwrap();
    assert_eq!(connection.sha256, None);
    assert!(md.contains("withheld: may hold a credential"));
    // The end-to-end path through the readers as well.
    let plan = planner::make_plan(
        &sources,
        &acks(),
        &Default::default(),
        &[],
        "2026-11-27T16:00:00Z",
    );
    let json = serde_json::to_string(&plan).unwrap();
    assert!(!json.contains(password) && !json.contains(token));
    assert!(!plan.to_markdown().contains(password));
}

#[test]
fn redaction_masks_credentials_and_keeps_the_rest() {
    assert_eq!(
        redact_secrets("postgresql://user:pa55@db:5432/houston"),
        "postgresql://***@db:5432/houston"
    );
    assert_eq!(
        redact_secrets("Authorization: Bearer abc.def-ghi"),
        "Authorization: Bearer ***"
    );
    assert_eq!(
        redact_secrets("password=hunter2 host=db"),
        "password=*** host=db"
    );
    assert_eq!(
        redact_secrets("as `postgres://USER:PASSWORD@db:5432`"),
        "as `postgres://USER:PASSWORD@db:5432`"
    );
    assert_eq!(
        redact_secrets("kubectl get pods -n astronomer"),
        "kubectl get pods -n astronomer"
    );
}

mod invariants {
    use super::*;
    use proptest::prelude::*;

    fn version() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            "1\\.1[0-9]\\.[0-9]{1,2}(-eks-[a-f0-9]{6}|-gke\\.[0-9]{3}|\\+k3s1)?",
            ".{0,12}",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn findings_follow_the_rules_of_the_report(
            server in version(),
            client in version(),
            chart in proptest::option::of("0\\.(1[0-9]|2[0-9])\\.[0-9]{1,2}"),
            release_status in "(deployed|failed|pending-upgrade|superseded)",
            pod_health in proptest::collection::vec(any::<bool>(), 0..6),
            allowed in proptest::collection::vec(any::<bool>(), 8),
            backup in proptest::option::of("[A-Z]{3}-[0-9]{1,4}"),
            system_admin in any::<bool>(),
            air_gapped in any::<bool>(),
        ) {
            let mut facts = healthy();
            facts.kubernetes.server_version = server;
            facts.kubernetes.client_version = client;
            match chart {
                Some(chart) => facts.helm_releases[0] = platform_release(&chart, &release_status),
                None => { facts.helm_releases.remove(0); }
            }
            facts.pods = pod_health
                .iter()
                .enumerate()
                .map(|(i, healthy)| pod("astronomer", &format!("astronomer-p{i}-x2x4q"), "0/1", "Error", *healthy, i as u32 + 1))
                .collect();
            for (p, allowed) in facts.permissions.iter_mut().zip(allowed) {
                p.allowed = allowed;
            }
            let acks = Acknowledgements { database_backup: backup, system_admin, air_gapped, ..Default::default() };
            let report = run(&facts, &acks);
            let ids: Vec<&str> = report.findings.iter().map(|f| f.check.as_str()).collect();
            prop_assert_eq!(ids, ALL_IDS);
            for f in &report.findings {
                prop_assert!(!f.message.is_empty() && !f.message.contains('\n'));
                if let Some(worst) = f.items.iter().map(|i| i.status).max() {
                    prop_assert_eq!(f.status, worst, "{}", f.check);
                }
                if matches!(f.status, Status::Fail | Status::Unknown) {
                    prop_assert!(f.remedy.is_some(), "{} has no remedy", f.check);
                }
            }
            let any = |s: Status| report.findings.iter().any(|f| f.status == s);
            let expected = if any(Status::Fail) { Verdict::NoGo } else if any(Status::Unknown) { Verdict::Incomplete } else { Verdict::Go };
            prop_assert_eq!(report.verdict, expected);
            let plan = plan_for(&facts, &acks, &[]);
            prop_assert!(plan.verify_digest());
            prop_assert_eq!(plan.verdict, report.verdict);
        }
    }
}

#[test]
fn the_upgrade_path_is_data() {
    use planner::path::{compare, MinorVersion, Op, Requirement, UpgradePath};
    use planner::rules::evaluate_path;
    // A later hop differs in data: its version range and starting platform.
    const KUBERNETES: Requirement = Requirement(&[
        compare(Op::GreaterEq, 1, 14, None),
        compare(Op::Less, 1, 20, None),
    ]);
    let next_hop = UpgradePath {
        id: "astronomer-0.23-to-0.25",
        from_platform: MinorVersion {
            major: 0,
            minor: 23,
        },
        to_platform: MinorVersion {
            major: 0,
            minor: 25,
        },
        kubernetes: KUBERNETES,
        ..LTS_0_16_TO_0_23
    };
    let mut facts = healthy();
    facts.kubernetes.server_version = Some("1.19.6-eks-49a6c0".into());
    facts.helm_releases[0] = platform_release("0.23.18", "deployed");
    let this_hop = evaluate(&facts, &acks(), &[]);
    assert_eq!(status_of(&this_hop, "kubernetes-version"), Status::Fail);
    assert_eq!(status_of(&this_hop, "platform-version"), Status::Fail);
    let later = evaluate_path(&next_hop, &facts, &acks(), &[]);
    assert_eq!(status_of(&later, "kubernetes-version"), Status::Pass);
    assert_eq!(status_of(&later, "platform-version"), Status::Pass);
}

#[test]
fn permissions_ignore_answers_asked_as_someone_else() {
    let mut facts = healthy();
    // The operator's own "no" stands even when a `--as` answer for another user says yes.
    let last = facts.permissions.len() - 1;
    facts.permissions[last].allowed = false;
    let mut impersonated = facts.permissions[last].clone();
    impersonated.allowed = true;
    impersonated.as_user = Some("system:serviceaccount:default:ci".into());
    facts.permissions.push(impersonated);
    assert_eq!(check_with(&facts, "permissions"), Status::Fail);
    // And a right known only from a `--as` answer is not known at all.
    facts.permissions.remove(last);
    assert_eq!(check_with(&facts, "permissions"), Status::Unknown);
}

#[test]
fn name_lists_stop_at_ten_and_count_the_rest() {
    use planner::report::{name_list, NAMES_SHOWN};
    assert_eq!(NAMES_SHOWN, 10);
    assert_eq!(name_list(&["a", "b"], ", "), "a, b");
    let names: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
    assert_eq!(name_list(&names, ";"), "p0;p1;p2;p3;p4;p5;p6;p7;p8;p9");
    let names: Vec<String> = (0..25).map(|i| format!("p{i}")).collect();
    assert_eq!(
        name_list(&names, ", "),
        "p0, p1, p2, p3, p4, p5, p6, p7, p8, p9 and 15 more"
    );
    assert_eq!(name_list::<&str>(&[], ", "), "");
}

/// 25 crashing pods: the message and the remedy name ten, the items (the JSON) carry all 25,
/// and the Markdown report and plan show ten of each list and count the rest.
#[test]
fn many_unhealthy_pods_are_counted_not_listed_in_text() {
    let mut facts = healthy();
    for i in 0..25 {
        facts.pods.push(pod(
            "astronomer",
            &format!("crasher-{i:02}"),
            "0/1",
            "CrashLoopBackOff",
            false,
            100 + i,
        ));
    }
    let report = run(&facts, &acks());
    let f = report.finding("pod-health").unwrap();
    assert_eq!(f.status, Status::Fail);
    assert_eq!(f.items.len(), 25, "every pod is an item");
    assert_eq!(f.evidence.len(), 25, "every pod's line is evidence");
    assert!(f.message.starts_with("25 of "), "{}", f.message);
    assert!(f.message.contains("astronomer/crasher-09"), "{}", f.message);
    assert!(!f.message.contains("crasher-10"), "{}", f.message);
    assert!(f.message.ends_with(" and 15 more"), "{}", f.message);
    let remedy = f.remedy.as_deref().unwrap();
    assert!(
        remedy.contains("--ack known-crashing=crasher-00,crasher-01,"),
        "{remedy}"
    );
    assert!(remedy.contains("crasher-09`"), "{remedy}");
    assert!(!remedy.contains("crasher-10"), "{remedy}");
    assert!(remedy.contains("first 10 of 25"), "{remedy}");
    let json = serde_json::to_string(&report).unwrap();
    assert!(
        json.contains("astronomer/crasher-24"),
        "JSON keeps every item"
    );

    let md = planner::render::report_markdown(&report);
    let listed = md.lines().filter(|l| l.starts_with("- FAIL **")).count();
    assert_eq!(listed, 10, "{md}");
    assert!(
        md.contains("- … and 15 more (every item is in the JSON)"),
        "{md}"
    );
    let row = md.lines().find(|l| l.contains("| `pod-health` |")).unwrap();
    assert!(row.contains("`pods.txt:109`"), "{row}");
    assert!(!row.contains("`pods.txt:110`"), "{row}");
    assert!(row.ends_with("and 15 more |"), "{row}");

    let plan = plan_for(&facts, &acks(), &[]);
    assert_eq!(plan.cluster_fingerprint.unhealthy_pods.len(), 25);
    let md = plan.to_markdown();
    let row = md
        .lines()
        .find(|l| l.starts_with("| Unhealthy pods at planning |"))
        .unwrap();
    assert!(row.contains("astronomer/crasher-09"), "{row}");
    assert!(!row.contains("crasher-10"), "{row}");
    assert!(row.contains("and 15 more"), "{row}");
}

#[test]
fn denied_rights_are_listed_through_the_same_limit() {
    let mut facts = healthy();
    for permission in &mut facts.permissions {
        permission.allowed = false;
    }
    let report = run(&facts, &acks());
    let f = report.finding("permissions").unwrap();
    assert_eq!(f.status, Status::Fail);
    // Nine rights: under the limit, so every one is named.
    assert!(
        f.message
            .starts_with("9 of 9 required rights are denied: create pods"),
        "{}",
        f.message
    );
    assert!(f
        .message
        .contains("create clusterrolebindings (cluster-wide)"));
    assert!(!f.message.contains("more"), "{}", f.message);
}
