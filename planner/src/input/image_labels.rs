//! What ties a base image to the deployment image built on it, for the images reader: the
//! Astronomer Certified labels of a built image (`docker inspect`), and the Dockerfile a `cat`
//! printed.
//!
//! A CI-built deployment image (`registry.<domain>/<release>/airflow:ci-12`) carries the labels
//! of the certified image it was built `FROM` (Docker copies a base's labels into every image
//! built on it): `io.astronomer.docker.airflow.version` (`1.10.12`),
//! `io.astronomer.docker.ac.version` (`1.10.12-1`: Airflow and the certified build) and
//! `io.astronomer.docker.distro` (`buster`). They are read wherever they appear — `docker
//! inspect`'s JSON, `--format '{{json .Config.Labels}}'`, `key=value` lines — and belong to the
//! image `docker inspect` named, or else to the last image the paste named before them (the
//! `RepoTags` of `docker inspect`'s output come before its labels).

use crate::facts::{Certified, CertifiedForm};
use crate::input::text;
use crate::scan;

const AIRFLOW_VERSION: &str = "io.astronomer.docker.airflow.version";
const AC_VERSION: &str = "io.astronomer.docker.ac.version";
const DISTRO: &str = "io.astronomer.docker.distro";

/// The Astronomer Certified labels seen so far, with the line of the first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Labels {
    pub(crate) airflow: Option<String>,
    pub(crate) ac: Option<String>,
    pub(crate) distro: Option<String>,
    pub(crate) line: u32,
}

impl Labels {
    pub(crate) fn is_empty(&self) -> bool {
        self.airflow.is_none() && self.ac.is_none()
    }

    /// Reads the labels on one line (several on a `{{json .Config.Labels}}` line); true when
    /// any was there.
    pub(crate) fn read_line(&mut self, content: &str, number: u32) -> bool {
        if !content.contains("io.astronomer.docker.") {
            return false;
        }
        let mut found = false;
        for (key, slot) in [
            (AIRFLOW_VERSION, &mut self.airflow),
            (AC_VERSION, &mut self.ac),
            (DISTRO, &mut self.distro),
        ] {
            if let Some(value) = value_of(content, key) {
                *slot = Some(value.to_owned());
                found = true;
            }
        }
        if found && self.line == 0 {
            self.line = number;
        }
        found
    }

    /// The certified base the labels describe: the AC version (`1.10.12-1`) gives the Airflow
    /// version and build, else the Airflow version alone. `onbuild` says nothing for a built
    /// image and is false.
    pub(crate) fn certified(&self) -> Option<Certified> {
        let (airflow, build) = match (&self.ac, &self.airflow) {
            (Some(ac), _) => {
                let length = scan::dotted_version(ac)?;
                let build = ac[length..]
                    .strip_prefix('-')
                    .filter(|b| scan::all_digits(b))
                    .and_then(|b| b.parse().ok());
                (ac[..length].to_owned(), build)
            }
            (None, Some(airflow)) => {
                let length = scan::dotted_version(airflow)?;
                (airflow[..length].to_owned(), None)
            }
            (None, None) => return None,
        };
        Some(Certified {
            airflow_version: airflow,
            build_number: build,
            distribution: self.distro.clone(),
            onbuild: false,
            form: if build.is_some() {
                CertifiedForm::Pinned
            } else {
                CertifiedForm::Floating
            },
        })
    }
}

/// The value after `key` on `line`: `"key": "value"`, `"key":"value"`, `key=value`, `key: value`.
fn value_of<'l>(line: &'l str, key: &str) -> Option<&'l str> {
    let (_, rest) = line.split_once(key)?;
    // `io.astronomer.docker.airflow.version` is not the start of another key
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let rest = rest.trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix([':', '='])?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
    let length = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
        .count();
    (length > 0).then(|| &rest[..length])
}

