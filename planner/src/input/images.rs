//! Container image references, wherever people paste them: Dockerfile `FROM` lines and build logs,
//! one-per-line lists, `{..image}` jsonpath output, the IMAGES column of `kubectl get deploy -o wide`,
//! `Image:` lines of `kubectl describe`, `image:` lines of manifests, `docker images` tables,
//! markdown tables and diffs.
//!
//! Each reference is parsed by the container image reference grammar (docker/distribution), then
//! tags of `…ap-airflow` repositories by the Astronomer Certified tag grammar.
//!
//! Choices where the input is ambiguous:
//! - In a diff, the `+` side and unchanged lines are read; images only on `-` lines are reported
//!   as an info diagnostic (they are what the change removes, not what will run).
//! - A bare name without `/`, `:` or `@` (`nginx`) is not taken from a list line: prose and
//!   version numbers look the same.
//! - `Image ID:` lines, `docker-pullable://…` and bare `sha256:` ids are runtime digests of an
//!   image already listed, not references, and are skipped.
//! - `certified` is read for every repository whose last path component ends in `ap-airflow`
//!   (so the locally re-built `custom-ap-airflow` too); `ap-airflow-dev` is not a certified image.

use crate::facts::{At, BaseImage, BaseShownBy, Certified, CertifiedForm, Facts, Image, Severity};
use crate::input::image_labels::{self, Labels};
use crate::input::text;
use crate::scan;

/// A reference split by the docker/distribution grammar; placeholders such as `<your-registry>`
/// are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// Parses one image reference, or `None` when `reference` does not follow the grammar.
pub fn parse_reference(reference: &str) -> Option<ImageReference> {
    if reference.is_empty() || reference.len() > 512 || reference.contains("://") {
        return None;
    }
    let (name_and_tag, digest) = match reference.split_once('@') {
        Some((rest, digest)) => {
            if !is_digest(digest) {
                return None;
            }
            (rest, Some(digest))
        }
        None => (reference, None),
    };
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
        Some(colon) => {
            let colon = last_slash + colon;
            (&name_and_tag[..colon], Some(&name_and_tag[colon + 1..]))
        }
        None => (name_and_tag, None),
    };
    if let Some(tag) = tag {
        if !is_tag(tag) {
            return None;
        }
    }
    let components: Vec<&str> = name.split('/').collect();
    let first = components[0];
    let has_registry = components.len() > 1
        && (first.contains(['.', ':'])
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase())
            || is_placeholder(first));
    let (registry, path) = if has_registry {
        if !is_placeholder(first) && !is_host(first) {
            return None;
        }
        (Some(first), &components[1..])
    } else {
        (None, &components[..])
    };
    if path
        .iter()
        .any(|c| !is_path_component(c) && !is_placeholder(c))
    {
        return None;
    }
    Some(ImageReference {
        registry: registry.map(str::to_owned),
        repository: path.join("/"),
        tag: tag.map(str::to_owned),
        digest: digest.map(str::to_owned),
    })
}

/// `<your-registry>`, `<image-tag>`: documentation placeholders, kept as given.
fn is_placeholder(s: &str) -> bool {
    s.len() > 2
        && s.starts_with('<')
        && s.ends_with('>')
        && !s[1..s.len() - 1].contains(['<', '>', '/', ' '])
}

fn is_digest(s: &str) -> bool {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return false;
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
    let hex_ok = hex.chars().all(|c| c.is_ascii_hexdigit());
    let len_ok = if algorithm == "sha256" {
        hex.len() == 64
    } else {
        hex.len() >= 32
    };
    algorithm_ok && hex_ok && len_ok
}

