//! What the operator sees while the executor works: on a terminal a spinner with the elapsed time
//! and the upgrader's current step over a scrolling log on stderr; with `--output json` one JSON
//! object per line on stdout (`{"ts", "elapsed_s", "event", …}`) and nothing else there.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use crate::OutputFormat;

pub struct Output {
    json: bool,
    started: Instant,
    spinner: Option<ProgressBar>,
    status: Mutex<Status>,
}

#[derive(Default)]
struct Status {
    phase: String,
    step: Option<String>,
}

impl Output {
    pub fn new(format: OutputFormat) -> Output {
        let json = format == OutputFormat::Json;
        let spinner = (!json && std::io::stderr().is_terminal()).then(|| {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner
        });
        Output {
            json,
            started: Instant::now(),
            spinner,
            status: Mutex::new(Status::default()),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// One event: a line for people on stderr, or a JSON object on stdout.
    pub fn event(&self, event: &str, human: &str, fields: Value) {
        if self.json {
            let mut object = json!({
                "ts": crate::journal::now_rfc3339(),
                "elapsed_s": (self.elapsed().as_millis() as f64) / 1000.0,
                "event": event,
            });
            if let (Some(object), Value::Object(fields)) = (object.as_object_mut(), fields) {
                object.extend(fields);
            }
            println!("{}", crate::journal::without_secrets(object));
        } else if !human.is_empty() {
            self.line(human);
        }
    }

    /// Text for people only (stderr); JSON output stays machine-readable.
    pub fn say(&self, human: &str) {
        if !self.json {
            self.line(human);
        }
    }

    pub fn warn(&self, message: &str) {
        self.event(
            "warning",
            &format!("warning: {message}"),
            json!({ "message": message }),
        );
    }

    /// The phase shown beside the spinner (`watching upgrade-astronomer`).
    pub fn phase(&self, phase: &str) {
        if let Ok(mut status) = self.status.lock() {
            status.phase = phase.to_string();
            status.step = None;
        }
        self.refresh();
    }

    /// The upgrader's current Ansible task.
    pub fn step(&self, job: &str, step: &str) {
        if let Ok(mut status) = self.status.lock() {
            status.step = Some(step.to_string());
        }
        self.event("step", "", json!({ "job": job, "step": step }));
        self.refresh();
    }

    pub fn log_line(&self, pod: &str, line: &str) {
        self.event(
            "log",
            &format!("  │ {line}"),
            json!({ "pod": pod, "line": line }),
        );
    }

    /// Runs `f` with the spinner hidden, for a prompt on the terminal.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.spinner {
            Some(spinner) => spinner.suspend(f),
            None => f(),
        }
    }

    pub fn finish(&self) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
    }

    fn refresh(&self) {
        let (Some(spinner), Ok(status)) = (&self.spinner, self.status.lock()) else {
            return;
        };
        let message = match &status.step {
            Some(step) => format!("{} — {step}", status.phase),
            None => status.phase.clone(),
        };
        spinner.set_message(message);
    }

    /// Every human line goes through here, masked like the journal.
    fn line(&self, text: &str) {
        let text = planner::report::redact_secrets(text);
        match &self.spinner {
            Some(spinner) => spinner.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.finish();
    }
}
