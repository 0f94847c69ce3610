//! The astro-upgrade binary against kube-sim scenarios.
