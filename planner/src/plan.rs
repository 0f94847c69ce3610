//! The approvable plan: what will be done, in order, on which cluster, on what evidence.

use serde::{Deserialize, Serialize};

use crate::acks::Acknowledgements;
use crate::report::{Finding, Verdict};

pub const PLAN_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub schema_version: u32,
    /// `astronomer-0.16-to-0.23`
    pub upgrade_path: String,
    /// Given by the caller (the planner has no clock); excluded from the plan digest.
    pub created_at: String,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub acknowledgements: Acknowledgements,
    /// SHA-256 over the canonical JSON of the plan without `created_at` and `plan_digest`.
    pub plan_digest: String,
}