/// The image `docker inspect REF` / `docker image inspect REF` names.
pub(crate) fn inspected_by(command: &str) -> Option<&str> {
    let words = text::command_words(command.split('|').next().unwrap_or(command));
    let mut words = words.into_iter().filter(|w| *w != "sudo");
    let tool = words.next()?;
    if !matches!(tool, "docker" | "podman" | "nerdctl") {
        return None;
    }
    let mut verb = words.next()?;
    if verb == "image" {
        verb = words.next()?;
    }
    if verb != "inspect" {
        return None;
    }
    let mut rest = words.peekable();
    while let Some(word) = rest.next() {
        if word == "-f" || word == "--format" || word == "--type" {
            // the format template is one quoted argument, perhaps split at spaces
            let mut value = rest.next()?;
            if value.contains("{{") {
                while !value.ends_with("}}") {
                    value = rest.next()?;
                }
            }
            continue;
        }
        if word.starts_with('-') || word.starts_with('{') {
            continue;
        }
        return Some(word);
    }
    None
}

/// The path of the Dockerfile `cat PATH` (or `type`, `less`, `head` …) prints.
pub(crate) fn dockerfile_of(command: &str) -> Option<&str> {
    let words = text::command_words(command.split('|').next().unwrap_or(command));
    let (tool, args) = words.split_first()?;
    let prints = matches!(
        *tool,
        "cat" | "type" | "Get-Content" | "gc" | "less" | "more" | "head" | "tail" | "bat" | "grep"
    );
    let path = args.iter().rev().find(|a| !a.starts_with('-'))?;
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
    (prints && (base.starts_with("Dockerfile") || base.ends_with(".Dockerfile"))).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labels_in_every_shape() {
        let mut labels = Labels::default();
        assert!(labels.read_line(
            r#"{"io.astronomer.docker":"true","io.astronomer.docker.ac.version":"1.10.12-1","io.astronomer.docker.airflow.version":"1.10.12","io.astronomer.docker.distro":"buster"}"#,
            3
        ));
        let certified = labels.certified().unwrap();
        assert_eq!(certified.airflow_version, "1.10.12");
        assert_eq!(certified.build_number, Some(1));
        assert_eq!(certified.distribution.as_deref(), Some("buster"));
        assert_eq!(certified.form, CertifiedForm::Pinned);
        assert_eq!(labels.line, 3);

        let mut pretty = Labels::default();
        pretty.read_line(
            r#"                "io.astronomer.docker.airflow.version": "2.0.0","#,
            7,
        );
        let certified = pretty.certified().unwrap();
        assert_eq!(certified.airflow_version, "2.0.0");
        assert_eq!(certified.build_number, None);
        assert_eq!(certified.form, CertifiedForm::Floating);

        let mut listed = Labels::default();
        listed.read_line("io.astronomer.docker.ac.version=1.10.5-9", 1);
        assert_eq!(listed.certified().unwrap().airflow_version, "1.10.5");
        assert!(!Labels::default().read_line("maintainer=someone", 1));
    }

    #[test]
    fn names_the_inspected_image_and_the_printed_dockerfile() {
        assert_eq!(
            inspected_by("docker inspect --format '{{json .Config.Labels}}' registry.astro.example.com/infrared-photon-7780/airflow:ci-12"),
            Some("registry.astro.example.com/infrared-photon-7780/airflow:ci-12")
        );
        assert_eq!(
            inspected_by(
                "docker image inspect -f '{{ json .Config.Labels }}' r/x/airflow:deploy-3"
            ),
            Some("r/x/airflow:deploy-3")
        );
        assert_eq!(inspected_by("docker images"), None);
        assert_eq!(
            dockerfile_of("cat ~/astro/infrared-photon-7780/Dockerfile"),
            Some("~/astro/infrared-photon-7780/Dockerfile")
        );
        assert_eq!(
            dockerfile_of("grep -h '^FROM' Dockerfile"),
            Some("Dockerfile")
        );
        assert_eq!(dockerfile_of("cat notes.txt"), None);
    }
}
