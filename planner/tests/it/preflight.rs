//! The preflight that predicts the upgrader: the Airflow deployments' releases step (5/6)
//! upgrades, CI-built images judged by their base, and egress proven from inside the cluster —
//! each from pasted text through the readers to the finding, and into the plan.

use planner::input::{read_sources, EvidenceKind, Source};
use planner::report::{Finding, Status, Verdict};
use planner::{Acknowledgements, UpgraderOptions};

const HELM_ROWS: &str = "\
NAME                	NAMESPACE                      	REVISION	UPDATED                             	STATUS  	CHART            	APP VERSION
astronomer          	astronomer                     	4       	2021-02-11 10:42:17.312947 +0000 UTC	deployed	astronomer-0.16.9	0.16.9
infrared-photon-7780	astronomer-infrared-photon-7780	7       	2021-02-11 10:47:55.106222 +0000 UTC	deployed	airflow-0.15.6   	1.10.12
";

fn helm_list(command: &str, extra_rows: &str) -> Source {
    Source::new(
        "helm-list.txt",
        Some(EvidenceKind::HelmList),
        format!("$ {command}\n{HELM_ROWS}{extra_rows}"),
    )
}

fn finding(sources: &[Source], options: &UpgraderOptions, check: &str) -> Finding {
    let (_, report) =
        planner::check_with_options(sources, &Acknowledgements::default(), options, &[]);
    report.finding(check).unwrap().clone()
}

fn airflow(sources: &[Source]) -> Finding {
    finding(sources, &UpgraderOptions::default(), "airflow-releases")
}

#[test]
fn the_helm_reader_knows_a_listing_of_every_state() {
    for (command, all) in [
        ("helm list -A --all", true),
        ("helm ls -aA", true),
        ("helm3 list --all-namespaces -a -o json", true),
        ("helm list -A", false),
        ("helm list --all-namespaces", false),
        ("helm history astronomer -n astronomer", false),
    ] {
        let facts = read_sources(&[helm_list(command, "")]);
        assert_eq!(facts.helm_list_all.is_some(), all, "{command}");
        if all {
            assert_eq!(facts.helm_list_all.unwrap().line, Some(1), "{command}");
        }
    }
    // through a transcript too: the command comes from the prompt line
    let transcript = Source::new(
        "transcript.txt",
        None,
        format!("ops@bastion:~$ helm list -A --all\n{HELM_ROWS}ops@bastion:~$ kubectl version --short\nServer Version: v1.18.20\n"),
    );
    assert!(read_sources(&[transcript]).helm_list_all.is_some());
}

#[test]
fn every_airflow_release_must_be_deployed_and_listed_with_all() {
    let all = airflow(&[helm_list("helm list -A --all", "")]);
    assert_eq!(all.status, Status::Pass, "{}", all.message);
    assert_eq!(all.items.len(), 1);
    assert_eq!(
        all.items[0].subject,
        "astronomer-infrared-photon-7780/infrared-photon-7780"
    );

    let plain = airflow(&[helm_list("helm list -A", "")]);
    assert_eq!(plain.status, Status::Unknown, "{}", plain.message);
    assert!(plain.message.contains("pending-*"), "{}", plain.message);
    assert!(plain.remedy.unwrap().contains("helm list -A --all"));

    let nothing = airflow(&[]);
    assert_eq!(nothing.status, Status::Unknown);

    // A failed release is shown even by plain `helm list`: it fails either way.
    let failed_row = "quasar-nebula-2231  \tastronomer-quasar-nebula-2231  \t3       \t2021-01-28 14:03:12.894512 +0000 UTC\tfailed  \tairflow-0.15.6   \t1.10.10\n";
    let failed = airflow(&[helm_list("helm list -A", failed_row)]);
    assert_eq!(failed.status, Status::Fail, "{}", failed.message);
    assert!(
        failed.message.contains("quasar-nebula-2231"),
        "{}",
        failed.message
    );
    assert!(
        failed.message.contains("point of no return"),
        "{}",
        failed.message
    );
    assert!(failed
        .remedy
        .as_deref()
        .unwrap()
        .contains("helm rollback quasar-nebula-2231 <REVISION> -n astronomer-quasar-nebula-2231"));
    let item = failed
        .items
        .iter()
        .find(|i| i.status == Status::Fail)
        .unwrap();
    assert_eq!(item.evidence[0].line, Some(5));

    let pending_row = "quasar-nebula-2231  \tastronomer-quasar-nebula-2231  \t4       \t2021-01-28 14:03:12.894512 +0000 UTC\tpending-upgrade\tairflow-0.15.6   \t1.10.10\n";
    let pending = airflow(&[helm_list("helm list -A --all", pending_row)]);
    assert_eq!(pending.status, Status::Fail);
    assert!(pending.items[1].message.contains("another operation"));

    // Skipping steps (5/6) and (6/6): the upgrader leaves the release alone; a warning remains.
    let skipped = finding(
        &[helm_list("helm list -A --all", pending_row)],
        &UpgraderOptions {
            disable_deployment_upgrades: true,
            ..UpgraderOptions::default()
        },
        "airflow-releases",
    );
    assert_eq!(skipped.status, Status::Warn, "{}", skipped.message);
    assert!(
        skipped.message.contains("0.16-era chart"),
        "{}",
        skipped.message
    );

    // A chart named airflow-something is an Airflow release to the upgrader's `airflow-.*`;
    // a chart merely containing it is not.
    let other_rows = "exporter            \tmonitoring                     \t1       \t2021-01-28 14:03:12.894512 +0000 UTC\tfailed  \tprometheus-airflow-exporter-1.0.0\t1.0\n";
    let others = airflow(&[helm_list("helm list -A --all", other_rows)]);
    assert_eq!(others.status, Status::Pass, "{}", others.message);
}

