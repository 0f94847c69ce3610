//! The page: evidence boxes on one side, the live verdict, acknowledgements, exports and one
//! card per check on the other, worst first under a one-line count per status.
//!
//! A class that varies is set as the element's `className` property (`~className={…}`), which
//! the browser reflects into the `class` attribute: yew turns every dynamic `class={…}` into a
//! `Classes` set first, code that cost 1.7 KB gzip of the page.

use gloo_timers::callback::Timeout;
use planner::facts::{At, Diagnostic, Severity};
use planner::fleet::{ClusterResult, FleetReport};
use planner::report::NAMES_SHOWN;
use planner::rules::matches_known_crashing;
use planner::{Finding, Report, Status, Verdict};
use wasm_bindgen::JsCast;
use web_sys::{DragEvent, Element, File, HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::browser;
use crate::evidence::{box_for_source, BOXES, TRANSCRIPT};
use crate::examples::EXAMPLES;
use crate::secrets::mask;
use crate::state::{AckControls, Action, Evaluation, Highlight, State};

/// Typing waits this long before the planner runs again, so a paste of thousands of lines or
/// fast typing never queues evaluations.
const DEBOUNCE_MS: u32 = 150;

thread_local! {
    // Thread-locals rather than hooks: the page has one App, and each hook type costs its own code
    // in the wasm.
    /// The evaluation waiting for typing to pause.
    static PENDING_EVALUATION: std::cell::Cell<Option<Timeout>> = const { std::cell::Cell::new(None) };
    static FIRST_RENDER_MARKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(State::initial);

    use_effect_with(state.evaluation.clone(), |evaluation| {
        // The first evaluation is shown by the first render.
        if !FIRST_RENDER_MARKED.replace(true) {
            browser::mark("first-render");
        }
        let elapsed = browser::now_ms() - evaluation.started_ms;
        browser::set_body_data("eval-ms", &browser::format_ms(elapsed));
        browser::set_body_data("eval-count", &evaluation.generation.to_string());
    });

    let on_text = {
        let dispatcher = state.dispatcher();
        Callback::from(move |(index, text): (usize, AttrValue)| {
            dispatcher.dispatch(Action::SetText(index, text));
            let dispatcher = dispatcher.clone();
            let timeout = Timeout::new(DEBOUNCE_MS, move || dispatcher.dispatch(Action::Evaluate));
            // Replacing the pending timeout cancels it.
            PENDING_EVALUATION.set(Some(timeout));
        })
    };
    let on_files = {
        let dispatcher = state.dispatcher();
        Callback::from(move |files: Vec<File>| read_files(files, dispatcher.clone()))
    };
    let on_evidence = {
        let dispatcher = state.dispatcher();
        Callback::from(move |highlight: Highlight| {
            if let Some(textarea) = box_for_source(&highlight.source)
                .and_then(|index| browser::element_by_id(&textarea_id(index)))
                .and_then(|element| element.dyn_into::<HtmlTextAreaElement>().ok())
            {
                browser::select_line(&textarea, highlight.line);
            }
            dispatcher.dispatch(Action::Highlight(Some(highlight)));
        })
    };
    let on_acks = {
        let dispatcher = state.dispatcher();
        Callback::from(move |acks: AckControls| dispatcher.dispatch(Action::SetAcks(acks)))
    };

    let ondragover = Callback::from(|event: DragEvent| {
        if carries_files(&event) {
            event.prevent_default();
        }
    });
    let ondrop = {
        let on_files = on_files.clone();
        Callback::from(move |event: DragEvent| {
            if !carries_files(&event) {
                return;
            }
            event.prevent_default();
            if let Some(list) = event.data_transfer().and_then(|data| data.files()) {
                on_files.emit((0..list.length()).filter_map(|i| list.get(i)).collect());
            }
        })
    };

    let evaluation = &state.evaluation;
    html! {
        <div class="page" {ondragover} {ondrop}>
            { header(&state, &on_files) }
            <main class="layout">
                <section class="inputs" aria-labelledby="evidence-heading">
                    <h2 id="evidence-heading" class="visually-hidden">{ "Evidence" }</h2>
                    { evidence_box(&state, TRANSCRIPT, &on_text) }
                    <h2 class="pieces-heading">{ "Or paste piece by piece" }</h2>
                    <div class="boxes">
                        { for (0..BOXES.len()).filter(|&i| i != TRANSCRIPT)
                            .map(|i| evidence_box(&state, i, &on_text)) }
                    </div>
                    { for (0..state.bundles.len()).map(|index| bundle_view(&state, index)) }
                </section>
                <section class="results" aria-labelledby="result-heading">
                    <h2 id="result-heading" class="visually-hidden">{ "Result" }</h2>
                    if let Some(fleet) = &evaluation.fleet {
                        { fleet_banner(fleet) }
                        { ack_panel(&state.acks, evaluation, &on_acks) }
                        { fleet_export_panel(evaluation) }
                        { fleet_matrix(&state, fleet, &on_evidence) }
                    } else {
                        { verdict_banner(&evaluation.report) }
                        { ack_panel(&state.acks, evaluation, &on_acks) }
                        { export_panel(&state) }
                        <h2>{ "Checks" }</h2>
                        { checks_summary_of(&evaluation.report, "checks-summary") }
                        <div class="cards">
                            { for worst_first(&evaluation.report).map(|finding| {
                                let highlight = state.highlight.as_ref().filter(|h| h.check == finding.check);
                                finding_card(finding, "", highlight, &state, &on_evidence)
                            }) }
                        </div>
                    }
                    { other_diagnostics(&state) }
                </section>
            </main>
            <footer class="footer">
                <p>{ "astro-upgrade planner · runs entirely in this page · the same checks as " }<code>{ "astro-upgrade check" }</code></p>
            </footer>
        </div>
    }
}

fn carries_files(event: &DragEvent) -> bool {
    event
        .data_transfer()
        .map(|data| data.types().includes(&"Files".into(), 0))
        .unwrap_or(false)
}

fn read_files(files: Vec<File>, dispatcher: UseReducerDispatcher<State>) {
    yew::platform::spawn_local(async move {
        let mut read = Vec::new();
        for file in files {
            if let Ok(text) = wasm_bindgen_futures::JsFuture::from(file.text()).await {
                read.push((file.name(), text.as_string().unwrap_or_default()));
            }
        }
        if !read.is_empty() {
            dispatcher.dispatch(Action::Files(read));
        }
    });
}

fn header(state: &UseReducerHandle<State>, on_files: &Callback<Vec<File>>) -> Html {
    let on_pick = {
        let on_files = on_files.clone();
        Callback::from(move |event: Event| {
            let Some(input) = event.target_dyn_into::<HtmlInputElement>() else {
                return;
            };
            if let Some(list) = input.files() {
                on_files.emit((0..list.length()).filter_map(|i| list.get(i)).collect());
            }
            input.set_value("");
        })
    };
    let on_remember = {
        let dispatcher = state.dispatcher();
        Callback::from(move |event: Event| {
            if let Some(input) = event.target_dyn_into::<HtmlInputElement>() {
                dispatcher.dispatch(Action::SetRemember(input.checked()));
            }
        })
    };
    let on_clear = {
        let dispatcher = state.dispatcher();
        Callback::from(move |_| dispatcher.dispatch(Action::ClearAll))
    };
    html! {
        <header class="header">
            <h1>{ "Astronomer 0.16 → 0.23 upgrade readiness" }</h1>
            <p class="lede">
                { "Paste what " }<code>{ "kubectl" }</code>{ " and " }<code>{ "helm" }</code>
                { " printed, or drop the files (pods.txt, can-i.txt… or a " }<code>{ "collect" }</code>
                { " bundle; several bundles at once for the fleet matrix) anywhere on the page. The verdict, its reasons and an approvable plan appear as you paste. " }
                <strong>{ "Nothing leaves this page:" }</strong>
                { " it makes no network request, and keeps nothing unless you ask it to." }
            </p>
            <p class="skip"><a href="#verdict">{ "Jump to the verdict and checks" }</a></p>
            <div class="toolbar">
                <div class="examples" role="group" aria-label="Examples">
                    <span class="toolbar-label">{ "Try an example:" }</span>
                    { for EXAMPLES.iter().enumerate().map(|(index, example)| {
                        let dispatcher = state.dispatcher();
                        let onclick = Callback::from(move |_| dispatcher.dispatch(Action::LoadExample(index)));
                        html! {
                            <button type="button" class="example" data-example={example.name}
                                title={example.description()} {onclick}>
                                { example.name }
                            </button>
                        }
                    }) }
                </div>
                <div class="actions">
                    <label class="button file-button">
                        { "Open files…" }
                        <input id="file-input" type="file" multiple=true class="visually-hidden" onchange={on_pick} />
                    </label>
                    <button type="button" class="button" id="clear-all" onclick={on_clear}>{ "Clear all" }</button>
                    <label class="remember">
                        <input id="remember" type="checkbox" checked={state.remember} onchange={on_remember} />
                        { " Remember on this device" }
                        <span class="note">{ " (this browser's storage; passwords masked)" }</span>
                    </label>
                </div>
            </div>
            if let Some(notice) = &state.notice {
                <p class="notice" role="status">{ notice.clone() }</p>
            }
        </header>
    }
}

fn textarea_id(index: usize) -> String {
    if index == TRANSCRIPT {
        "transcript".to_string()
    } else {
        format!("box-{}", BOXES[index].kind.as_str())
    }
}

fn evidence_box(state: &State, index: usize, on_text: &Callback<(usize, AttrValue)>) -> Html {
    let evidence_box = &BOXES[index];
    let id = textarea_id(index);
    let diagnostics = diagnostics_of(state, evidence_box.file_name);
    let oninput = {
        let on_text = on_text.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(textarea) = event.target_dyn_into::<HtmlTextAreaElement>() {
                on_text.emit((index, textarea.value().into()));
            }
        })
    };
    let class = if index == TRANSCRIPT {
        "box box-transcript"
    } else {
        "box"
    };
    let masked_notice = matches!(mask(&state.texts[index]), std::borrow::Cow::Owned(_));
    html! {
        <section ~className={class} data-file={evidence_box.file_name}
            data-command={evidence_box.commands.first().copied().unwrap_or_default()}>
            <label for={id.clone()} class="box-title">
                { evidence_box.title }
                <span class="file-name">{ evidence_box.file_name }</span>
            </label>
            <p class="hint">{ evidence_box.hint }</p>
            if !evidence_box.commands.is_empty() {
                <div class="commands">
                    <pre><code>{ evidence_box.commands.join("\n") }</code></pre>
                    { copy_button(index) }
                </div>
            }
            <textarea id={id} value={state.texts[index].clone()} {oninput}
                rows={if index == TRANSCRIPT { "14" } else { "6" }}
                wrap="off" spellcheck="false" autocomplete="off"
                placeholder={if index == TRANSCRIPT { "$ kubectl version\n…\n$ kubectl get pods -A\n…" } else { "" }} />
            if masked_notice {
                <p class="secret-note">{ "A password or token is in this box: it is masked everywhere it is shown back, never exported, never remembered." }</p>
            }
            if !diagnostics.is_empty() {
                <ul class="diagnostics" aria-label={format!("What the reader noticed in {}", evidence_box.file_name)}>
                    { for diagnostics.iter().map(|d| diagnostic_item(d)) }
                </ul>
            }
        </section>
    }
}

