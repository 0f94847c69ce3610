//! The page state: the pasted boxes, the acknowledgement controls and the last evaluation.
//!
//! Evaluation is synchronous and happens in the reducer; typing only schedules it (the app
//! debounces keystrokes), while clicks on controls evaluate at once.

use std::rc::Rc;

use planner::fleet::FleetReport;
use planner::{Acknowledgements, Facts, Report, Source, UpgraderOptions};
use serde_json::{Map, Value};
use yew::{AttrValue, Reducible};

use crate::browser;
use crate::evidence::{box_for_file_name, BOXES, BY_FILE_NAME, TRANSCRIPT};
use crate::examples::EXAMPLES;
use crate::secrets::mask;

const STORAGE_KEY: &str = "astro-upgrade-planner";

/// The acknowledgement controls as the person set them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AckControls {
    pub backup_taken: bool,
    pub backup_reference: String,
    pub system_admin: bool,
    pub known_crashing: Vec<String>,
    pub air_gapped: bool,
    pub mirrors: String,
    pub helm_repository: String,
    pub rollback_data_loss: bool,
    /// The plan's `--commander-upgrade-timeout`, as typed (seconds; empty: the upgrader's 300).
    pub commander_upgrade_timeout: String,
    /// The plan's `--disable-deployment-upgrades`.
    pub disable_deployment_upgrades: bool,
}

impl AckControls {
    /// The controls showing acknowledgements given as the CLI's `--ack` values
    /// (`database-backup=REF`, `system-admin`, `known-crashing=POD[,POD…]`, `mirrors=REGISTRY`,
    /// `helm-repo=URL`, `rollback-data-loss`), parsed by the planner exactly as the CLI parses them; a value the
    /// planner rejects is left out.
    pub fn from_cli_acks(acks: &[&str], air_gapped: bool) -> Self {
        let mut given = Acknowledgements {
            air_gapped,
            ..Acknowledgements::default()
        };
        for ack in acks {
            let _ = given.parse_ack(ack);
        }
        AckControls {
            backup_taken: given.database_backup.is_some(),
            backup_reference: given.database_backup.unwrap_or_default(),
            system_admin: given.system_admin,
            known_crashing: given.known_crashing,
            air_gapped: given.air_gapped,
            mirrors: given.mirrors.unwrap_or_default(),
            helm_repository: given.helm_repository.unwrap_or_default(),
            rollback_data_loss: given.rollback_data_loss,
            ..AckControls::default()
        }
    }

    /// What the plan sets on the upgrader, read by the planner as the CLI's flags are; a
    /// timeout the planner refuses sets none (the page shows why: [`Self::timeout_error`]).
    pub fn upgrader_options(&self) -> UpgraderOptions {
        let timeout = self.commander_upgrade_timeout.trim();
        UpgraderOptions {
            commander_upgrade_timeout: if timeout.is_empty() {
                None
            } else {
                UpgraderOptions::parse_timeout(timeout).ok()
            },
            disable_deployment_upgrades: self.disable_deployment_upgrades,
        }
    }

    /// Why the typed timeout is not used, if it is not.
    pub fn timeout_error(&self) -> Option<String> {
        let timeout = self.commander_upgrade_timeout.trim();
        if timeout.is_empty() {
            return None;
        }
        UpgraderOptions::parse_timeout(timeout).err()
    }

    /// What the planner is told; a backup counts only with its reference, as on the command line.
    pub fn acknowledgements(&self) -> Acknowledgements {
        let non_empty = |value: &str| {
            let value = value.trim();
            (!value.is_empty()).then(|| value.to_string())
        };
        Acknowledgements {
            database_backup: if self.backup_taken {
                non_empty(&self.backup_reference)
            } else {
                None
            },
            system_admin: self.system_admin,
            known_crashing: self.known_crashing.clone(),
            air_gapped: self.air_gapped,
            mirrors: non_empty(&self.mirrors),
            helm_repository: non_empty(&self.helm_repository),
            rollback_data_loss: self.rollback_data_loss,
        }
    }

    // The remembered form is written and read by hand: serde's derive would bring a JSON
    // serializer and deserializer for this one struct into the page's wasm.

