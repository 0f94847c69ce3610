//! Integration tests of the `astro-upgrade` binary that need no cluster.

mod approval;
mod cli_offline;
mod distribution;
mod examples;
mod inspect;
mod plan_files;
mod preflight;
mod secrets_leak;
mod support;