fn diagnostic_item(diagnostic: &Diagnostic) -> Html {
    let severity = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    let line = diagnostic
        .line
        .map(|line| format!("line {line}: "))
        .unwrap_or_default();
    html! {
        <li ~className={format!("diagnostic {severity}")}>
            <span class="severity">{ severity }</span>
            { format!(" {line}{}", mask(&diagnostic.message)) }
        </li>
    }
}

/// The readers' diagnostics about `source`, in report order.
fn diagnostics_of<'a>(state: &'a State, source: &str) -> Vec<&'a Diagnostic> {
    let diagnostics = &state.evaluation.report.diagnostics;
    diagnostics.iter().filter(|d| d.source == source).collect()
}

fn bundle_view(state: &UseReducerHandle<State>, index: usize) -> Html {
    let Some(bundle) = state.bundles.get(index) else {
        return html! {};
    };
    let on_remove = {
        let dispatcher = state.dispatcher();
        Callback::from(move |_| dispatcher.dispatch(Action::RemoveBundle(index)))
    };
    // A fleet's bundles are judged apart, each with its own report.
    let diagnostics: Vec<&Diagnostic> = match state
        .evaluation
        .fleet
        .as_ref()
        .and_then(|fleet| fleet.clusters.get(index))
    {
        Some(cluster) => cluster.report.diagnostics.iter().collect(),
        None => diagnostics_of(state, &bundle.name),
    };
    let hint = if state.is_fleet() {
        "read from an astro-upgrade collect bundle: one cluster of the fleet matrix, judged alone (the boxes above are not part of it)."
    } else {
        "read from an astro-upgrade collect bundle."
    };
    html! {
        <section class="box bundle" data-file={bundle.name.clone()}>
            <p class="box-title">{ "Collect bundle " }<span class="file-name">{ bundle.name.clone() }</span></p>
            <p class="hint">{ format!("{} lines {hint}", bundle.text.lines().count()) }</p>
            <button type="button" class="button" onclick={on_remove}>{ "Remove the bundle" }</button>
            if !diagnostics.is_empty() {
                <ul class="diagnostics">{ for diagnostics.iter().map(|d| diagnostic_item(d)) }</ul>
            }
        </section>
    }
}

