//! Versions as `kubectl`, `helm` and image tags print them, read into [`semver::Version`], and
//! the requirements of an upgrade path ([`Requirement`]) checked with [`semver::VersionReq`].
//!
//! One parser serves every check (Kubernetes server and client, the platform chart, Airflow) and
//! the executor's live gates, so a version is judged the same way offline and live.

use std::fmt;

use semver::{BuildMetadata, Comparator, Op, Prerelease, VersionReq};

pub use semver::Version;

/// Reads a version leniently: `v1.18.20`, `1.16` (patch 0), `1.16+` (kubectl's `Minor:"16+"`),
/// `1.18.20-gke.901`, `v1.16.15-eks-ad4801`, `1.17.4+k3s1`, `1.10.10.1`. `None` without at least
/// `MAJOR.MINOR` in digits at the start.
///
/// **Vendor suffixes are build metadata, not pre-releases.** Strict SemVer would read
/// `1.18.20-gke.901` as a pre-release of 1.18.20, which no ordinary requirement matches (and which
/// sorts below 1.18.20): a GKE 1.18 cluster would then fail `< 1.19`. What clouds append after
/// `-` (`-gke.901`, `-eks-ad4801`, `-34+f52f8b1`) names their build of that very release, so it is
/// kept as build metadata, which SemVer ignores when comparing: `1.18.20-gke.901` is 1.18.20 and
/// satisfies `< 1.19`, and `1.19.0-eks-1` is 1.19.0 and does not.
///
/// **A real pre-release stays one.** A suffix whose first identifier is `alpha`, `beta`, `rc`,
/// `pre` or `dev` (optionally followed by digits: `rc.1`, `beta2`, Airflow's glued `2.0.0rc1`) is
/// a pre-release, and by SemVer's rule (as the `semver` crate applies it) a pre-release satisfies
/// no requirement unless one of its comparators names that same `MAJOR.MINOR.PATCH` with a
/// pre-release — which none of the path's requirements do. So `1.19.0-rc.1` fails `< 1.19`
/// (it is a 1.19), and `1.18.0-rc.1` fails too: a release candidate is not a release the
/// procedure was written for.
pub fn parse(text: &str) -> Option<Version> {
    let text = text.trim();
    let text = text
        .strip_prefix(['v', 'V'])
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(text);
    let (major, rest) = number(text)?;
    let (minor, rest) = number(rest.strip_prefix('.')?)?;
    let (patch, rest) = match rest.strip_prefix('.').and_then(number) {
        Some((patch, rest)) => (patch, rest),
        None => (0, rest),
    };
    let (pre, build) = suffix(rest);
    Some(Version {
        major,
        minor,
        patch,
        pre,
        build,
    })
}

/// The leading decimal number of `text` and what follows it.
fn number(text: &str) -> Option<(u64, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let value = text[..digits].parse().ok()?;
    Some((value, &text[digits..]))
}

/// What follows `MAJOR.MINOR[.PATCH]`: a pre-release and build metadata (see [`parse`]).
fn suffix(rest: &str) -> (Prerelease, BuildMetadata) {
    let (body, plus) = match rest.strip_prefix('+') {
        Some(build) => return (Prerelease::EMPTY, build_metadata(build)),
        None => (rest.strip_prefix(['-', '.']).unwrap_or(rest), rest),
    };
    if body.is_empty() {
        return (Prerelease::EMPTY, BuildMetadata::EMPTY);
    }
    let (head, build) = body.split_once('+').unwrap_or((body, ""));
    if is_prerelease_word(head) {
        let pre = Prerelease::new(&identifiers(head))
            .or_else(|_| Prerelease::new("pre"))
            .unwrap_or(Prerelease::EMPTY);
        (pre, build_metadata(build))
    } else {
        // A vendor's build of this release (or a fourth number, `1.10.10.1`): all of it metadata.
        let all = plus.trim_start_matches(['-', '.', '+']);
        (Prerelease::EMPTY, build_metadata(all))
    }
}

