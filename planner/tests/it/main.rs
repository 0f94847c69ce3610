//! The planner's one integration-test binary.

mod bundle;
mod examples;
mod fixtures;
mod pod_status;
mod preflight;
mod props;
mod rules;
mod secret_props;
mod secrets;
mod shapes;
mod upgrader;
mod versions;