#[test]
fn many_deployments_want_a_longer_commander_timeout() {
    let rows: String = (0..12)
        .map(|i| format!("deployment-{i:04}     \tastronomer-deployment-{i:04}     \t2       \t2021-02-11 10:47:55.106222 +0000 UTC\tdeployed\tairflow-0.15.6   \t1.10.12\n"))
        .collect();
    let sources = [helm_list("helm list -A --all", &rows)];
    let default = airflow(&sources);
    assert_eq!(default.status, Status::Warn, "{}", default.message);
    assert!(default
        .message
        .contains("COMMANDER_UPGRADE_TIMEOUT of 300 s"));
    let remedy = default.remedy.unwrap();
    assert!(
        remedy.contains("--commander-upgrade-timeout 780"),
        "{remedy}"
    );
    let longer = UpgraderOptions {
        commander_upgrade_timeout: Some(900),
        ..UpgraderOptions::default()
    };
    let set = finding(&sources, &longer, "airflow-releases");
    assert_eq!(set.status, Status::Pass, "{}", set.message);
    assert!(
        set.message.contains("COMMANDER_UPGRADE_TIMEOUT=900"),
        "{}",
        set.message
    );
    // ten or fewer at the default: no warning
    let few: String = rows.lines().take(9).map(|l| format!("{l}\n")).collect();
    assert_eq!(
        airflow(&[helm_list("helm list -A --all", &few)]).status,
        Status::Pass
    );
}

#[test]
fn the_plan_carries_its_upgrader_options_into_the_digest_and_the_markdown() {
    let sources = [helm_list("helm list -A --all", "")];
    let acks = Acknowledgements::default();
    let none = planner::make_plan(&sources, &acks, &UpgraderOptions::default(), &[], "t");
    let options = UpgraderOptions {
        commander_upgrade_timeout: Some(900),
        disable_deployment_upgrades: true,
    };
    let set = planner::make_plan(&sources, &acks, &options, &[], "t");
    assert!(none.verify_digest() && set.verify_digest());
    assert_ne!(none.plan_digest, set.plan_digest);
    assert_eq!(set.upgrader_options, options);
    let json = serde_json::to_string(&none).unwrap();
    assert!(
        !json.contains("upgrader_options"),
        "absent when nothing is set"
    );
    let json = serde_json::to_string(&set).unwrap();
    assert!(json.contains(
        r#""upgrader_options":{"commander_upgrade_timeout":900,"disable_deployment_upgrades":true}"#
    ));
    // tampering with the options is caught
    let mut edited = set.clone();
    edited.upgrader_options.commander_upgrade_timeout = Some(60);
    assert!(!edited.verify_digest());
    let md = set.to_markdown();
    assert!(md.contains("## Upgrader options"), "{md}");
    assert!(md.contains("`COMMANDER_UPGRADE_TIMEOUT=900`"), "{md}");
    assert!(md.contains("DISABLE_UPGRADE_DEPLOYMENT=true"), "{md}");
    assert!(md.contains("upgraded from the Astronomer UI"), "{md}");
    assert!(none
        .to_markdown()
        .contains("None: the upgrade Job runs as the manifest has it."));
    // the manual path says what to add to the manifest by hand
    let apply = set.steps.iter().find(|s| s.id == "apply-upgrade").unwrap();
    assert!(apply
        .notes
        .iter()
        .any(|n| n.contains("COMMANDER_UPGRADE_TIMEOUT")
            && n.contains("\"DISABLE_UPGRADE_DEPLOYMENT=true\"")));
}

fn images(text: &str) -> Source {
    Source::new("images.txt", Some(EvidenceKind::Images), text)
}

fn airflow_images(sources: &[Source]) -> Finding {
    finding(sources, &UpgraderOptions::default(), "airflow-images")
}