/// Readable names for the check ids (the id itself stays visible: it is what the CLI prints).
fn check_title(check: &str) -> &str {
    match check {
        "kubernetes-version" => "Kubernetes version",
        "kubectl-skew" => "kubectl version skew",
        "platform-version" => "Astronomer platform version",
        "helm-release-state" => "Helm release state",
        "airflow-releases" => "Airflow deployments' releases",
        "airflow-images" => "Airflow images",
        "permissions" => "Permissions",
        "system-admin" => "System Admin",
        "database-backup" => "Database backup",
        "pod-health" => "Pod health",
        "context-namespace" => "kubectl context namespace",
        "default-storageclass" => "Default StorageClass",
        "database-connection" => "Database connection string",
        "egress-or-mirror" => "Internet egress or mirrors",
        "manifest-source" => "Upgrade manifest",
        "rollback-readiness" => "Rollback readiness",
        other => other,
    }
}

/// The status as the `data-status` hook spells it, and as the badge shows it.
fn status_names(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Pass => ("pass", "PASS"),
        Status::Warn => ("warn", "WARN"),
        Status::Unknown => ("unknown", "UNKNOWN"),
        Status::Fail => ("fail", "FAIL"),
    }
}

/// The statuses in the order the cards are shown: what blocks the upgrade first.
const WORST_FIRST: [Status; 4] = [Status::Fail, Status::Unknown, Status::Warn, Status::Pass];

/// The findings worst first; within a status, in the path's check order.
fn worst_first(report: &Report) -> impl Iterator<Item = &Finding> {
    WORST_FIRST.into_iter().flat_map(move |status| {
        report
            .findings
            .iter()
            .filter(move |finding| finding.status == status)
    })
}

