//! kube-sim: a simulated Kubernetes API server of the 1.14–1.18 era, driven by scenario files.
//!
//! It speaks enough of the real REST API (discovery, CRUD, list with selectors and pagination,
//! watch, pod logs, access reviews in JSON and protobuf, server-side Table printing) that the
//! real `kubectl` and kube-rs work against it, and it plays a scenario's future: the upgrade
//! Job's pod, its Ansible log, the platform's move to 0.23, and injected faults.

pub mod backup_pod;
mod controllers;
pub mod helm;
mod patch;
pub mod playbook;
mod protobuf;
pub mod proxy;
pub mod resources;
pub mod scenario;
mod seed;
mod selectors;
mod server;
#[cfg(test)]
mod server_tests;
mod store;
mod table;
mod time;
mod tls;

pub use scenario::{Scenario, ScenarioError};
pub use server::{Options, RequestRecord, Sim};