fn is_tag(s: &str) -> bool {
    if is_placeholder(s) {
        return true;
    }
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok && s.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// A registry host: DNS labels or an IP, with an optional port.
fn is_host(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    port_ok && host_ok
}

/// A path component: lower-case alphanumerics joined by `.`, `_`, `__` or runs of `-`.
fn is_path_component(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.is_empty() || !is_lower_alnum(bytes[0]) || !is_lower_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if is_lower_alnum(b) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_lower_alnum(bytes[i]) {
            i += 1;
        }
        let separator = &s[start..i];
        let valid = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !valid {
            return false;
        }
    }
    true
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// The Airflow version of a legacy tag: `0.10.3-1.10.5`, `master-1.10.5`, or with a
/// pre-release platform version, `0.9.0-alpha.2-1.10.2` (without `-onbuild`).
fn legacy_tag(base: &str) -> Option<&str> {
    let airflow = match base.strip_prefix("master-") {
        Some(airflow) => airflow,
        None => {
            let (astronomer, airflow) = base.rsplit_once('-')?;
            let length = scan::dotted_version(astronomer)?;
            if astronomer[..length].bytes().filter(|b| *b == b'.').count() != 2 {
                return None;
            }
            // `-alpha.2`, `-rc1`: SemVer pre-release identifiers, which hold a letter
            let pre_release = &astronomer[length..];
            let plain = pre_release.is_empty()
                || pre_release.strip_prefix('-').is_some_and(|pre| {
                    pre.bytes().any(|b| b.is_ascii_alphabetic())
                        && pre
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                });
            if !plain {
                return None;
            }
            airflow
        }
    };
    (scan::dotted_version(airflow)? == airflow.len()).then_some(airflow)
}

/// A distribution suffix: `alpine3.10`, `buster`, `python3.7`.
fn is_distribution(word: &str) -> bool {
    let letters = word.bytes().take_while(u8::is_ascii_lowercase).count();
    letters > 0
        && word[letters..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.')
}

/// `AIRFLOW[-BUILD][-DISTRIBUTION]` (without `-onbuild`): the version, the build number when
/// there is one, and the distribution.
fn versioned_tag(base: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let length = scan::dotted_version(base)?;
    let airflow = &base[..length];
    let Some(rest) = base[length..].strip_prefix('-') else {
        return base[length..].is_empty().then_some((airflow, None, None));
    };
    let build = scan::digits(rest);
    let (build, distribution) = match rest[build..].strip_prefix('-') {
        Some(distribution) if build > 0 => (Some(&rest[..build]), distribution),
        _ if build > 0 && build == rest.len() => return Some((airflow, Some(rest), None)),
        _ => (None, rest),
    };
    is_distribution(distribution).then_some((airflow, build, Some(distribution)))
}

/// Reads the Astronomer Certified tag grammar when `repository` is an `ap-airflow` image and an
/// Airflow version can be read from `tag`. Acceptability of the form is the rules' business.
pub fn certified(repository: &str, tag: Option<&str>) -> Option<Certified> {
    let last = repository.rsplit('/').next().unwrap_or(repository);
    if !last.ends_with("ap-airflow") {
        return None;
    }
    let tag = tag?;
    let (base, onbuild) = match tag.strip_suffix("-onbuild") {
        Some(base) => (base, true),
        None => (tag, tag == "onbuild"),
    };
    if let Some(airflow) = legacy_tag(base) {
        return Some(Certified {
            airflow_version: airflow.to_owned(),
            build_number: None,
            distribution: None,
            onbuild,
            form: CertifiedForm::Legacy,
        });
    }
    let (airflow, build, distribution) = versioned_tag(base)?;
    Some(Certified {
        airflow_version: airflow.to_owned(),
        build_number: build.and_then(|b| b.parse().ok()),
        distribution: distribution.map(str::to_owned),
        onbuild,
        form: if build.is_some() {
            CertifiedForm::Pinned
        } else {
            CertifiedForm::Floating
        },
    })
}

fn image_from(reference: &str, parsed: ImageReference, at: At) -> Image {
    let certified = certified(&parsed.repository, parsed.tag.as_deref());
    Image {
        reference: reference.to_owned(),
        registry: parsed.registry,
        repository: parsed.repository,
        tag: parsed.tag,
        digest: parsed.digest,
        certified,
        base: None,
        at,
    }
}

/// Reads `text`, whose first line is line `first_line` of the source `name`; `command` is the
/// command line that printed it, when the paste showed one.
pub fn read(name: &str, text: &str, first_line: u32, command: Option<&str>) -> Facts {
    Scan::run(name, text, first_line, command).facts
}

/// How strongly `text` looks like this reader's input, 0 (not at all) to 100 (certainly).
pub fn sniff(text: &str) -> u32 {
    // The head of a paste tells what it is; a 10,000-row table need not be scanned twice.
    let head = text
        .match_indices('\n')
        .nth(SNIFF_LINES)
        .map_or(text, |(end, _)| &text[..end]);
    let scan = Scan::run("", head, 1, None);
    let mut image_lines: Vec<u32> = scan.facts.images.iter().filter_map(|i| i.at.line).collect();
    image_lines.dedup();
    if image_lines.is_empty() || scan.content_lines == 0 {
        return 0;
    }
    let share = (image_lines.len() as u32 * 100 / scan.content_lines).min(100);
    // Prose around a certified Airflow reference (a README list, a review thread) does not make
    // it less of one.
    let certified = scan.facts.images.iter().any(|i| i.certified.is_some());
    if scan.strong {
        share.clamp(70, 95)
    } else if certified {
        (share * 4 / 5).max(60)
    } else {
        share * 4 / 5
    }
}

/// How many lines [`sniff`] looks at.
const SNIFF_LINES: usize = 200;

/// A table whose columns name images: `kubectl get deploy -o wide` (IMAGES) or `docker images`.
#[derive(Debug, Clone, Copy)]
enum ImageTable {
    /// Index of the IMAGES word among the header's words.
    ImagesColumn(usize),
    DockerImages,
}

/// Where a candidate came from: a place that must hold an image (a `FROM` argument), whose
/// failure to parse is worth a diagnostic, or a guess from a list line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Expected,
    Guessed,
    /// The argument of a Dockerfile `FROM`: expected, and a base image.
    From,
}

struct Scan<'n> {
    name: &'n str,
    facts: Facts,
    /// Non-empty lines that are not command lines.
    content_lines: u32,
    /// A line only an image listing has (`FROM`, `Image:`, an IMAGES header) was seen.
    strong: bool,
    stages: Vec<String>,
    table: Option<ImageTable>,
    /// The image of the last `docker pull`, whose output repeats it on a line of its own.
    pulled: Option<String>,
    /// A Helm values `repository:` waiting for its `tag:` (indentation, value, line).
    repository: Option<(usize, String, u32)>,
    /// A `registry:` key (Bitnami charts) beside the coming `repository:` (indentation, host).
    registry: Option<(usize, String)>,
    /// The Dockerfile the last command printed (`cat infrared-photon-7780/Dockerfile`).
    dockerfile: Option<String>,
    /// The Dockerfile a `grep -H` line names before its `FROM` (`x/Dockerfile:FROM …`).
    line_dockerfile: Option<String>,
    /// The image the last command inspected (`docker inspect REF`).
    inspected: Option<String>,
    /// The last image reference read, which labels after it describe when no command says.
    last_reference: Option<String>,
    /// Astronomer Certified labels waiting for the end of their image's output.
    labels: Labels,
    /// The last line was a Dockerfile `LABEL` continued on the next (`\`).
    continues_label: bool,
}

/// The first `FROM` instruction of `content` (at its start, or after a space or one of
/// `` `:|(+ ``): where it starts (the byte before `FROM` when there is one) and its arguments.
fn from_instruction(content: &str) -> Option<(usize, &str)> {
    let bytes = content.as_bytes();
    content.match_indices("FROM").find_map(|(at, _)| {
        let starts = at == 0 || matches!(bytes[at - 1], b'`' | b':' | b'|' | b'(' | b'+');
        if !(starts || scan::is_space(bytes[at - 1])) {
            return None;
        }
        let after = &content[at + 4..];
        let space = after.bytes().take_while(|b| scan::is_space(*b)).count();
        if space == 0 {
            return None;
        }
        // the arguments start after the spaces, or on the last of them that is not a line
        // break when nothing follows
        let start = if space < after.len() {
            space
        } else {
            (1..space).rev().find(|i| after.as_bytes()[*i] != b'\n')?
        };
        let arguments = &after[start..];
        let arguments = arguments.split('\n').next().unwrap_or(arguments);
        Some((at.saturating_sub(1), arguments))
    })
}
/// The keys of Helm values that name an image, and the value of such a line:
/// `  repository: quay.io/astronomer/ap-airflow`, `tag: "1.10.12-1"`.
fn values_key(line: &str) -> Option<(&str, &str)> {
    const KEYS: [&str; 5] = [
        "registry",
        "repository",
        "defaultAirflowRepository",
        "tag",
        "defaultAirflowTag",
    ];
    let line = trim_start_spaces(line);
    let (key, rest) = line.split_once(':')?;
    if !KEYS.contains(&key) {
        return None;
    }
    let rest = trim_start_spaces(rest);
    let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
    let length = rest
        .bytes()
        .take_while(|b| !scan::is_space(*b) && *b != b'"' && *b != b'\'')
        .count();
    let (value, tail) = rest.split_at(length);
    let tail = tail.strip_prefix(['"', '\'']).unwrap_or(tail);
    (length > 0 && tail.bytes().all(scan::is_space)).then_some((key, value))
}

