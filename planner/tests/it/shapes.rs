//! The value shapes readers recognise by hand-written scanning: Astronomer Certified tags, chart
//! versions, `helm list`/`helm history` rows, `FROM`/values/`image:` lines and `can-i --list` rows.

use planner::facts::{CertifiedForm, HelmGeneration};
use planner::input::{can_i, helm, images};

#[test]
fn certified_tags_read_in_all_three_forms() {
    let read = |tag: &str| images::certified("quay.io/astronomer/ap-airflow", Some(tag));
    let pinned = read("1.10.12-1-alpine3.10-onbuild").unwrap();
    assert_eq!(pinned.form, CertifiedForm::Pinned);
    assert_eq!(pinned.airflow_version, "1.10.12");
    assert_eq!(pinned.build_number, Some(1));
    assert_eq!(pinned.distribution.as_deref(), Some("alpine3.10"));
    assert!(pinned.onbuild);

    let pinned = read("2.0.0-3").unwrap();
    assert_eq!(
        (pinned.form, pinned.build_number),
        (CertifiedForm::Pinned, Some(3))
    );
    assert_eq!(pinned.distribution, None);
    assert!(!pinned.onbuild);

    let floating = read("1.10.7-buster").unwrap();
    assert_eq!(floating.form, CertifiedForm::Floating);
    assert_eq!(floating.airflow_version, "1.10.7");
    assert_eq!(floating.build_number, None);
    assert_eq!(floating.distribution.as_deref(), Some("buster"));
    assert_eq!(read("1.10").unwrap().form, CertifiedForm::Floating);

    for (tag, airflow) in [
        ("0.10.3-1.10.5-onbuild", "1.10.5"),
        ("master-1.10.3", "1.10.3"),
    ] {
        let legacy = read(tag).unwrap();
        assert_eq!(legacy.form, CertifiedForm::Legacy, "{tag}");
        assert_eq!(legacy.airflow_version, airflow, "{tag}");
    }
}

#[test]
fn tags_outside_the_certified_grammar_are_not_read() {
    for tag in [
        "latest",
        "onbuild",
        "1",
        "1.10.12.1",
        "1.10.-1",
        "1.10.12-",
        "1.10.12-1-",
        "1.10.12-1-3.10",
        "1.10.12-Buster",
        "1.10.12-1x",
        "0.10-1.10.5",
        "master-1.10.5-1",
        "1.10.12-é",
    ] {
        let certified = images::certified("quay.io/astronomer/ap-airflow", Some(tag));
        assert_eq!(certified, None, "{tag}");
    }
    assert_eq!(images::certified("library/python", Some("1.10.12-1")), None);
}

#[test]
fn chart_cells_split_at_the_dash_before_the_version() {
    for (cell, chart, version) in [
        ("astronomer-0.16.9", "astronomer", Some("0.16.9")),
        (
            "prometheus-node-exporter-1.2.3",
            "prometheus-node-exporter",
            Some("1.2.3"),
        ),
        ("cert-manager-v1.5.3", "cert-manager", Some("v1.5.3")),
        ("x-1.2.3-rc.1+build.5", "x", Some("1.2.3-rc.1+build.5")),
        ("x-1.2", "x", Some("1.2")),
        ("x-1.2.3.4", "x-1.2.3.4", None),
        ("x-1.2.", "x-1.2.", None),
        ("x-1.2.3_4", "x-1.2.3_4", None),
        ("-1.2.3", "-1.2.3", None),
        ("astronomer", "astronomer", None),
    ] {
        let (name, found) = helm::split_chart(cell);
        assert_eq!(
            (name.as_str(), found.as_deref()),
            (chart, version),
            "{cell}"
        );
    }
}

#[test]
fn helm_rows_are_read_by_their_shapes_without_a_header() {
    let text = "\
astronomer 4 Mon May  6 14:37:34 2019 DEPLOYED astronomer-0.16.9 0.16.9 astronomer
nginx  7 Tue Jun 11 09:01:02 2019 PENDING_UPGRADE nginx-ingress-1.2.3 kube-system
astronomer astronomer 12 2020-04-27 17:14:43.1608753 +0000 UTC pending-upgrade astronomer-0.23.1 0.23.1
astronomer 4 Mon May 106 14:37:34 2019 DEPLOYED astronomer-0.16.9
astronomer astronomer 12 2020-04-27 17:14 +0000 UTC deployed astronomer-0.23.1
";
    let facts = helm::read("helm.txt", text, 1, None);
    let releases: Vec<_> = facts
        .helm_releases
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.namespace.as_deref(),
                r.revision,
                r.status.as_deref(),
                r.chart.as_str(),
                r.chart_version.as_deref(),
                r.app_version.as_deref(),
                r.helm,
            )
        })
        .collect();
    assert_eq!(
        releases,
        [
            (
                "astronomer",
                Some("astronomer"),
                Some(4),
                Some("deployed"),
                "astronomer",
                Some("0.16.9"),
                Some("0.16.9"),
                Some(HelmGeneration::Helm2)
            ),
            (
                "nginx",
                Some("kube-system"),
                Some(7),
                Some("pending-upgrade"),
                "nginx-ingress",
                Some("1.2.3"),
                None,
                Some(HelmGeneration::Helm2)
            ),
            (
                "astronomer",
                Some("astronomer"),
                Some(12),
                Some("pending-upgrade"),
                "astronomer",
                Some("0.23.1"),
                Some("0.23.1"),
                Some(HelmGeneration::Helm3)
            ),
        ]
    );
}

