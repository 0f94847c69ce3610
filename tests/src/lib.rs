//! kube-sim: a simulated Kubernetes API server of the 1.14–1.18 era, driven by scenario files.