/// `text` without leading [`scan::is_space`] bytes.
fn trim_start_spaces(text: &str) -> &str {
    text.trim_start_matches(|c: char| c.is_ascii() && scan::is_space(c as u8))
}

/// Lines of logs and events that repeat an image already read from its own line.
const REPEATS_AN_IMAGE: [&str; 9] = [
    "image \"",
    "load metadata for",
    "=> resolve",
    "Status: ",
    "Error response from daemon",
    "Successfully tagged",
    "Pulling from",
    "Digest: ",
    "Image ID:",
];
/// The value of an `image:` field: YAML (`- image: x`), JSON (`"image": "x",`) or
/// `kubectl describe` (`Image: x`).
fn image_field(line: &str) -> Option<&str> {
    let mut line = trim_start_spaces(line);
    if let Some(item) = line.strip_prefix('-') {
        if item.bytes().next().is_some_and(scan::is_space) {
            line = trim_start_spaces(item);
        }
    }
    let line = line.strip_prefix('"').unwrap_or(line);
    let rest = line
        .strip_prefix("Image")
        .or_else(|| line.strip_prefix("image"))?;
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let rest = trim_start_spaces(rest.strip_prefix(':')?);
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let length = rest
        .bytes()
        .take_while(|b| !scan::is_space(*b) && *b != b'"' && *b != b',')
        .count();
    let (value, tail) = rest.split_at(length);
    let tail = tail.strip_prefix('"').unwrap_or(tail);
    let tail = tail.strip_prefix(',').unwrap_or(tail);
    (length > 0 && tail.bytes().all(scan::is_space)).then_some(value)
}