/// How many findings have each status, worst first.
fn status_counts(report: &Report) -> [(Status, usize); 4] {
    WORST_FIRST.map(|status| {
        let count = report
            .findings
            .iter()
            .filter(|f| f.status == status)
            .count();
        (status, count)
    })
}

/// `2 fail · 1 unknown · 3 warn · 9 pass`.
fn checks_summary_of(report: &Report, id: &str) -> Html {
    html! {
        <p id={id.to_string()} class="checks-summary">
            { for status_counts(report).into_iter().enumerate().map(|(index, (status, count))| {
                let (name, _) = status_names(status);
                html! {
                    <>
                        if index > 0 { { " · " } }
                        <span ~className={name}><span class="badge small">{ format!("{count} {name}") }</span></span>
                    </>
                }
            }) }
        </p>
    }
}

fn verdict_banner(report: &Report) -> Html {
    let with_status = |status: Status| -> Vec<&str> {
        report
            .findings
            .iter()
            .filter(|f| f.status == status)
            .map(|f| f.check.as_str())
            .collect()
    };
    let (class, explanation) = match report.verdict {
        Verdict::Go => (
            "go",
            "every required check passes: the plan can be approved.".to_string(),
        ),
        Verdict::NoGo => {
            let failing = with_status(Status::Fail);
            (
                "no-go",
                format!(
                    "{} failing: {}. Fix these before upgrading.",
                    plural(failing.len(), "check"),
                    failing.join(", ")
                ),
            )
        }
        Verdict::Incomplete => {
            let unknown = with_status(Status::Unknown);
            (
                "incomplete",
                if unknown.is_empty() {
                    "paste evidence to start.".to_string()
                } else {
                    format!(
                        "{} still need evidence or an acknowledgement: {}.",
                        plural(unknown.len(), "check"),
                        unknown.join(", ")
                    )
                },
            )
        }
    };
    html! {
        <div id="verdict" ~className={format!("verdict {class}")} role="status" aria-live="polite">
            <strong class="verdict-word">{ report.verdict.as_str() }</strong>
            { format!(" — {explanation}") }
        </div>
    }
}

/// The fleet's verdict (the worst of its clusters') and how many clusters have each.
fn fleet_banner(fleet: &FleetReport) -> Html {
    html! {
        <div id="verdict" ~className={format!("verdict {}", verdict_class(fleet.verdict))} role="status" aria-live="polite">
            <strong class="verdict-word">{ fleet.verdict.as_str() }</strong>
            { format!(" — {}. The fleet's verdict is the worst of its clusters'.", fleet.summary()) }
        </div>
    }
}

fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Go => "go",
        Verdict::NoGo => "no-go",
        Verdict::Incomplete => "incomplete",
    }
}

/// The fleet's export: the Markdown `astro-upgrade check --all-contexts -o markdown` writes,
/// written when asked for.
fn fleet_export_panel(evaluation: &std::rc::Rc<Evaluation>) -> Html {
    let evaluation = evaluation.clone();
    let on_markdown = Callback::from(move |_| {
        if let Some(fleet) = &evaluation.fleet {
            let markdown = planner::fleet::markdown(fleet);
            browser::download("astro-upgrade-fleet.md", "text/markdown", &markdown);
        }
    });
    let on_print = Callback::from(|_| browser::print());
    html! {
        <section class="panel export" aria-labelledby="export-heading">
            <h2 id="export-heading">{ "Fleet report" }</h2>
            <div class="buttons">
                <button type="button" class="button" id="export-fleet-markdown" onclick={on_markdown}>{ "Download fleet report (Markdown)" }</button>
                <button type="button" class="button" id="print" onclick={on_print}>{ "Print review" }</button>
            </div>
            <p class="hint">{ "The matrix and every cluster's findings, as " }<code>{ "astro-upgrade check --all-contexts --output markdown" }</code>
                { " writes them. A plan is one cluster's: open its bundle alone for it." }</p>
        </section>
    }
}