const CI_IMAGE: &str = "registry.astro.example.com/infrared-photon-7780/airflow:ci-12";

#[test]
fn ci_built_images_wait_for_their_base() {
    for tag in ["ci-12", "deploy-3"] {
        let reference = format!("registry.astro.example.com/infrared-photon-7780/airflow:{tag}");
        let f = airflow_images(&[images(&format!("{reference}\n"))]);
        assert_eq!(f.status, Status::Unknown, "{tag}: {}", f.message);
        assert!(f.message.contains("built by CI"), "{}", f.message);
        let remedy = f.remedy.unwrap();
        assert!(remedy.contains("docker inspect --format"), "{remedy}");
        assert!(remedy.contains(&reference), "{remedy}");
    }
}

#[test]
fn a_ci_built_image_is_judged_by_its_labels() {
    let inspect = format!(
        "{CI_IMAGE}\n$ docker inspect --format '{{{{json .Config.Labels}}}}' {CI_IMAGE}\n\
         {{\"io.astronomer.docker\":\"true\",\"io.astronomer.docker.ac.version\":\"1.10.12-1\",\"io.astronomer.docker.airflow.version\":\"1.10.12\",\"io.astronomer.docker.distro\":\"buster\"}}\n"
    );
    let facts = read_sources(&[images(&inspect)]);
    let labelled = facts
        .images
        .iter()
        .find(|i| i.base.is_some())
        .expect("the labels become a base");
    assert_eq!(labelled.reference, CI_IMAGE);
    assert_eq!(
        labelled.certified.as_ref().unwrap().airflow_version,
        "1.10.12"
    );
    let f = airflow_images(&[images(&inspect)]);
    assert_eq!(f.status, Status::Pass, "{}", f.message);
    assert_eq!(f.items.len(), 1);
    assert!(f.items[0].message.contains("its labels"));

    let old = inspect
        .replace("1.10.12-1", "1.10.4-2")
        .replace("\"1.10.12\"", "\"1.10.4\"");
    let f = airflow_images(&[images(&old)]);
    assert_eq!(f.status, Status::Fail, "{}", f.message);
    assert!(
        f.items[0].message.contains("1.10.4"),
        "{}",
        f.items[0].message
    );
}

#[test]
fn a_ci_built_image_is_judged_by_its_dockerfile_s_from() {
    let tied = format!(
        "{CI_IMAGE}\nregistry.astro.example.com/quasar-nebula-2231/airflow:ci-4\n\
         $ cat ~/astro/infrared-photon-7780/Dockerfile\nFROM quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild\n\
         $ cat ~/astro/quasar-nebula-2231/Dockerfile\nFROM apache/airflow:1.10.12\n"
    );
    let f = airflow_images(&[images(&tied)]);
    assert_eq!(f.status, Status::Fail, "{}", f.message);
    let item = |subject: &str| {
        f.items
            .iter()
            .find(|i| i.subject == subject)
            .unwrap()
            .clone()
    };
    assert_eq!(
        item(CI_IMAGE).status,
        Status::Pass,
        "{}",
        item(CI_IMAGE).message
    );
    let quasar = item("registry.astro.example.com/quasar-nebula-2231/airflow:ci-4");
    assert_eq!(quasar.status, Status::Fail);
    assert!(
        quasar.message.contains("apache/airflow"),
        "{}",
        quasar.message
    );

    // `grep -H` names each Dockerfile on its line
    let grepped = format!(
        "{CI_IMAGE}\n$ grep -H '^FROM' */Dockerfile\ninfrared-photon-7780/Dockerfile:FROM quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild\n"
    );
    assert_eq!(airflow_images(&[images(&grepped)]).status, Status::Pass);

    // One CI-built deployment takes a FROM whose Dockerfile is not named; two do not.
    let untied =
        format!("{CI_IMAGE}\nFROM quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild\n");
    assert_eq!(airflow_images(&[images(&untied)]).status, Status::Pass);
    let two = format!(
        "{CI_IMAGE}\nregistry.astro.example.com/quasar-nebula-2231/airflow:ci-4\nFROM quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild\n"
    );
    let f = airflow_images(&[images(&two)]);
    assert_eq!(f.status, Status::Unknown, "{}", f.message);
    // A Dockerfile's own LABELs are not a base's.
    let own = "FROM quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild\nLABEL io.astronomer.docker.airflow.version=\"9.9.9\"\n";
    let facts = read_sources(&[images(own)]);
    assert_eq!(facts.images.len(), 1);
}

fn egress(text: &str) -> Source {
    Source::new("egress.txt", Some(EvidenceKind::Egress), text)
}

fn egress_finding(sources: &[Source], acks: &Acknowledgements) -> Finding {
    let (_, report) = planner::check(sources, acks, &[]);
    report.finding("egress-or-mirror").unwrap().clone()
}

