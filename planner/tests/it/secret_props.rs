//! Property: a password, token or JWT pasted the ways people paste them (env assignments in a
//! transcript, psql/pg_dump command lines, URL user information, `--password`/`--token` flags,
//! YAML and JSON keys, a connection string and its base64) never reaches anything the planner
//! hands out: the facts (`inspect`), the report (`check`, JSON and Markdown), the plan (JSON and
//! Markdown, as the CLI writes it and as the page exports it: `planner::make_plan`, then
//! `serde_json` and `Plan::to_markdown`), and what the page shows or remembers (its masking is
//! `secrets::mask` with `****`, keeping a URL's user). See `carriers` for what counts as a leak.

#[path = "secret_props/carriers.rs"]
pub mod carriers;

use std::sync::OnceLock;

use planner::input::{EvidenceKind, Source};
use planner::secrets::{mask, UrlUser};
use planner::Acknowledgements;
use proptest::prelude::*;

use carriers::{
    jwt, leak, neutral_paste, neutral_paste_with_at, paste, readable, secret, token, Paste,
};

/// Everything the planner lets out for a paste, by name.
fn outputs(paste: &Paste) -> Vec<(&'static str, String)> {
    let sources: Vec<Source> = paste
        .files
        .iter()
        .map(|(name, text)| {
            Source::new(
                name.clone(),
                EvidenceKind::from_file_name(name),
                text.clone(),
            )
        })
        .collect();
    let mut acks = Acknowledgements::default();
    for ack in &paste.acks {
        acks.parse_ack(ack).expect("the acknowledgements parse");
    }
    let (facts, report) = planner::check(&sources, &acks, &[]);
    let plan = planner::make_plan(
        &sources,
        &acks,
        &Default::default(),
        &[],
        "2026-01-01T00:00:00Z",
    );
    let page = |text: &str| mask(text, "****", UrlUser::Keep).into_owned();
    let mut shown = Vec::new();
    for finding in &report.findings {
        shown.push(page(&finding.message));
        shown.extend(finding.remedy.as_deref().map(page));
        for item in &finding.items {
            shown.push(page(&item.subject));
            shown.push(page(&item.message));
        }
    }
    shown.extend(report.diagnostics.iter().map(|d| page(&d.message)));
    let remembered: Vec<String> = paste.files.iter().map(|(_, text)| page(text)).collect();
    let excerpts: Vec<String> = paste
        .files
        .iter()
        .flat_map(|(_, text)| text.lines().map(page).collect::<Vec<_>>())
        .collect();
    vec![
        (
            "inspect facts",
            serde_json::to_string(&facts).expect("facts serialise"),
        ),
        (
            "check json",
            serde_json::to_string(&report).expect("report serialises"),
        ),
        ("check markdown", planner::render::report_markdown(&report)),
        (
            "plan json",
            serde_json::to_string(&plan).expect("plan serialises"),
        ),
        ("plan markdown", plan.to_markdown()),
        ("page: findings and diagnostics", shown.join("\n")),
        ("page: remembered boxes", remembered.join("\n")),
        ("page: evidence excerpts", excerpts.join("\n")),
    ]
}

/// The outputs of the neutral pastes (one per way the planner can judge the password), readable:
/// what the planner writes whatever the secret.
fn baseline() -> &'static Vec<(&'static str, String)> {
    static BASELINE: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    BASELINE.get_or_init(|| {
        outputs(&neutral_paste())
            .into_iter()
            .zip(outputs(&neutral_paste_with_at()))
            .map(|((name, plain), (_, with_at))| {
                (
                    name,
                    format!("{}\n{}", readable(&plain), readable(&with_at)),
                )
            })
            .collect()
    })
}

#[test]
fn the_neutral_secrets_themselves_are_masked_everywhere() {
    for paste in [neutral_paste(), neutral_paste_with_at()] {
        for (name, output) in outputs(&paste) {
            for spelling in &paste.forbidden {
                assert!(
                    !readable(&output).contains(spelling.as_str()),
                    "{spelling} in {name}:\n{output}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_piece_of_a_pasted_secret_reaches_any_output(
        secret in secret(),
        token in token(),
        jwt in jwt(),
    ) {
        let paste = paste(&secret, &token, &jwt);
        for ((name, output), (_, baseline)) in outputs(&paste).iter().zip(baseline()) {
            let found = leak(&paste.forbidden, &readable(output), baseline, &paste.around);
            prop_assert!(found.is_none(), "{} leaks {}:\n{}", name, found.unwrap_or_default(), output);
        }
    }
}