/// One row per bundle: context, versions, verdict, failing and unknown check ids; a row opens
/// into that cluster's findings, shown as the single-cluster cards are.
fn fleet_matrix(
    state: &UseReducerHandle<State>,
    fleet: &FleetReport,
    on_evidence: &Callback<Highlight>,
) -> Html {
    let ids = |ids: &[String]| -> Html {
        html! { { for ids.iter().map(|id| html! { <code class="check-id">{ id.clone() }</code> }) } }
    };
    let row = |index: usize, cluster: &ClusterResult| -> Html {
        let open = state.expanded.contains(&index);
        let onclick = {
            let dispatcher = state.dispatcher();
            Callback::from(move |_| dispatcher.dispatch(Action::ToggleCluster(index)))
        };
        let verdict = verdict_class(cluster.verdict);
        let findings_id = format!("cluster-{index}-findings");
        let context = mask(&cluster.context).into_owned();
        let version = |version: &Option<String>| {
            version
                .as_deref()
                .map(|v| mask(v).into_owned())
                .unwrap_or_else(|| "–".to_string())
        };
        html! {
            <>
                <tr class="cluster-row" data-context={context.clone()} data-verdict={cluster.verdict.as_str()}>
                    <th scope="row">
                        <button type="button" class="cluster-toggle" aria-expanded={open.to_string()}
                            aria-controls={findings_id.clone()} {onclick}>
                            <span aria-hidden="true">{ if open { "▾ " } else { "▸ " } }</span>
                            <span class="context">{ context }</span>
                        </button>
                    </th>
                    <td class="server">{ version(&cluster.server_version) }</td>
                    <td class="platform">{ version(&cluster.platform_version) }</td>
                    <td ~className={format!("verdict-cell {verdict}")}><span class="badge small">{ cluster.verdict.as_str() }</span></td>
                    <td class="failing">{ ids(&cluster.failing) }</td>
                    <td class="unknown">{ ids(&cluster.unknown) }</td>
                </tr>
                if open {
                    <tr class="cluster-findings" id={findings_id}>
                        <td colspan="6">
                            { checks_summary_of(&cluster.report, &format!("cluster-{index}-summary")) }
                            <div class="cards">
                                { for worst_first(&cluster.report).map(|finding| {
                                    finding_card(finding, &format!("cluster-{index}-"), None, state, on_evidence)
                                }) }
                            </div>
                        </td>
                    </tr>
                }
            </>
        }
    };
    html! {
        <>
            <h2 id="fleet-heading">{ "Clusters" }</h2>
            <div class="fleet-scroll">
                <table id="fleet-matrix" class="fleet" aria-labelledby="fleet-heading">
                    <thead>
                        <tr>
                            <th scope="col">{ "Context" }</th>
                            <th scope="col">{ "Server" }</th>
                            <th scope="col">{ "Platform" }</th>
                            <th scope="col">{ "Verdict" }</th>
                            <th scope="col">{ "Failing checks" }</th>
                            <th scope="col">{ "Unknown checks" }</th>
                        </tr>
                    </thead>
                    <tbody>
                        { for fleet.clusters.iter().enumerate().map(|(index, cluster)| row(index, cluster)) }
                    </tbody>
                </table>
            </div>
        </>
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

fn ack_panel(
    acks: &AckControls,
    evaluation: &Evaluation,
    on_change: &Callback<AckControls>,
) -> Html {
    let change = |edit: fn(&mut AckControls, &HtmlInputElement)| {
        let acks = acks.clone();
        let on_change = on_change.clone();
        Callback::from(move |event: Event| {
            if let Some(input) = event.target_dyn_into::<HtmlInputElement>() {
                let mut acks = acks.clone();
                edit(&mut acks, &input);
                on_change.emit(acks);
            }
        })
    };
    // One choice per workload: the acknowledgement names the pod without its generated suffix,
    // so it still covers the pod after a restart gives it a new name.
    let mut pickable: Vec<(String, String)> = Vec::new();
    for pod in evaluation.unhealthy_pods() {
        let workload = workload_name(pod.namespace.as_deref(), &pod.name);
        if pickable.iter().any(|(name, _)| *name == workload) {
            continue;
        }
        let namespace = pod
            .namespace
            .as_deref()
            .map(|ns| format!("{ns}/"))
            .unwrap_or_default();
        pickable.push((
            workload.to_string(),
            format!("{workload} ({namespace}{}, {})", pod.name, pod.status),
        ));
    }
    for picked in &acks.known_crashing {
        if !pickable.iter().any(|(name, _)| name == picked) {
            pickable.push((picked.clone(), format!("{picked} — not in the pasted pods")));
        }
    }
    let backup_missing_reference = acks.backup_taken && acks.backup_reference.trim().is_empty();
    html! {
        <section class="panel acks" aria-labelledby="acks-heading">
            <h2 id="acks-heading">{ "Acknowledgements" }</h2>
            <p class="hint">{ "What only you can vouch for. They are written into the plan with your name for them." }</p>
            <div class="field">
                <label>
                    <input id="ack-backup" type="checkbox" checked={acks.backup_taken}
                        onchange={change(|acks, input| acks.backup_taken = input.checked())} />
                    { " The whole Postgres instance was backed up, every database on it" }
                </label>
                <p class="hint" id="ack-backup-scope">{ "The upgrader dumps only the Houston database (<release>_houston), not the Airflow deployments' databases: this backup is their only copy." }</p>
                <label class="inline-field" for="ack-backup-ref">{ "Backup reference (ticket or snapshot id)" }</label>
                <input id="ack-backup-ref" type="text" value={acks.backup_reference.clone()}
                    aria-invalid={backup_missing_reference.to_string()}
                    oninput={change_text(acks, on_change, |acks, value| acks.backup_reference = value)} />
                if backup_missing_reference {
                    <p class="field-error">{ "Enter the backup's reference: the acknowledgement counts only with it." }</p>
                }
            </div>
            <div class="field">
                <label>
                    <input id="ack-system-admin" type="checkbox" checked={acks.system_admin}
                        onchange={change(|acks, input| acks.system_admin = input.checked())} />
                    { " I am an Astronomer System Admin" }
                </label>
            </div>
            <fieldset class="field">
                <legend>{ "Pods known to crash (they turn a pod-health failure into a warning)" }</legend>
                if pickable.is_empty() {
                    <p class="hint">{ "No unhealthy pod in the pasted evidence." }</p>
                }
                { for pickable.iter().enumerate().map(|(index, (name, label))| {
                    let checked = acks.known_crashing.contains(name);
                    let onchange = {
                        let acks = acks.clone();
                        let name = name.clone();
                        let on_change = on_change.clone();
                        Callback::from(move |_| {
                            let mut acks = acks.clone();
                            if checked {
                                acks.known_crashing.retain(|pod| pod != &name);
                            } else {
                                acks.known_crashing.push(name.clone());
                            }
                            on_change.emit(acks);
                        })
                    };
                    html! {
                        <label class="pod-pick">
                            <input id={format!("ack-crashing-{index}")} type="checkbox" data-pod={name.clone()} {checked} {onchange} />
                            { format!(" {label}") }
                        </label>
                    }
                }) }
            </fieldset>
            <div class="field">
                <label>
                    <input id="ack-air-gapped" type="checkbox" checked={acks.air_gapped}
                        onchange={change(|acks, input| acks.air_gapped = input.checked())} />
                    { " This site is air-gapped (no internet egress)" }
                </label>
                <label class="inline-field" for="ack-mirrors">{ "Registry that mirrors the upgrade's images" }</label>
                <input id="ack-mirrors" type="text" placeholder="registry.example.internal:5000" value={acks.mirrors.clone()}
                    oninput={change_text(acks, on_change, |acks, value| acks.mirrors = value)} />
                <label class="inline-field" for="ack-helm-repo">{ "Internal Helm repository (optional)" }</label>
                <input id="ack-helm-repo" type="text" value={acks.helm_repository.clone()}
                    oninput={change_text(acks, on_change, |acks, value| acks.helm_repository = value)} />
            </div>
            <div class="field">
                <label>
                    <input id="ack-rollback-data-loss" type="checkbox" checked={acks.rollback_data_loss}
                        onchange={change(|acks, input| acks.rollback_data_loss = input.checked())} />
                    { " Automatic rollback allowed: it deletes the Elasticsearch log volumes and restores the Houston database from this run's backup (needed by apply --auto-rollback)" }
                </label>
            </div>
            { upgrader_options(acks, on_change) }
        </section>
    }
}

/// The plan's options for the upgrader: what `astro-upgrade plan --commander-upgrade-timeout`
/// and `--disable-deployment-upgrades` set, and `apply` puts on the upgrade Job.
fn upgrader_options(acks: &AckControls, on_change: &Callback<AckControls>) -> Html {
    let toggle = {
        let acks = acks.clone();
        let on_change = on_change.clone();
        Callback::from(move |event: Event| {
            if let Some(input) = event.target_dyn_into::<HtmlInputElement>() {
                let mut acks = acks.clone();
                acks.disable_deployment_upgrades = input.checked();
                on_change.emit(acks);
            }
        })
    };
    let error = acks.timeout_error();
    html! {
        <fieldset class="field" id="upgrader-options">
            <legend>{ "Upgrader options (set on the upgrade Job by astro-upgrade apply)" }</legend>
            <label class="inline-field" for="option-commander-timeout">{ "Commander upgrade timeout, seconds (COMMANDER_UPGRADE_TIMEOUT; empty: the upgrader's 300)" }</label>
            <input id="option-commander-timeout" type="text" inputmode="numeric" placeholder="300"
                value={acks.commander_upgrade_timeout.clone()}
                aria-invalid={error.is_some().to_string()}
                oninput={change_text(acks, on_change, |acks, value| acks.commander_upgrade_timeout = value)} />
            if let Some(error) = error {
                <p class="field-error">{ error }</p>
            }
            <p class="hint">{ "Step (5/6) upgrades every Airflow deployment; with more than about ten, allow about 60 s each." }</p>
            <label>
                <input id="option-disable-deployment-upgrades" type="checkbox" checked={acks.disable_deployment_upgrades}
                    onchange={toggle} />
                { " Skip the Airflow deployments' upgrade (DISABLE_UPGRADE_DEPLOYMENT: steps (5/6) and (6/6)): they stay on their 0.16-era chart and must each be upgraded from the Astronomer UI afterwards" }
            </label>
        </fieldset>
    }
}

/// The shortest name the planner accepts as covering `pod_name`: the pod's name without the
/// generated segments a Deployment or StatefulSet adds.
fn workload_name<'a>(namespace: Option<&str>, pod_name: &'a str) -> &'a str {
    let mut name = pod_name;
    for _ in 0..2 {
        match name.rsplit_once('-') {
            Some((shorter, _)) if matches_known_crashing(shorter, namespace, pod_name) => {
                name = shorter
            }
            _ => break,
        }
    }
    name
}