#[test]
fn helm_history_rows_take_either_time_layout() {
    let text = "\
1 Mon May  6 14:37:34 2019 SUPERSEDED astronomer-0.16.4 Install complete
2 2020-04-27 17:14:43.1608753 +0000 UTC failed astronomer-0.16.9 Upgrade \"astronomer\" failed
3 2020-04-27 17:14:43 +0000 UTC deployed astronomer-0.16.9
4 2020/04/27 17:14:43 +0000 UTC deployed astronomer-0.16.9
";
    let facts = helm::read("history.txt", text, 1, Some("helm history astronomer"));
    let revisions: Vec<_> = facts
        .helm_history
        .iter()
        .map(|r| {
            (
                r.revision,
                r.status.as_str(),
                r.chart_version.as_deref(),
                r.description.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        revisions,
        [
            (1, "superseded", Some("0.16.4"), Some("Install complete")),
            (
                2,
                "failed",
                Some("0.16.9"),
                Some("Upgrade \"astronomer\" failed")
            ),
            (3, "deployed", Some("0.16.9"), None),
        ]
    );
}

#[test]
fn from_values_and_image_lines_name_images() {
    let text = "\
FROM quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild AS base
Step 2/5 : FROM base
  repository: quay.io/astronomer/ap-houston-api
  tag: \"0.16.9\"
    - image: docker.io/library/postgres:11
    \"image\": \"quay.io/astronomer/ap-registry:3.14.2-2\",
Image:   quay.io/prometheus/node-exporter:v0.18.1
";
    let facts = images::read("images.txt", text, 1, None);
    let references: Vec<_> = facts
        .images
        .iter()
        .map(|i| (i.reference.as_str(), i.at.line))
        .collect();
    assert_eq!(
        references,
        [
            (
                "quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild",
                Some(1)
            ),
            ("quay.io/astronomer/ap-houston-api:0.16.9", Some(3)),
            ("docker.io/library/postgres:11", Some(5)),
            ("quay.io/astronomer/ap-registry:3.14.2-2", Some(6)),
            ("quay.io/prometheus/node-exporter:v0.18.1", Some(7)),
        ]
    );
}

#[test]
fn can_i_list_rows_grant_unnamed_resources_only() {
    let text = "\
Resources                         Non-Resource URLs   Resource Names   Verbs
pods                              []                  []               [get list watch]
deployments.apps                  []                  [houston]        [get]
secrets   [] [] [get]   trailing
";
    let facts = can_i::read(
        "can-i.txt",
        text,
        2,
        Some("kubectl auth can-i --list -n astronomer"),
    );
    let verbs: Vec<_> = facts
        .permissions
        .iter()
        .map(|p| (p.verb.as_str(), p.resource.as_str(), p.allowed))
        .collect();
    assert_eq!(
        verbs,
        [
            ("get", "pods", true),
            ("list", "pods", true),
            ("watch", "pods", true)
        ]
    );
    let lines: Vec<_> = facts.diagnostics.iter().map(|d| d.line).collect();
    assert_eq!(lines, [Some(5)], "{:?}", facts.diagnostics);
}

#[test]
fn the_not_namespace_scoped_warning_drops_the_namespace_in_any_case() {
    for warning in [
        "Warning: resource 'widgets' is not namespace scoped",
        "WARNING: RESOURCE 'widgets' IS NOT NAMESPACE SCOPED in group \"example.com\"",
    ] {
        let text = format!("{warning}\nyes\n");
        let facts = can_i::read(
            "can-i.txt",
            &text,
            2,
            Some("kubectl auth can-i create widgets -n astronomer"),
        );
        assert_eq!(facts.permissions.len(), 1, "{warning}");
        assert_eq!(facts.permissions[0].namespace, None, "{warning}");
    }
    let facts = can_i::read(
        "can-i.txt",
        "Warning: resource '' is not namespace scoped\nyes\n",
        2,
        Some("kubectl auth can-i create widgets -n astronomer"),
    );
    assert_eq!(
        facts.permissions[0].namespace.as_deref(),
        Some("astronomer")
    );
}