const RUN: &str =
    "$ kubectl run egress-test -n default --rm -i --restart=Never --image=curlimages/curl -- curl -sSI";

#[test]
fn egress_is_proven_by_a_pasted_in_cluster_test() {
    let all = format!(
        "{RUN} https://helm.astronomer.io/index.yaml\nHTTP/2 200\ncontent-type: text/yaml\n\npod \"egress-test\" deleted\n\
         {RUN} https://updates.astronomer.io/astronomer-certified\nHTTP/2 200\n\npod \"egress-test\" deleted\n\
         {RUN} https://quay.io/v2/\nHTTP/2 401\n\npod \"egress-test\" deleted\n"
    );
    let f = egress_finding(&[egress(&all)], &Acknowledgements::default());
    assert_eq!(f.status, Status::Pass, "{}", f.message);
    assert_eq!(f.items.len(), 3);

    let blocked = all.replace(
        "HTTP/2 200\n\npod",
        "curl: (6) Could not resolve host: updates.astronomer.io\npod",
    );
    let f = egress_finding(&[egress(&blocked)], &Acknowledgements::default());
    assert_eq!(f.status, Status::Fail, "{}", f.message);
    assert!(f.message.contains("updates.astronomer.io"), "{}", f.message);
    let item = f.items.iter().find(|i| i.status == Status::Fail).unwrap();
    assert!(
        item.message.contains("after its point of no return"),
        "{}",
        item.message
    );
    assert!(f.remedy.unwrap().contains("kubectl run egress-test"));

    // Half tested: a warning naming the rest and the probe.
    let half = format!("{RUN} https://helm.astronomer.io/index.yaml\nHTTP/2 200\n");
    let f = egress_finding(&[egress(&half)], &Acknowledgements::default());
    assert_eq!(f.status, Status::Warn, "{}", f.message);
    assert!(
        f.message
            .contains("updates.astronomer.io, quay.io not tested"),
        "{}",
        f.message
    );

    // The same test pasted in a transcript is read by its command line.
    let transcript = Source::new(
        "transcript.txt",
        None,
        blocked.replace("$ ", "ops@bastion:~$ "),
    );
    assert_eq!(
        egress_finding(&[transcript], &Acknowledgements::default()).status,
        Status::Fail
    );
    // A curl on the workstation says nothing about the cluster.
    let workstation = Source::new(
        "transcript.txt",
        None,
        "ops@bastion:~$ curl -sSI https://updates.astronomer.io/astronomer-certified\ncurl: (6) Could not resolve host: updates.astronomer.io\n",
    );
    assert_eq!(
        egress_finding(&[workstation], &Acknowledgements::default()).status,
        Status::Warn
    );
}

#[test]
fn docker_hub_is_needed_for_the_in_cluster_database_and_registries_not_when_mirrored() {
    let connection = Source::new(
        "connection.txt",
        Some(EvidenceKind::Connection),
        "postgres://postgres:S3cr3t-Example@astronomer-postgresql.astronomer.svc.cluster.local:5432\n",
    );
    let (facts, _) = planner::check(
        std::slice::from_ref(&connection),
        &Acknowledgements::default(),
        &[],
    );
    let hosts: Vec<&str> = planner::rules::required_egress(
        &planner::path::LTS_0_16_TO_0_23,
        &facts,
        &Acknowledgements::default(),
    )
    .iter()
    .map(|h| h.host)
    .collect();
    assert_eq!(
        hosts,
        [
            "helm.astronomer.io",
            "updates.astronomer.io",
            "quay.io",
            "docker.io"
        ]
    );
    let mirrored = Acknowledgements {
        air_gapped: true,
        mirrors: Some("registry.corp:5000".into()),
        ..Acknowledgements::default()
    };
    let hosts: Vec<&str> =
        planner::rules::required_egress(&planner::path::LTS_0_16_TO_0_23, &facts, &mirrored)
            .iter()
            .map(|h| h.host)
            .collect();
    assert_eq!(hosts, ["helm.astronomer.io", "updates.astronomer.io"]);
    // registry-1.docker.io answers for docker.io
    let test = format!("{RUN} https://registry-1.docker.io/v2/\ncurl: (28) Connection timed out after 20001 milliseconds\n");
    let f = egress_finding(&[connection, egress(&test)], &Acknowledgements::default());
    assert_eq!(f.status, Status::Fail, "{}", f.message);
    assert!(f.message.contains("docker.io"), "{}", f.message);
    // the plan names the hosts its probe must reach
    let plan = planner::make_plan(
        &[egress(&test)],
        &mirrored,
        &UpgraderOptions::default(),
        &[],
        "t",
    );
    assert_eq!(
        plan.egress_probe,
        ["helm.astronomer.io", "updates.astronomer.io"]
    );
    assert_ne!(plan.verdict, Verdict::Go);
}
