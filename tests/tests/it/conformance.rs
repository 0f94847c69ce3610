//! The real kubectl against kube-sim.