    /// The controls as remembered on this device: a JSON object, one key per control. Text
    /// fields are masked like the boxes (a repository URL may carry a password).
    fn to_json(&self) -> Value {
        let mut map = Map::new();
        let mut put = |key: &str, value: Value| map.insert(key.to_string(), value);
        let masked = |text: &str| Value::String(mask(text).into_owned());
        put("backup_taken", self.backup_taken.into());
        put("backup_reference", masked(&self.backup_reference));
        put("system_admin", self.system_admin.into());
        put("known_crashing", self.known_crashing.clone().into());
        put("air_gapped", self.air_gapped.into());
        put("mirrors", masked(&self.mirrors));
        put("helm_repository", masked(&self.helm_repository));
        put("rollback_data_loss", self.rollback_data_loss.into());
        put(
            "commander_upgrade_timeout",
            Value::String(self.commander_upgrade_timeout.clone()),
        );
        put(
            "disable_deployment_upgrades",
            self.disable_deployment_upgrades.into(),
        );
        Value::Object(map)
    }

    /// The controls from their remembered form; a key that is missing or of another type
    /// leaves that control at its default.
    fn from_json(value: &Value) -> Self {
        let flag = |key: &str| value.get(key).and_then(Value::as_bool).unwrap_or_default();
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        AckControls {
            backup_taken: flag("backup_taken"),
            backup_reference: text("backup_reference"),
            system_admin: flag("system_admin"),
            known_crashing: value
                .get("known_crashing")
                .and_then(Value::as_array)
                .map(|pods| {
                    pods.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            air_gapped: flag("air_gapped"),
            mirrors: text("mirrors"),
            helm_repository: text("helm_repository"),
            rollback_data_loss: flag("rollback_data_loss"),
            commander_upgrade_timeout: text("commander_upgrade_timeout"),
            disable_deployment_upgrades: flag("disable_deployment_upgrades"),
        }
    }
}

/// A `collect` bundle dropped on the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub name: AttrValue,
    pub text: AttrValue,
}

/// The planner's answer for one state of the boxes and controls.
pub struct Evaluation {
    /// The boxes' facts (and the one bundle's); with several bundles, every bundle's facts
    /// together, which only offers their unhealthy pods for acknowledgement.
    pub facts: Facts,
    /// The boxes' report (and the one bundle's); with several bundles, the boxes' alone, for
    /// their diagnostics: the verdict shown is the fleet's.
    pub report: Report,
    /// With several bundles: one row per bundle, judged by the planner's `fleet::from_bundles`.
    pub fleet: Option<FleetReport>,
    /// `performance.now()` when the evaluation started, to measure it up to the next paint.
    pub started_ms: f64,
    /// Counts evaluations; two evaluations are equal when they are the same one.
    pub generation: u32,
}

impl PartialEq for Evaluation {
    fn eq(&self, other: &Self) -> bool {
        self.generation == other.generation
    }
}

impl Evaluation {
    /// Names of the pods that are not Running-and-ready nor Completed, in listing order.
    pub fn unhealthy_pods(&self) -> Vec<&planner::facts::Pod> {
        self.facts.pods.iter().filter(|pod| !pod.healthy).collect()
    }
}

/// The evidence line a person asked to see.
#[derive(Debug, Clone, PartialEq)]
pub struct Highlight {
    pub check: String,
    pub source: String,
    pub line: u32,
}

#[derive(Clone, PartialEq)]
pub struct State {
    /// One text per box of [`BOXES`], same order.
    pub texts: Vec<AttrValue>,
    /// The `collect` bundles of the last drop or pick that carried any: one is read with the
    /// boxes as one cluster; several are a fleet, one cluster each.
    pub bundles: Vec<Bundle>,
    /// The fleet matrix's rows (indexes into `bundles`) opened to show their findings.
    pub expanded: Vec<usize>,
    pub acks: AckControls,
    /// Keep boxes and acknowledgements in this browser's storage (off unless turned on).
    pub remember: bool,
    pub evaluation: Rc<Evaluation>,
    pub highlight: Option<Highlight>,
    /// What the last drop or example did, said once.
    pub notice: Option<AttrValue>,
}

pub enum Action {
    SetText(usize, AttrValue),
    /// Files read from a drop or a file picker: `(file name, content)`.
    Files(Vec<(String, String)>),
    LoadExample(usize),
    ClearAll,
    RemoveBundle(usize),
    /// Opens or closes a fleet row's findings.
    ToggleCluster(usize),
    SetAcks(AckControls),
    SetRemember(bool),
    Evaluate,
    Highlight(Option<Highlight>),
}

impl State {
    /// A fresh page, or the remembered one when the person asked this browser to remember.
    pub fn initial() -> Self {
        let mut state = State {
            texts: vec![AttrValue::default(); BOXES.len()],
            bundles: Vec::new(),
            expanded: Vec::new(),
            acks: AckControls::default(),
            remember: false,
            evaluation: Rc::new(Evaluation {
                facts: Facts::default(),
                report: planner::check(&[], &Acknowledgements::default(), &[]).1,
                fleet: None,
                started_ms: browser::now_ms(),
                generation: 0,
            }),
            highlight: None,
            notice: None,
        };
        if let Some(saved) = browser::storage_get(STORAGE_KEY) {
            state.restore(&saved);
            state.remember = true;
        }
        state.evaluate();
        state
    }