impl<'n> Scan<'n> {
    /// `command` printed `text`; the line before `first_line` is taken to be that command's.
    fn run(name: &'n str, text: &str, first_line: u32, command: Option<&str>) -> Scan<'n> {
        let mut scan = Scan {
            name,
            facts: Facts::default(),
            content_lines: 0,
            strong: false,
            stages: Vec::new(),
            table: None,
            pulled: None,
            repository: None,
            registry: None,
            dockerfile: None,
            line_dockerfile: None,
            inspected: None,
            last_reference: None,
            labels: Labels::default(),
            continues_label: false,
        };
        if let Some(command) = command {
            match first_line.checked_sub(1).filter(|line| *line > 0) {
                Some(command_line) => scan.command(command, command_line),
                None => scan.pulled = pulled_by(command).map(str::to_owned),
            }
        }
        let diff = looks_like_diff(text);
        for line in text::lines(text, first_line) {
            let number = line.number;
            let mut content: &str = &line.text;
            if diff {
                match content.as_bytes().first() {
                    Some(b'-') if !content.starts_with("---") => {
                        scan.note_removed(&content[1..], number);
                        continue;
                    }
                    Some(b'+') if !content.starts_with("+++") => content = &content[1..],
                    Some(b' ') => content = &content[1..],
                    Some(b'@' | b'+' | b'-') => continue,
                    _ => {}
                }
            }
            scan.line(content, number);
        }
        scan.flush_labels();
        scan
    }

    fn line(&mut self, content: &str, number: u32) {
        if content.trim().is_empty() {
            self.table = None;
            return;
        }
        if let Some(command) = text::command_of(content) {
            self.table = None;
            self.command(command, number);
            return;
        }
        self.content_lines += 1;
        // A Dockerfile's own `LABEL`s describe the image it builds, not its base.
        let trimmed = content.trim_start().trim_start_matches('+').trim_start();
        let label_instruction = self.continues_label
            || trimmed
                .get(..6)
                .is_some_and(|word| word.eq_ignore_ascii_case("LABEL "));
        self.continues_label = label_instruction && content.trim_end().ends_with('\\');
        if !label_instruction && self.labels.read_line(content, number) {
            self.strong = true;
            return;
        }
        if self.values_pair(content, number) {
            return;
        }
        let mut found = Vec::new();
        if let Some(row) = content.trim().strip_prefix('|') {
            for cell in row.split('|') {
                self.segment(cell.trim(), &mut found);
            }
        } else {
            self.segment(content, &mut found);
        }
        let mut seen: Vec<&str> = Vec::new();
        for (token, origin) in &found {
            if seen.contains(&token.as_str()) {
                continue;
            }
            seen.push(token);
            self.take(token, *origin, number);
        }
    }

    /// A `docker pull|push REF` command line names an image; other commands name none.
    fn command(&mut self, command: &str, number: u32) {
        self.flush_labels();
        self.dockerfile = image_labels::dockerfile_of(command).map(str::to_owned);
        self.inspected = image_labels::inspected_by(command).map(str::to_owned);
        self.pulled = pulled_by(command).map(str::to_owned);
        if let Some(reference) = self.pulled.clone() {
            self.take(&reference, Origin::Expected, number);
        }
    }

    /// Finds candidates in one line, or one cell of a markdown table row.
    fn segment(&mut self, content: &str, found: &mut Vec<(String, Origin)>) {
        let words: Vec<&str> = content.split_whitespace().collect();
        if words.is_empty() || words.iter().all(|w| w.chars().all(|c| "-:".contains(c))) {
            return;
        }
        // `docker ps`: the header's `CONTAINER ID` is two words, the row's id one.
        if words.starts_with(&["CONTAINER", "ID", "IMAGE"]) {
            self.table = Some(ImageTable::ImagesColumn(1));
            self.strong = true;
            return;
        }
        if matches!(words.as_slice(), ["REPOSITORY" | "IMAGE", "TAG", ..]) {
            self.table = Some(ImageTable::DockerImages);
            self.strong = true;
            return;
        }
        // `-o wide` (IMAGES) and custom columns (`POD:.metadata.name,IMAGE:.spec…image`).
        let header = words.len() >= 2
            && words.iter().all(|w| {
                w.bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
            });
        if header {
            if let Some(index) = words.iter().position(|w| *w == "IMAGES" || *w == "IMAGE") {
                self.table = Some(ImageTable::ImagesColumn(index));
                self.strong = true;
                return;
            }
        }
        match self.table {
            Some(ImageTable::ImagesColumn(index)) if words.len() > index => {
                for reference in words[index].split(',').filter(|r| !r.is_empty()) {
                    found.push((reference.to_owned(), Origin::Expected));
                }
                return;
            }
            Some(ImageTable::DockerImages) if words.len() >= 2 => {
                if words[0] != "<none>" {
                    let reference = if words[1] == "<none>" {
                        words[0].to_owned()
                    } else {
                        format!("{}:{}", words[0], words[1])
                    };
                    found.push((reference, Origin::Expected));
                }
                return;
            }
            Some(_) => self.table = None,
            None => {}
        }
        if let Some((start, arguments)) = from_instruction(content) {
            let before = content[..start].trim();
            let dockerfile_line = before.is_empty() || before.starts_with("Step ");
            self.line_dockerfile = before
                .strip_suffix(':')
                .filter(|path| path.ends_with("Dockerfile") && !path.contains(' '))
                .map(str::to_owned);
            self.base_image(arguments, dockerfile_line, found);
            return;
        }
        if let Some(reference) = image_field(content) {
            self.strong = true;
            found.push((reference.to_owned(), Origin::Expected));
            return;
        }
        let listed: Vec<&str> = words
            .iter()
            .map(|w| strip_quoting(w))
            .filter(|w| !is_runtime_id(w))
            .collect();
        let listed = match listed.as_slice() {
            [bullet, rest @ ..] if matches!(*bullet, "-" | "*" | "+") || is_ordinal(bullet) => rest,
            all => all,
        };
        if !listed.is_empty()
            && listed
                .iter()
                .all(|w| names_more_than_a_word(w) && parse_reference(w).is_some())
        {
            for reference in listed {
                if self
                    .pulled
                    .as_deref()
                    .is_some_and(|p| same_image(p, reference))
                {
                    continue;
                }
                found.push(((*reference).to_owned(), Origin::Guessed));
            }
            return;
        }
        let before = found.len();
        for span in content.split('`').skip(1).step_by(2) {
            let span = span.trim();
            if let Some(parsed) = parse_reference(span) {
                // `name:1.19` in inline code is an image; `localhost:8080` is not
                let versioned_tag = parsed.tag.as_deref().is_some_and(|t| {
                    t.bytes().any(|b| b.is_ascii_digit()) && !t.bytes().all(|b| b.is_ascii_digit())
                });
                let pinned = parsed.tag.is_some() || parsed.digest.is_some();
                if (span.contains('/') && pinned) || versioned_tag {
                    found.push((span.to_owned(), Origin::Guessed));
                }
            }
        }
        if found.len() > before || REPEATS_AN_IMAGE.iter().any(|m| content.contains(m)) {
            return;
        }
        if let Some(references) = listed_references(content) {
            found.extend(references.into_iter().map(|r| (r, Origin::Guessed)));
            return;
        }
        for word in content.split_whitespace().flat_map(arrow_parts) {
            if word.starts_with(['"', '\'']) {
                continue;
            }
            let word = word
                .trim_start_matches('(')
                .trim_end_matches(['.', ',', ';', ':', ')', '!', '?']);
            if is_unmistakable(word) {
                found.push((word.to_owned(), Origin::Guessed));
            }
        }
    }

    /// Helm values name an image in two keys: `repository: X` and then `tag: Y` beside it.
    fn values_pair(&mut self, content: &str, number: u32) -> bool {
        let indent = content.len() - content.trim_start().len();
        if let Some((key, value)) = values_key(content) {
            let value = value.to_owned();
            if key == "registry" {
                self.registry = Some((indent, value));
                return true;
            }
            if key.ends_with("epository") {
                let value = match self.registry.take() {
                    Some((registry_indent, registry)) if registry_indent == indent => {
                        format!("{registry}/{value}")
                    }
                    _ => value,
                };
                self.repository = Some((indent, value, number));
                return true;
            }
            if let Some((_, repository, line)) = self.repository.take() {
                // A repository and its tag side by side: only image settings look like that.
                self.strong = true;
                self.take(&format!("{repository}:{value}"), Origin::Guessed, line);
                return true;
            }
            return false;
        }
        if self
            .repository
            .as_ref()
            .is_some_and(|(i, _, _)| indent < *i)
        {
            self.repository = None;
        }
        false
    }

    /// `FROM [--platform=…] REF [AS name]`: later `FROM name` refers to the stage, not an image.
    /// Inside prose (`` `FROM …` `` in a sentence) the argument must look like more than a word.
    fn base_image(
        &mut self,
        arguments: &str,
        dockerfile_line: bool,
        found: &mut Vec<(String, Origin)>,
    ) {
        let mut words = arguments
            .split_whitespace()
            .map(strip_quoting)
            .skip_while(|w| w.starts_with("--"));
        let Some(reference) = words.next() else {
            return;
        };
        if let (Some(as_word), Some(stage)) = (words.next(), words.next()) {
            if as_word.eq_ignore_ascii_case("as") {
                self.stages.push(stage.to_ascii_lowercase());
            }
        }
        let is_stage = self
            .stages
            .iter()
            .any(|s| s.eq_ignore_ascii_case(reference));
        if is_stage
            || reference == "scratch"
            || !(dockerfile_line || names_more_than_a_word(reference))
        {
            return;
        }
        self.strong = true;
        found.push((reference.to_owned(), Origin::From));
    }

    fn take(&mut self, reference: &str, origin: Origin, number: u32) {
        let reference = strip_quoting(reference);
        if is_runtime_id(reference) || is_file_position(reference) {
            return;
        }
        match parse_reference(reference) {
            Some(parsed) => {
                let mut image = image_from(reference, parsed, At::new(self.name, number));
                if origin == Origin::From {
                    image.base = Some(BaseImage {
                        shown_by: BaseShownBy::From,
                        of: self
                            .line_dockerfile
                            .clone()
                            .or_else(|| self.dockerfile.clone()),
                    });
                }
                self.last_reference = Some(reference.to_owned());
                self.facts.images.push(image);
            }
            None if origin != Origin::Guessed => {
                let why = if reference.contains('$') {
                    "a build argument the paste does not resolve"
                } else {
                    "not a valid image reference"
                };
                self.diagnostic(number, Severity::Warning, format!("`{reference}` is {why}"));
            }
            None => {}
        }
    }

    /// The labels read since the last command, as the image they describe: the inspected one,
    /// else the last one named before them.
    fn flush_labels(&mut self) {
        let labels = std::mem::take(&mut self.labels);
        if labels.is_empty() {
            return;
        }
        let described = self
            .inspected
            .clone()
            .or_else(|| self.last_reference.clone());
        let parsed = described
            .as_deref()
            .and_then(|reference| Some((reference, parse_reference(reference)?)));
        match (parsed, labels.certified()) {
            (Some((reference, parsed)), Some(certified)) => {
                let mut image = image_from(reference, parsed, At::new(self.name, labels.line));
                image.certified = Some(certified);
                image.base = Some(BaseImage {
                    shown_by: BaseShownBy::Labels,
                    of: Some(reference.to_owned()),
                });
                self.facts.images.push(image);
            }
            (None, _) => self.diagnostic(
                labels.line,
                Severity::Warning,
                "Astronomer Certified labels without the image they describe: paste them with the `docker inspect IMAGE` command line".into(),
            ),
            (Some(_), None) => self.diagnostic(
                labels.line,
                Severity::Warning,
                "cannot read an Airflow version from the io.astronomer.docker labels".into(),
            ),
        }
    }

    fn note_removed(&mut self, removed: &str, number: u32) {
        let mut probe = Scan::run(self.name, removed, number, None);
        for image in probe.facts.images.drain(..) {
            self.diagnostic(
                number,
                Severity::Info,
                format!(
                    "`{}` is on a removed (`-`) diff line; only the `+` side and unchanged lines are read",
                    image.reference
                ),
            );
        }
    }

    fn diagnostic(&mut self, line: u32, severity: Severity, message: String) {
        self.facts.diagnose(self.name, line, severity, message);
    }
}

/// The image a `docker pull|push REF` command names.
fn pulled_by(command: &str) -> Option<&str> {
    let mut words = text::command_words(command)
        .into_iter()
        .filter(|w| *w != "sudo");
    let tool = words.next()?;
    let verb = words.next()?;
    let pulls = matches!(tool, "docker" | "podman") && matches!(verb, "pull" | "push");
    pulls.then(|| words.find(|w| !w.starts_with('-'))).flatten()
}

/// A unified diff: hunk or file headers, or lines of both `+` and `-` sides.
fn looks_like_diff(text: &str) -> bool {
    let mut plus = false;
    let mut minus = false;
    for line in text::lines(text, 1) {
        let line = line.text;
        if line.starts_with("@@ ") || line.starts_with("+++ ") || line.starts_with("diff --git") {
            return true;
        }
        plus |= line.starts_with('+');
        minus |= line.starts_with('-') && !line.starts_with("- ") && !line.starts_with("---");
    }
    plus && minus
}

/// The parts of a word of prose around arrows people write between an old and a new image
/// (`a:1->b:2`, `a:1=>b:2`, `a:1→b:2`, `a:1-->b:2`).
fn arrow_parts(word: &str) -> impl Iterator<Item = &str> {
    word.split(['→', '⇒'])
        .flat_map(|part| part.split("->"))
        .flat_map(|part| part.split("=>"))
        .map(|part| part.trim_matches(['-', '=', '>']))
        .filter(|part| !part.is_empty())
}

fn strip_quoting(word: &str) -> &str {
    word.trim_matches(|c| matches!(c, '"' | '\'' | '`' | ','))
}

/// Runtime image ids printed beside references (`docker-pullable://…@sha256:…`, `sha256:…`).
fn is_runtime_id(word: &str) -> bool {
    word.contains("://") || (word.starts_with("sha256:") && !word.contains('/'))
}

/// `software/upgrade-to-0-28.md:40`, `README.md:27`: a file and line (review threads name them),
/// not a repository and tag.
fn is_file_position(word: &str) -> bool {
    const FILE_EXTENSIONS: [&str; 12] = [
        ".md", ".yaml", ".yml", ".json", ".py", ".go", ".rs", ".js", ".ts", ".sh", ".txt", ".tpl",
    ];
    word.rsplit_once(':').is_some_and(|(path, line)| {
        !line.is_empty()
            && line.bytes().all(|b| b.is_ascii_digit())
            && FILE_EXTENSIONS.iter().any(|ext| path.ends_with(ext))
    })
}

fn is_ordinal(word: &str) -> bool {
    word.strip_suffix('.')
        .or_else(|| word.strip_suffix(')'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A bare word (`nginx`, `2.3.0-5`) could be anything; a list entry must name a path, tag or digest.
fn names_more_than_a_word(word: &str) -> bool {
    // READY cells (`1/1`) and dates parse as references too; image names have letters.
    let name = word.split([':', '@']).next().unwrap_or(word);
    if !name.bytes().any(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    word.contains(['/', '@'])
        || word
            .split_once(':')
            .is_some_and(|(name, _)| name.bytes().any(|b| b.is_ascii_lowercase()))
}

/// A list item made only of image references with version tags, joined by arrows or commas
/// (`1. ap-airflow:2.2.5 -> ap-airflow:2.3.0`): an upgrade plan written as a list.
fn listed_references(content: &str) -> Option<Vec<String>> {
    let mut words = content.split_whitespace();
    let marker = words.next()?;
    let numbered = marker.len() > 1
        && marker.ends_with(['.', ')'])
        && marker[..marker.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_digit());
    if !(numbered || matches!(marker, "-" | "*" | "+")) {
        return None;
    }
    let mut references = Vec::new();
    for word in words {
        if matches!(word, "->" | "→" | "=>" | "," | "to" | "and") {
            continue;
        }
        let word = word.trim_end_matches([',', ';']);
        let parsed = parse_reference(word)?;
        let versioned = parsed.tag.as_deref().is_some_and(|t| {
            t.bytes().any(|b| b.is_ascii_digit()) && !t.bytes().all(|b| b.is_ascii_digit())
        });
        if !versioned {
            return None;
        }
        references.push(word.to_owned());
    }
    (!references.is_empty()).then_some(references)
}

/// A word of prose that can only be an image: it names a registry host or an `ap-airflow`
/// repository, and a tag or digest.
fn is_unmistakable(word: &str) -> bool {
    let Some(parsed) = parse_reference(word) else {
        return false;
    };
    let pinned = parsed.tag.is_some() || parsed.digest.is_some();
    let host = parsed
        .registry
        .as_deref()
        .is_some_and(|r| r.contains(['.', ':']) && !is_placeholder(r));
    let airflow = parsed.repository.contains('/') && parsed.repository.ends_with("ap-airflow");
    pinned && (host || airflow)
}

/// `docker pull nginx` ends by printing `docker.io/library/nginx:latest`.
fn same_image(pulled: &str, printed: &str) -> bool {
    let printed = printed.strip_prefix("docker.io/").unwrap_or(printed);
    let printed = printed.strip_prefix("library/").unwrap_or(printed);
    printed == pulled || printed.strip_suffix(":latest") == Some(pulled)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parts = (Option<String>, String, Option<String>, Option<String>);

    fn parts(reference: &str) -> Option<Parts> {
        parse_reference(reference).map(|r| (r.registry, r.repository, r.tag, r.digest))
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn splits_references_by_the_distribution_grammar() {
        assert_eq!(
            parts("astronomerinc/ap-airflow"),
            Some((None, "astronomerinc/ap-airflow".into(), None, None))
        );
        assert_eq!(
            parts("quay.io/astronomer/ap-airflow:1.10.12-buster"),
            Some((
                s("quay.io"),
                "astronomer/ap-airflow".into(),
                s("1.10.12-buster"),
                None
            ))
        );
        assert_eq!(
            parts("localhost:5000/ap-airflow:2.3.4-7"),
            Some((s("localhost:5000"), "ap-airflow".into(), s("2.3.4-7"), None))
        );
        assert_eq!(
            parts("localhost/ap-airflow"),
            Some((s("localhost"), "ap-airflow".into(), None, None))
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            parts(&format!(
                "registry.example.com:443/a/b/ap-airflow:1.10.5-9@{digest}"
            )),
            Some((
                s("registry.example.com:443"),
                "a/b/ap-airflow".into(),
                s("1.10.5-9"),
                Some(digest.clone())
            ))
        );
        assert_eq!(
            parts("<your-registry>/ap-airflow:<image-tag>"),
            Some((
                s("<your-registry>"),
                "ap-airflow".into(),
                s("<image-tag>"),
                None
            ))
        );
        for bad in [
            "",
            "ap-Airflow",
            "quay.io/Astronomer/ap-airflow",
            "a//b",
            "a:",
            "a:-x",
            "repo@sha256:abc",
            "https://github.com/astronomer/ap-airflow",
            "N/A",
            "a/b:c:d",
            "host:port/x",
            "-x/y",
        ] {
            assert_eq!(parts(bad), None, "{bad}");
        }
    }

    type CertifiedParts = (String, Option<u32>, Option<String>, bool, CertifiedForm);

    fn cert(repository: &str, tag: &str) -> Option<CertifiedParts> {
        certified(repository, Some(tag)).map(|c| {
            (
                c.airflow_version,
                c.build_number,
                c.distribution,
                c.onbuild,
                c.form,
            )
        })
    }

    #[test]
    fn reads_every_certified_tag_form() {
        use CertifiedForm::*;
        let ap = "quay.io/astronomer/ap-airflow";
        let cases = [
            (
                "1.10.12-1-alpine3.10-onbuild",
                ("1.10.12", Some(1), s("alpine3.10"), true, Pinned),
            ),
            ("2.3.0-5-onbuild", ("2.3.0", Some(5), None, true, Pinned)),
            ("2.3.4-7", ("2.3.4", Some(7), None, false, Pinned)),
            (
                "1.10.5-9-buster",
                ("1.10.5", Some(9), s("buster"), false, Pinned),
            ),
            (
                "2.2.5-1-bullseye",
                ("2.2.5", Some(1), s("bullseye"), false, Pinned),
            ),
            (
                "1.10.12-buster",
                ("1.10.12", None, s("buster"), false, Floating),
            ),
            (
                "1.10.10-alpine3.10-onbuild",
                ("1.10.10", None, s("alpine3.10"), true, Floating),
            ),
            ("2.2.1-onbuild", ("2.2.1", None, None, true, Floating)),
            ("2.2.1", ("2.2.1", None, None, false, Floating)),
            (
                "1.10.7-rhel7",
                ("1.10.7", None, s("rhel7"), false, Floating),
            ),
            (
                "0.10.3-1.10.5-onbuild",
                ("1.10.5", None, None, true, Legacy),
            ),
            (
                "master-1.10.3-onbuild",
                ("1.10.3", None, None, true, Legacy),
            ),
            ("0.10.3-1.10.5", ("1.10.5", None, None, false, Legacy)),
            // a pre-release platform version before the Airflow version
            (
                "0.9.0-alpha.2-1.10.2",
                ("1.10.2", None, None, false, Legacy),
            ),
            (
                "0.10.0-rc1-1.10.3-onbuild",
                ("1.10.3", None, None, true, Legacy),
            ),
        ];
        for (tag, (airflow, build, distro, onbuild, form)) in cases {
            assert_eq!(
                cert(ap, tag),
                Some((airflow.to_owned(), build, distro, onbuild, form)),
                "{tag}"
            );
        }
        for tag in [
            "latest",
            "latest-onbuild",
            "onbuild",
            "<image-tag>",
            "deploy-3",
            "buster",
        ] {
            assert_eq!(cert(ap, tag), None, "{tag}");
        }
        assert_eq!(certified(ap, None), None);
        assert!(cert("astronomerinc/ap-airflow", "1.10.5-9-buster").is_some());
        assert!(cert(
            "mirror.corp:5000/platform/astro/ap-airflow",
            "1.10.5-9-buster"
        )
        .is_some());
        assert!(cert("custom-ap-airflow", "1.10.12-buster").is_some());
        assert_eq!(
            cert("registry.astro.example.com/bolide-9914/airflow", "deploy-3"),
            None
        );
        assert_eq!(cert("astronomerinc/ap-airflow-dev", "2.2.0-1-buster"), None);
        assert_eq!(cert("apache/airflow", "2.2.0"), None);
    }

    fn references(text: &str) -> Vec<(String, Option<u32>)> {
        read("t.txt", text, 1, None)
            .images
            .into_iter()
            .map(|i| (i.reference, i.at.line))
            .collect()
    }

    fn r(reference: &str, line: u32) -> (String, Option<u32>) {
        (reference.to_owned(), Some(line))
    }

    #[test]
    fn reads_dockerfile_from_lines_and_skips_stages() {
        let text =
            "FROM --platform=linux/amd64 quay.io/astronomer/ap-airflow:2.3.0-5-onbuild AS base\n\
                    RUN pip install x\n\
                    FROM base\n\
                    FROM scratch\n\
                    FROM python:3.9-slim as builder\n\
                    COPY --from=builder /a /b\n";
        assert_eq!(
            references(text),
            vec![
                r("quay.io/astronomer/ap-airflow:2.3.0-5-onbuild", 1),
                r("python:3.9-slim", 5)
            ]
        );
    }

    #[test]
    fn warns_on_unresolved_build_arguments() {
        let facts = read(
            "Dockerfile",
            "ARG TAG\nFROM quay.io/astronomer/ap-airflow:${TAG}\n",
            3,
            None,
        );
        assert!(facts.images.is_empty());
        assert_eq!(facts.diagnostics.len(), 1);
        assert_eq!(facts.diagnostics[0].line, Some(4));
        assert!(facts.diagnostics[0].message.contains("build argument"));
    }

    #[test]
    fn reads_jsonpath_output_and_dedupes_within_a_line_only() {
        let text = "quay.io/astronomer/ap-airflow:1.10.5-9-buster redis:5 quay.io/astronomer/ap-airflow:1.10.5-9-buster\n\
                    redis:5\n";
        assert_eq!(
            references(text),
            vec![
                r("quay.io/astronomer/ap-airflow:1.10.5-9-buster", 1),
                r("redis:5", 1),
                r("redis:5", 2)
            ]
        );
    }

    #[test]
    fn reads_the_images_column_of_wide_deployments() {
        let text = "NAME                READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS         IMAGES                                                             SELECTOR\n\
                    bolide-scheduler    1/1     1            1           3d    scheduler,gitsync  registry.example.com/bolide/airflow:deploy-3,k8s.gcr.io/git-sync:v3   component=scheduler\n";
        assert_eq!(
            references(text),
            vec![
                r("registry.example.com/bolide/airflow:deploy-3", 2),
                r("k8s.gcr.io/git-sync:v3", 2)
            ]
        );
    }

    #[test]
    fn reads_custom_columns_docker_ps_and_crictl_images() {
        let text = "POD                  IMAGE\nbolide-scheduler-0   quay.io/astronomer/ap-airflow:2.3.4-7,redis:6\n\n\
                    CONTAINER ID   IMAGE                                  COMMAND                  CREATED\n\
                    4b3c2a1f0e9d   quay.io/astronomer/ap-airflow:2.3.4-7  \"/entrypoint bash\"   2 hours ago\n\n\
                    IMAGE                              TAG       IMAGE ID        SIZE\n\
                    quay.io/astronomer/ap-airflow      2.3.4-7   0a1b2c3d4e5f6   1.2GB\n";
        assert_eq!(
            references(text),
            vec![
                r("quay.io/astronomer/ap-airflow:2.3.4-7", 2),
                r("redis:6", 2),
                r("quay.io/astronomer/ap-airflow:2.3.4-7", 5),
                r("quay.io/astronomer/ap-airflow:2.3.4-7", 8)
            ]
        );
    }

    #[test]
    fn reads_describe_image_lines_but_not_image_ids() {
        let text = "Containers:\n  scheduler:\n    Image:          quay.io/astronomer/ap-airflow:1.10.10-5-alpine3.10-onbuild\n    Image ID:       docker-pullable://quay.io/astronomer/ap-airflow@sha256:0123456789012345678901234567890123456789012345678901234567890123\n";
        assert_eq!(
            references(text),
            vec![r(
                "quay.io/astronomer/ap-airflow:1.10.10-5-alpine3.10-onbuild",
                3
            )]
        );
    }

    #[test]
    fn reads_the_added_side_of_a_diff() {
        let text = "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1 +1 @@\n-FROM astronomerinc/ap-airflow:0.10.3-1.10.5-onbuild\n+FROM quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild\n RUN true\n";
        let facts = read("d.diff", text, 1, None);
        let got: Vec<_> = facts
            .images
            .iter()
            .map(|i| (i.reference.as_str(), i.at.line))
            .collect();
        assert_eq!(
            got,
            vec![(
                "quay.io/astronomer/ap-airflow:1.10.12-1-buster-onbuild",
                Some(5)
            )]
        );
        assert_eq!(facts.diagnostics.len(), 1);
        assert_eq!(facts.diagnostics[0].line, Some(4));
        assert_eq!(facts.diagnostics[0].severity, Severity::Info);
    }

    #[test]
    fn prose_and_bare_words_are_not_images() {
        let text = "| web-1 | 1/1 | Running |\n2/2\nIdentify the latest patch (e.g. `2.3.0-5`).\nnginx\nSuccessfully tagged hello-astro/airflow:latest\nSee https://quay.io/repository/astronomer/ap-airflow?tab=tags\n";
        assert!(references(text).is_empty());
    }

    #[test]
    fn a_list_of_references_is_read() {
        let text = "1. ap-airflow:2.2.5 -> ap-airflow:2.3.0\n- see nginx:1.19 for details\n2. v1.2 -> v1.3\n";
        assert_eq!(
            references(text),
            vec![r("ap-airflow:2.2.5", 1), r("ap-airflow:2.3.0", 1)]
        );
    }

    #[test]
    fn arrows_between_references_in_prose_separate_them() {
        let text = "moved quay.io/astronomer/ap-airflow:1.10.10-5-buster->quay.io/astronomer/ap-airflow:1.10.12-1-buster\n\
                    astronomerinc/ap-airflow:1.10.7-9=>quay.io/astronomer/ap-airflow:1.10.12-1 today\n\
                    astronomerinc/ap-airflow:0.9.0-alpha.2-1.10.2 → quay.io/astronomer/ap-airflow:1.10.12-2\n";
        assert_eq!(
            references(text),
            vec![
                r("quay.io/astronomer/ap-airflow:1.10.10-5-buster", 1),
                r("quay.io/astronomer/ap-airflow:1.10.12-1-buster", 1),
                r("astronomerinc/ap-airflow:1.10.7-9", 2),
                r("quay.io/astronomer/ap-airflow:1.10.12-1", 2),
                r("astronomerinc/ap-airflow:0.9.0-alpha.2-1.10.2", 3),
                r("quay.io/astronomer/ap-airflow:1.10.12-2", 3),
            ]
        );
    }

    #[test]
    fn inline_code_with_a_versioned_tag_is_an_image() {
        let text = "Use `astro-runtime:5.0.4-base` and `nginx:1.19`, not `localhost:8080` or `kube-system:default`.\n";
        assert_eq!(
            references(text),
            vec![r("astro-runtime:5.0.4-base", 1), r("nginx:1.19", 1)]
        );
    }

    #[test]
    fn reads_unmistakable_images_in_prose_but_not_event_repeats() {
        let text = "We run quay.io/astronomer/ap-airflow:2.1.0-buster, upgraded from astronomerinc/ap-airflow:1.10.5-onbuild.\n\
                    Normal  Pulling  2m  kubelet  Pulling image \"quay.io/astronomer/ap-airflow:2.1.0-buster\"\n\
                    The chart is astronomer/astronomer:0.16 on nginx:1.19\n";
        assert_eq!(
            references(text),
            vec![
                r("quay.io/astronomer/ap-airflow:2.1.0-buster", 1),
                r("astronomerinc/ap-airflow:1.10.5-onbuild", 1)
            ]
        );
    }

    #[test]
    fn pairs_helm_values_repository_and_tag() {
        let text = "images:\n  airflow:\n    repository: quay.io/astronomer/ap-airflow\n    tag: \"1.10.12-buster\"\n  statsd:\n    repository: quay.io/astronomer/ap-statsd-exporter\n  other: x\ndefaultAirflowRepository: astronomerinc/ap-airflow\ndefaultAirflowTag: 1.10.5-9-buster\n";
        assert_eq!(
            references(text),
            vec![
                r("quay.io/astronomer/ap-airflow:1.10.12-buster", 3),
                r("astronomerinc/ap-airflow:1.10.5-9-buster", 8)
            ]
        );
    }

    #[test]
    fn reads_docker_inspect_repo_tags_not_image_ids() {
        let text = "[\n    {\n        \"Id\": \"sha256:0123456789012345678901234567890123456789012345678901234567890123\",\n        \"RepoTags\": [\n            \"quay.io/astronomer/ap-airflow:2.0.2-buster-onbuild\"\n        ],\n        \"Image\": \"sha256:0123456789012345678901234567890123456789012345678901234567890123\"\n    }\n]\n";
        let facts = read("inspect.json", text, 1, None);
        let got: Vec<_> = facts
            .images
            .iter()
            .map(|i| (i.reference.as_str(), i.at.line))
            .collect();
        assert_eq!(
            got,
            vec![(
                "quay.io/astronomer/ap-airflow:2.0.2-buster-onbuild",
                Some(5)
            )]
        );
        assert!(facts.diagnostics.is_empty());
    }

    #[test]
    fn reads_buildkit_logs_once() {
        let text =
            "#2 [internal] load metadata for quay.io/astronomer/ap-airflow:2.1.0-buster-onbuild\n\
                    #3 [1/1] FROM quay.io/astronomer/ap-airflow:2.1.0-buster-onbuild\n\
                    \x20=> => resolve quay.io/astronomer/ap-airflow:2.1.0-buster-onbuild 0.0s\n";
        assert_eq!(
            references(text),
            vec![r("quay.io/astronomer/ap-airflow:2.1.0-buster-onbuild", 2)]
        );
    }

    #[test]
    fn reads_docker_pull_once() {
        let text = "$ docker pull quay.io/astronomer/ap-airflow:2.3.4-7\n2.3.4-7: Pulling from astronomer/ap-airflow\nStatus: Downloaded newer image for quay.io/astronomer/ap-airflow:2.3.4-7\nquay.io/astronomer/ap-airflow:2.3.4-7\n";
        assert_eq!(
            references(text),
            vec![r("quay.io/astronomer/ap-airflow:2.3.4-7", 1)]
        );
    }

    #[test]
    fn sniff_prefers_image_lists_over_other_tables() {
        assert!(sniff("FROM quay.io/astronomer/ap-airflow:2.3.4-7\nRUN a\nRUN b\n") >= 70);
        assert!(sniff("quay.io/a/b:1\nquay.io/a/c:2\n") >= 60);
        assert_eq!(sniff("NAME  READY  STATUS\nweb-1  1/1  Running\n"), 0);
        assert!(
            sniff("standard (default)   kubernetes.io/gce-pd   Delete   Immediate   1d\n") < 30
        );
    }
}