/// Whether a suffix's first identifier marks a pre-release: `alpha`, `beta`, `rc`, `pre`, `dev`,
/// optionally followed by digits (`rc1`, `beta.2`).
fn is_prerelease_word(suffix: &str) -> bool {
    let first = suffix.split(['.', '-']).next().unwrap_or("");
    let letters = first.bytes().take_while(u8::is_ascii_alphabetic).count();
    let (word, digits) = first.split_at(letters);
    matches!(
        word.to_ascii_lowercase().as_str(),
        "alpha" | "beta" | "rc" | "pre" | "dev"
    ) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// SemVer identifiers from free text: runs of `[0-9A-Za-z-]` separated by dots, numbers without
/// leading zeros.
fn identifiers(text: &str) -> String {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|part| !part.is_empty())
        .map(|part| {
            if part.bytes().all(|b| b.is_ascii_digit()) {
                let trimmed = part.trim_start_matches('0');
                if trimmed.is_empty() {
                    "0"
                } else {
                    trimmed
                }
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn build_metadata(text: &str) -> BuildMetadata {
    BuildMetadata::new(&identifiers(text)).unwrap_or(BuildMetadata::EMPTY)
}

/// A requirement on a version: SemVer comparators (`>=1.14, <1.19` is
/// `Requirement(&[compare(Op::GreaterEq, 1, 14, None), compare(Op::Less, 1, 19, None)])`),
/// written as data so that an [`crate::path::UpgradePath`] stays a `const` and the page carries
/// no requirement parser; it is checked as a [`VersionReq`] (a test compares each of the path's
/// with `VersionReq::parse` of its SemVer text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement(pub &'static [Comparator]);

/// One comparator of a [`Requirement`]: `compare(Op::Less, 1, 19, None)` is `<1.19`.
pub const fn compare(op: Op, major: u64, minor: u64, patch: Option<u64>) -> Comparator {
    Comparator {
        op,
        major,
        minor: Some(minor),
        patch,
        pre: Prerelease::EMPTY,
    }
}

impl Requirement {
    pub fn version_req(self) -> VersionReq {
        VersionReq {
            comparators: self.0.to_vec(),
        }
    }

    /// Whether `version` satisfies the requirement (see [`parse`] for pre-releases).
    pub fn matches(self, version: &Version) -> bool {
        self.version_req().matches(version)
    }

    /// Whether `version` is below every version the requirement accepts: below the bound of a
    /// `>=`/`>`/`=`/`~`/`^`/wildcard comparator (pre-release and build ignored).
    pub fn is_below(self, version: &Version) -> bool {
        let core = Version::new(version.major, version.minor, version.patch);
        self.0.iter().any(|c| {
            let bound = Version::new(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0));
            match c.op {
                Op::Greater => core <= bound,
                Op::Less | Op::LessEq => false,
                _ => core < bound,
            }
        })
    }
}

/// For messages: `>=1.14, <1.19` reads `1.14 ≤ version < 1.19`, `>=1.16` reads `≥ 1.16`,
/// `=0.16` reads `0.16.x`.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [low, high] if low.op == Op::GreaterEq && high.op == Op::Less => {
                write!(f, "{} ≤ version < {}", bound(low), bound(high))
            }
            comparators => {
                let parts: Vec<String> = comparators.iter().map(describe).collect();
                f.write_str(&parts.join(" and "))
            }
        }
    }
}

/// A comparator's version as written: `1.14`, `1.10.5`.
fn bound(c: &Comparator) -> String {
    let mut text = c.major.to_string();
    if let Some(minor) = c.minor {
        text.push_str(&format!(".{minor}"));
        if let Some(patch) = c.patch {
            text.push_str(&format!(".{patch}"));
        }
    }
    text
}