    /// Several bundles: the page shows the fleet matrix instead of one cluster's checks.
    pub fn is_fleet(&self) -> bool {
        self.bundles.len() > 1
    }

    /// The planner's sources, built as the CLI builds them from a paste folder: one per
    /// non-empty box, named by its file name, sorted by file name; the bundle last, when one
    /// was dropped (several are a fleet: [`Self::bundle_sources`]).
    pub fn sources(&self) -> Vec<Source> {
        let mut sources: Vec<Source> = BY_FILE_NAME
            .iter()
            .filter_map(|&index| Some((BOXES.get(index)?, self.texts.get(index)?)))
            .filter(|(_, text)| !text.trim().is_empty())
            .map(|(evidence_box, text)| {
                Source::new(
                    evidence_box.file_name,
                    Some(evidence_box.kind),
                    text.as_str(),
                )
            })
            .collect();
        if !self.is_fleet() {
            sources.extend(self.bundle_sources());
        }
        sources
    }

    /// Each dropped bundle as a planner source, in the order they were dropped.
    pub fn bundle_sources(&self) -> Vec<Source> {
        self.bundles
            .iter()
            .map(|bundle| {
                Source::new(
                    bundle.name.as_str(),
                    Some(planner::EvidenceKind::Bundle),
                    bundle.text.as_str(),
                )
            })
            .collect()
    }

    /// The pasted text an evidence pointer's source name refers to.
    pub fn source_text(&self, source: &str) -> Option<&str> {
        if let Some(index) = crate::evidence::box_for_source(source) {
            return Some(self.texts[index].as_str());
        }
        self.bundles
            .iter()
            .find(|bundle| bundle.name == source)
            .map(|bundle| bundle.text.as_str())
    }

    fn evaluate(&mut self) {
        let started_ms = browser::now_ms();
        let acks = self.acks.acknowledgements();
        let options = self.acks.upgrader_options();
        let (mut facts, report) =
            planner::check_with_options(&self.sources(), &acks, &options, &[]);
        let fleet = self.is_fleet().then(|| {
            let bundles = self.bundle_sources();
            // Every cluster's pods, for the known-crashing choices (the acknowledgements are
            // the fleet's, as `--ack` is for every context of a fleet run).
            facts = planner::read_sources(&bundles);
            planner::fleet::from_bundles(&bundles, &acks, &options, &[])
        });
        self.evaluation = Rc::new(Evaluation {
            facts,
            report,
            fleet,
            started_ms,
            generation: self.evaluation.generation.wrapping_add(1),
        });
        if self.remember {
            browser::storage_set(STORAGE_KEY, &self.remembered());
        }
    }

