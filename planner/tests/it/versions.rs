//! Version requirements as the checks use them: which versions are below a range (told apart
//! from versions above it), and how a requirement reads in a finding.

use planner::version::{compare, parse, Requirement};
use semver::Op;

fn v(text: &str) -> planner::version::Version {
    parse(text).unwrap_or_else(|| panic!("{text} does not parse"))
}

const SUPPORTED: Requirement = Requirement(&[
    compare(Op::GreaterEq, 1, 14, None),
    compare(Op::Less, 1, 19, None),
]);
const ABOVE_1_16_0: Requirement = Requirement(&[compare(Op::Greater, 1, 16, Some(0))]);
const UP_TO_0_23: Requirement = Requirement(&[
    compare(Op::GreaterEq, 0, 16, None),
    compare(Op::LessEq, 0, 23, None),
]);

#[test]
fn the_lowest_version_a_range_accepts_is_not_below_it() {
    assert!(!SUPPORTED.is_below(&v("1.14.0")));
    assert!(!SUPPORTED.is_below(&v("v1.14.0-eks-1")));
    assert!(SUPPORTED.is_below(&v("1.13.12")));
    // `>` excludes its bound: the bound itself is below, the next patch is not.
    assert!(ABOVE_1_16_0.is_below(&v("1.16.0")));
    assert!(ABOVE_1_16_0.is_below(&v("1.15.3")));
    assert!(!ABOVE_1_16_0.is_below(&v("1.16.1")));
    // An upper bound never makes a version "below".
    assert!(!UP_TO_0_23.is_below(&v("0.25.0")));
}

#[test]
fn requirements_read_as_words_in_findings() {
    assert_eq!(SUPPORTED.to_string(), "1.14 ≤ version < 1.19");
    // Only `>=, <` reads as one range; any other pair reads comparator by comparator.
    assert_eq!(UP_TO_0_23.to_string(), "≥ 0.16 and ≤ 0.23");
    assert_eq!(ABOVE_1_16_0.to_string(), "> 1.16.0");
    const EXACT: Requirement = Requirement(&[compare(Op::Exact, 0, 16, Some(9))]);
    const LINE: Requirement = Requirement(&[compare(Op::Exact, 0, 16, None)]);
    assert_eq!(EXACT.to_string(), "= 0.16.9");
    assert_eq!(LINE.to_string(), "0.16.x");
}