fn change_text(
    acks: &AckControls,
    on_change: &Callback<AckControls>,
    edit: fn(&mut AckControls, String),
) -> Callback<InputEvent> {
    let acks = acks.clone();
    let on_change = on_change.clone();
    Callback::from(move |event: InputEvent| {
        if let Some(input) = event.target_dyn_into::<HtmlInputElement>() {
            let mut acks = acks.clone();
            edit(&mut acks, input.value());
            on_change.emit(acks);
        }
    })
}

fn export_panel(state: &UseReducerHandle<State>) -> Html {
    let plan = {
        let state = state.clone();
        move || current_plan(&state)
    };
    let on_json = {
        let plan = plan.clone();
        Callback::from(move |_| {
            browser::download(
                "astro-upgrade-plan.json",
                "application/json",
                &plan_json(&plan()),
            );
        })
    };
    let on_markdown = {
        let plan = plan.clone();
        Callback::from(move |_| {
            browser::download(
                "astro-upgrade-plan.md",
                "text/markdown",
                &plan().to_markdown(),
            );
        })
    };
    let on_commands = {
        let plan = plan.clone();
        Callback::from(move |_| browser::copy_to_clipboard(&plan_commands(&plan())))
    };
    let on_print = Callback::from(|_| browser::print());
    html! {
        <section class="panel export" aria-labelledby="export-heading">
            <h2 id="export-heading">{ "Plan" }</h2>
            <div class="buttons">
                <button type="button" class="button" id="export-json" onclick={on_json}>{ "Download plan (JSON)" }</button>
                <button type="button" class="button" id="export-markdown" onclick={on_markdown}>{ "Download plan (Markdown)" }</button>
                <button type="button" class="button" id="copy-commands" onclick={on_commands}>{ "Copy the plan's commands" }</button>
                <button type="button" class="button" id="print" onclick={on_print}>{ "Print review" }</button>
            </div>
            <p class="hint">{ "The JSON is the same plan " }<code>{ "astro-upgrade plan" }</code>{ " writes for this evidence; give it to " }<code>{ "astro-upgrade apply" }</code>{ "." }</p>
            <p class="hint">{ "Plan digest (SHA-256): " }<code id="plan-digest">{ current_plan(state).plan_digest }</code>
                { " — an approver compares it with what " }<code>{ "astro-upgrade approve" }</code>{ " prints before signing." }</p>
        </section>
    }
}