    fn take_files(&mut self, files: Vec<(String, String)>) {
        let mut placed = Vec::new();
        let mut bundles = Vec::new();
        for (name, text) in files {
            if is_bundle(&text) {
                placed.push(format!("{name} → collect bundle"));
                bundles.push(Bundle {
                    name: name.into(),
                    text: text.into(),
                });
                continue;
            }
            let index = box_for_file_name(&name).unwrap_or(TRANSCRIPT);
            let current = self.texts[index].as_str();
            let combined = if index == TRANSCRIPT && !current.trim().is_empty() {
                format!("{}\n{text}", current.trim_end_matches('\n'))
            } else {
                text
            };
            placed.push(format!("{name} → {}", BOXES[index].title));
            self.texts[index] = combined.into();
        }
        let mut notice = format!("Read {}", placed.join("; "));
        if !bundles.is_empty() {
            // The bundles of one drop replace the earlier ones: a fleet is dropped at once.
            self.bundles = bundles;
            self.expanded.clear();
            if self.is_fleet() {
                notice.push_str(&format!(
                    ". {} bundles: one row per cluster in the fleet matrix, each judged alone.",
                    self.bundles.len()
                ));
            }
        }
        self.notice = Some(notice.into());
    }

    fn load_example(&mut self, index: usize) {
        let Some(example) = EXAMPLES.get(index) else {
            return;
        };
        self.texts = vec![AttrValue::default(); BOXES.len()];
        self.bundles.clear();
        self.expanded.clear();
        for (name, text) in example.files() {
            if let Some(box_index) = box_for_file_name(name) {
                self.texts[box_index] = AttrValue::Static(text);
            }
        }
        self.acks = example.acknowledgements();
        self.highlight = None;
        self.notice = Some(
            format!(
                "Loaded the example {} with its acknowledgements; edit any box to try your own evidence.",
                example.name
            )
            .into(),
        );
    }

    /// What "remember on this device" keeps: the boxes with secrets masked, and the controls.
    fn remembered(&self) -> String {
        // Inserted one by one: collecting into a map would sort, one more sort in the wasm.
        let mut texts = Map::new();
        for (evidence_box, text) in BOXES.iter().zip(&self.texts) {
            if !text.is_empty() {
                texts.insert(
                    evidence_box.file_name.to_string(),
                    Value::String(mask(text).into_owned()),
                );
            }
        }
        let mut remembered = Map::new();
        remembered.insert("texts".to_string(), Value::Object(texts));
        remembered.insert("acks".to_string(), self.acks.to_json());
        // not `Value::to_string`: its `Display` path would add a second JSON writer to the wasm
        serde_json::to_string(&Value::Object(remembered)).unwrap_or_default()
    }

