//! The planner's one integration-test binary.

mod fixtures;
mod props;
mod rules;
mod examples;