/// The plan for what is on the page now. Kept out of line: each export button would otherwise
/// carry its own inlined copy of the planner's entry point.
#[inline(never)]
fn current_plan(state: &State) -> planner::Plan {
    planner::make_plan(
        &state.sources(),
        &state.acks.acknowledgements(),
        &state.acks.upgrader_options(),
        &[],
        &browser::iso_now(),
    )
}

/// The plan as indented JSON, fields in the order `astro-upgrade plan` writes them. It is
/// written compactly, as the planner writes it for its digest, then indented: a pretty-printing
/// serializer would add a second copy of every `Serialize` impl of the plan to the wasm.
fn plan_json(plan: &planner::Plan) -> String {
    let mut json = crate::json::indent(&serde_json::to_string(plan).unwrap_or_default());
    json.push('\n');
    json
}

/// Every step's commands in order, each step introduced by a shell comment naming it, so the
/// copied text can be read before it is run.
fn plan_commands(plan: &planner::Plan) -> String {
    let mut text = String::new();
    for step in plan.steps.iter().filter(|step| !step.commands.is_empty()) {
        text.push_str(&format!("# {}\n", step.title));
        for command in &step.commands {
            text.push_str(command);
            text.push('\n');
        }
    }
    text
}

/// The button that copies box `index`'s commands. Once clicked it says "Copied" for as long as
/// the page shows it: the word is written into the button's own text node, which the page never
/// re-renders because the label does not change (state for it would make the button a component
/// of its own, with its own copy of yew's lifecycle code).
fn copy_button(index: usize) -> Html {
    let commands = BOXES[index].commands;
    let onclick = Callback::from(move |event: MouseEvent| {
        browser::copy_to_clipboard(&commands.join("\n"));
        if let Some(label) = event
            .target_dyn_into::<Element>()
            .and_then(|b| b.first_child())
        {
            label.set_node_value(Some("Copied"));
        }
    });
    html! {
        <button type="button" class="button copy" {onclick}>
            { if commands.len() > 1 { "Copy all commands" } else { "Copy command" } }
        </button>
    }
}