    fn restore(&mut self, saved: &str) {
        let Ok(saved) = serde_json::from_str::<Value>(saved) else {
            return;
        };
        if let Some(texts) = saved.get("texts").and_then(Value::as_object) {
            for (name, text) in texts {
                if let (Some(index), Some(text)) =
                    (crate::evidence::box_for_source(name), text.as_str())
                {
                    self.texts[index] = text.to_string().into();
                }
            }
        }
        if let Some(acks) = saved.get("acks") {
            self.acks = AckControls::from_json(acks);
        }
    }
}

/// A `collect` bundle announces itself in its first key.
fn is_bundle(text: &str) -> bool {
    let head: String = text.chars().take(200).collect();
    head.trim_start().starts_with('{') && head.contains("\"astro_upgrade_bundle\"")
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut state = (*self).clone();
        match action {
            Action::SetText(index, text) => {
                if let Some(slot) = state.texts.get_mut(index) {
                    *slot = text;
                }
                // Evaluated when the typing pauses (the app sends `Evaluate`).
                return Rc::new(state);
            }
            Action::Files(files) => state.take_files(files),
            Action::LoadExample(index) => state.load_example(index),
            Action::ClearAll => {
                state.texts = vec![AttrValue::default(); BOXES.len()];
                state.bundles.clear();
                state.expanded.clear();
                state.acks = AckControls::default();
                state.highlight = None;
                state.notice = None;
            }
            Action::RemoveBundle(index) => {
                if index < state.bundles.len() {
                    state.bundles.remove(index);
                }
                state.expanded.clear();
            }
            Action::ToggleCluster(index) => {
                if let Some(at) = state.expanded.iter().position(|&open| open == index) {
                    state.expanded.remove(at);
                } else {
                    state.expanded.push(index);
                }
                return Rc::new(state);
            }
            Action::SetAcks(acks) => state.acks = acks,
            Action::SetRemember(remember) => {
                state.remember = remember;
                if !remember {
                    browser::storage_remove(STORAGE_KEY);
                }
            }
            Action::Evaluate => {}
            Action::Highlight(highlight) => {
                state.highlight = highlight;
                return Rc::new(state);
            }
        }
        state.evaluate();
        Rc::new(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_acks_become_controls_and_back() {
        let controls = AckControls::from_cli_acks(
            &[
                "database-backup=CHG-1234",
                "system-admin",
                "known-crashing=a-1, b-2",
                "mirrors=registry.corp:5000",
                "rollback-data-loss",
            ],
            true,
        );
        assert!(controls.rollback_data_loss);
        let acks = controls.acknowledgements();
        assert!(acks.rollback_data_loss);
        assert_eq!(acks.database_backup.as_deref(), Some("CHG-1234"));
        assert!(acks.system_admin);
        assert_eq!(acks.known_crashing, ["a-1", "b-2"]);
        assert!(acks.air_gapped);
        assert_eq!(acks.mirrors.as_deref(), Some("registry.corp:5000"));
        assert_eq!(acks.helm_repository, None);
    }

    #[test]
    fn the_upgrader_options_are_read_as_the_cli_reads_its_flags() {
        let mut controls = AckControls::default();
        assert!(controls.upgrader_options().is_default());
        controls.commander_upgrade_timeout = " 900 ".into();
        controls.disable_deployment_upgrades = true;
        assert_eq!(
            controls.upgrader_options(),
            UpgraderOptions {
                commander_upgrade_timeout: Some(900),
                disable_deployment_upgrades: true,
            }
        );
        assert_eq!(controls.timeout_error(), None);
        controls.commander_upgrade_timeout = "15 minutes".into();
        assert_eq!(controls.upgrader_options().commander_upgrade_timeout, None);
        assert!(controls.timeout_error().unwrap().contains("whole seconds"));
    }

    #[test]
    fn a_backup_without_reference_is_not_acknowledged() {
        let controls = AckControls {
            backup_taken: true,
            backup_reference: "  ".into(),
            ..AckControls::default()
        };
        assert_eq!(controls.acknowledgements().database_backup, None);
    }

    #[test]
    fn remembered_controls_come_back_as_they_were() {
        let controls = AckControls {
            backup_taken: true,
            backup_reference: "CHG-1234".into(),
            system_admin: true,
            known_crashing: vec!["astronomer-kibana".into(), "b-2".into()],
            air_gapped: true,
            mirrors: "registry.corp:5000".into(),
            helm_repository: "https://charts.corp".into(),
            rollback_data_loss: true,
            commander_upgrade_timeout: "900".into(),
            disable_deployment_upgrades: true,
        };
        let written = controls.to_json().to_string();
        let read: Value = serde_json::from_str(&written).unwrap();
        assert_eq!(AckControls::from_json(&read), controls);
    }

    #[test]
    fn a_password_in_a_remembered_control_is_masked() {
        let controls = AckControls {
            helm_repository: "https://robot:s3cr3t-pw@charts.corp.example/astronomer".into(),
            mirrors: "registry.corp:5000".into(),
            ..AckControls::default()
        };
        let written = controls.to_json().to_string();
        assert!(!written.contains("s3cr3t-pw"), "{written}");
        assert!(
            written.contains("charts.corp.example/astronomer"),
            "{written}"
        );
        assert!(written.contains("registry.corp:5000"), "{written}");
    }

    #[test]
    fn a_remembered_control_of_the_wrong_type_stays_at_its_default() {
        let read = serde_json::json!({
            "backup_taken": "yes",
            "backup_reference": "CHG-1",
            "known_crashing": ["a-1", 7],
            "mirrors": null,
        });
        let controls = AckControls::from_json(&read);
        assert!(!controls.backup_taken);
        assert_eq!(controls.backup_reference, "CHG-1");
        assert_eq!(controls.known_crashing, ["a-1"]);
        assert_eq!(controls.mirrors, "");
        assert!(!controls.system_admin);
    }

    #[test]
    fn bundles_are_recognised_by_their_marker() {
        assert!(is_bundle(
            "{\n  \"astro_upgrade_bundle\": 1, \"facts\": {}}"
        ));
        assert!(!is_bundle("NAME READY STATUS"));
        assert!(!is_bundle("{\"kind\": \"PodList\"}"));
    }
}
