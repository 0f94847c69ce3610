//! Workspace-level tests: kube-sim against the real kubectl, round trips through the planner's
//! readers, and end-to-end runs of the `astro-upgrade` binary against kube-sim.

mod conformance;
mod e2e;
mod fleet;
mod live_vs_pasted;
mod roundtrip;
mod support;
mod tls;