fn describe(c: &Comparator) -> String {
    let version = bound(c);
    let op = match c.op {
        Op::GreaterEq => "≥ ",
        Op::Greater => "> ",
        Op::Less => "< ",
        Op::LessEq => "≤ ",
        Op::Wildcard | Op::Exact if c.patch.is_none() => return format!("{version}.x"),
        Op::Exact => "= ",
        Op::Tilde => "~",
        _ => "^",
    };
    format!("{op}{version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        parse(text).unwrap_or_else(|| panic!("{text} does not parse"))
    }

    #[test]
    fn what_kubectl_and_helm_print_is_read() {
        assert_eq!(v("v1.18.20"), Version::new(1, 18, 20));
        assert_eq!(v("1.16"), Version::new(1, 16, 0));
        assert_eq!(v("1.16+"), Version::new(1, 16, 0));
        assert_eq!(v("  V1.17.4 "), Version::new(1, 17, 4));
        assert_eq!(v("1.18.20-gke.901").to_string(), "1.18.20+gke.901");
        assert_eq!(v("v1.16.15-eks-ad4801").to_string(), "1.16.15+eks-ad4801");
        assert_eq!(v("1.17.4+k3s1").to_string(), "1.17.4+k3s1");
        assert_eq!(
            v("1.18.9-34+f52f8b1b2d1ca3").to_string(),
            "1.18.9+34.f52f8b1b2d1ca3"
        );
        assert_eq!(v("1.18+.3").to_string(), "1.18.0+3");
        assert_eq!(v("1.10.10.1").to_string(), "1.10.10+1");
        assert_eq!(parse("garbage"), None);
        assert_eq!(parse("1"), None);
        assert_eq!(parse("v"), None);
        assert_eq!(parse("99999999999999999999.1"), None);
    }

    #[test]
    fn vendor_suffixes_are_build_metadata() {
        for text in [
            "1.18.20-gke.901",
            "v1.16.15-eks-ad4801",
            "1.17.4+k3s1",
            "1.18.3+IKS",
        ] {
            let version = v(text);
            assert!(version.pre.is_empty(), "{text}");
            assert!(!version.build.is_empty(), "{text}");
        }
    }

    #[test]
    fn pre_releases_stay_pre_releases() {
        assert_eq!(v("1.19.0-rc.1").pre.as_str(), "rc.1");
        assert_eq!(
            v("v1.20.0-alpha.0.1234+abcdef").pre.as_str(),
            "alpha.0.1234"
        );
        assert_eq!(v("v1.20.0-alpha.0.1234+abcdef").build.as_str(), "abcdef");
        assert_eq!(v("1.18.0-beta2").pre.as_str(), "beta2");
        assert_eq!(v("2.0.0rc1").pre.as_str(), "rc1");
        assert_eq!(v("1.18.0-RC.01").pre.as_str(), "RC.1");
        // A vendor word that merely starts like one is not a pre-release.
        assert!(v("1.18.0-release-2").pre.is_empty());
        assert!(v("1.18.0-devops").pre.is_empty());
    }

    const SUPPORTED: Requirement = Requirement(&[
        compare(Op::GreaterEq, 1, 14, None),
        compare(Op::Less, 1, 19, None),
    ]);

    #[test]
    fn requirements_are_the_version_reqs_of_their_semver_text() {
        assert_eq!(
            SUPPORTED.version_req(),
            VersionReq::parse(">=1.14, <1.19").unwrap()
        );
    }

    #[test]
    fn requirements_match_vendor_builds_and_refuse_pre_releases() {
        let supported = SUPPORTED;
        assert!(supported.matches(&v("1.18.20-gke.901")));
        assert!(supported.matches(&v("1.14")));
        assert!(!supported.matches(&v("1.19.0-eks-1")));
        assert!(!supported.matches(&v("1.13.12")));
        // A 1.19 release candidate is a 1.19; a 1.18 one is not a release.
        assert!(!supported.matches(&v("1.19.0-rc.1")));
        assert!(!supported.matches(&v("1.18.0-rc.1")));
        assert!(supported.is_below(&v("1.13.12")));
        assert!(!supported.is_below(&v("1.19.0")));
        assert!(!supported.is_below(&v("1.16.0")));
    }

    #[test]
    fn requirements_read_as_words() {
        assert_eq!(SUPPORTED.to_string(), "1.14 ≤ version < 1.19");
        let one = |op, patch| Requirement(Box::leak(Box::new([compare(op, 1, 16, patch)])));
        assert_eq!(one(Op::GreaterEq, None).to_string(), "≥ 1.16");
        assert_eq!(one(Op::GreaterEq, Some(5)).to_string(), "≥ 1.16.5");
        assert_eq!(one(Op::Wildcard, None).to_string(), "1.16.x");
        assert_eq!(one(Op::Tilde, Some(2)).to_string(), "~1.16.2");
        assert_eq!(one(Op::Less, None).to_string(), "< 1.16");
    }
}