/// One finding as a card; `id_prefix` keeps element ids unique when several clusters' cards
/// are on the page.
fn finding_card(
    finding: &Finding,
    id_prefix: &str,
    highlight: Option<&Highlight>,
    state: &State,
    on_evidence: &Callback<Highlight>,
) -> Html {
    let (status, badge) = status_names(finding.status);
    let heading_id = format!("{id_prefix}check-{}", finding.check);
    let highlight_now = highlight;
    let links = |evidence: &[At]| -> Html {
        html! {
            { for evidence.iter().filter_map(|at| {
                let line = at.line?;
                // A line of a file that is not on the page (a bundle made elsewhere) is named only.
                if state.source_text(&at.source).is_none() {
                    return Some(html! { <span class="evidence-ref">{ format!("{} line {line}", at.source) }</span> });
                }
                let highlight = Highlight { check: finding.check.clone(), source: at.source.clone(), line };
                let active = highlight_now == Some(&highlight);
                let on_evidence = on_evidence.clone();
                let onclick = Callback::from(move |_| on_evidence.emit(highlight.clone()));
                Some(html! {
                    <button type="button" ~className={if active { "evidence-link active" } else { "evidence-link" }}
                        data-source={at.source.clone()} data-line={line.to_string()} {onclick}>
                        { format!("{} line {line}", at.source) }
                    </button>
                })
            }) }
        }
    };
    html! {
        <article ~className={format!("card {status}")} data-check={finding.check.clone()} data-status={status}
            aria-labelledby={heading_id.clone()}>
            <header class="card-header">
                <span class="badge">{ badge }</span>
                <h3 id={heading_id}>{ check_title(&finding.check) }</h3>
                <code class="check-id">{ finding.check.clone() }</code>
            </header>
            <p class="message">{ with_code(&mask(&finding.message)) }</p>
            if let Some(remedy) = &finding.remedy {
                <div class="remedy">
                    <span class="remedy-label">{ "Fix: " }</span>
                    <span class="remedy-text">{ with_code(&mask(remedy)) }</span>
                </div>
            }
            if !finding.items.is_empty() {
                <ul class="items">
                    { for finding.items.iter().take(NAMES_SHOWN).map(|item| {
                        let (item_status, item_badge) = status_names(item.status);
                        html! {
                            <li ~className={format!("item {item_status}")} data-status={item_status}>
                                <span class="badge small">{ item_badge }</span>
                                <span class="subject">{ mask(&item.subject).into_owned() }</span>
                                { " " }{ with_code(&mask(&item.message)) }
                                { links(&item.evidence) }
                            </li>
                        }
                    }) }
                    if finding.items.len() > NAMES_SHOWN {
                        <li class="item more">
                            { format!("… and {} more (every one is in the exported plan JSON)", finding.items.len() - NAMES_SHOWN) }
                        </li>
                    }
                </ul>
            }
            if finding.evidence.iter().any(|at| at.line.is_some()) {
                <p class="evidence">{ "Evidence: " }{ links(&finding.evidence[..finding.evidence.len().min(NAMES_SHOWN)]) }
                    if finding.evidence.len() > NAMES_SHOWN {
                        { format!("and {} more", finding.evidence.len() - NAMES_SHOWN) }
                    }
                </p>
            }
            { highlight.and_then(|h| excerpt(state, &h.source, h.line)).unwrap_or_default() }
        </article>
    }
}

/// The planner's messages quote names and commands in `backticks`: shown as code.
fn with_code(text: &str) -> Html {
    html! {
        { for text.split('`').enumerate().map(|(index, part)| {
            if index % 2 == 1 {
                html! { <code>{ part.to_string() }</code> }
            } else {
                html! { { part.to_string() } }
            }
        }) }
    }
}

/// The pasted lines around an evidence line, masked, the line itself marked.
fn excerpt(state: &State, source: &str, line: u32) -> Option<Html> {
    let text = state.source_text(source)?;
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let lines: Vec<&str> = text.lines().collect();
    lines.get(index)?;
    let first = index.saturating_sub(2);
    let last = (index + 2).min(lines.len() - 1);
    Some(html! {
        <figure class="excerpt">
            <figcaption>{ format!("{source}, line {line}") }</figcaption>
            <pre>
                { for (first..=last).map(|i| {
                    let content = mask(lines[i]).into_owned();
                    let number = format!("{:>4}  ", i + 1);
                    if i == index {
                        html! { <mark class="highlighted-line">{ number }{ content }{ "\n" }</mark> }
                    } else {
                        html! { <span>{ number }{ content }{ "\n" }</span> }
                    }
                }) }
            </pre>
        </figure>
    })
}

/// Diagnostics whose source is none of the boxes (e.g. a transcript piece named otherwise).
fn other_diagnostics(state: &State) -> Html {
    let others: Vec<&Diagnostic> = state
        .evaluation
        .report
        .diagnostics
        .iter()
        .filter(|d| {
            box_for_source(&d.source).is_none() && !state.bundles.iter().any(|b| b.name == d.source)
        })
        .collect();
    if others.is_empty() {
        return html! {};
    }
    html! {
        <section class="panel" aria-labelledby="other-diagnostics">
            <h2 id="other-diagnostics">{ "Other reader notes" }</h2>
            <ul class="diagnostics">
                { for others.iter().map(|d| html! {
                    <li>{ format!("{}: ", d.source) }{ diagnostic_item(d) }</li>
                }) }
            </ul>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(statuses: &[(&str, Status)]) -> Report {
        Report {
            schema_version: planner::report::REPORT_SCHEMA_VERSION,
            verdict: Verdict::NoGo,
            findings: statuses
                .iter()
                .map(|(check, status)| Finding {
                    check: check.to_string(),
                    status: *status,
                    message: String::new(),
                    remedy: None,
                    evidence: Vec::new(),
                    items: Vec::new(),
                })
                .collect(),
            diagnostics: Vec::new(),
        }
    }

    #[test]
    fn cards_go_worst_first_keeping_check_order_within_a_status() {
        let report = report(&[
            ("a", Status::Pass),
            ("b", Status::Fail),
            ("c", Status::Warn),
            ("d", Status::Unknown),
            ("e", Status::Fail),
            ("f", Status::Pass),
        ]);
        let order: Vec<&str> = worst_first(&report).map(|f| f.check.as_str()).collect();
        assert_eq!(order, ["b", "e", "d", "c", "a", "f"]);
        assert_eq!(
            status_counts(&report),
            [
                (Status::Fail, 2),
                (Status::Unknown, 1),
                (Status::Warn, 1),
                (Status::Pass, 2)
            ]
        );
    }
}
