//! Generated pastes for the reader benchmarks (shared with the wasm timing example).

use std::fmt::Write;

const STATUSES: [(&str, &str, &str); 6] = [
    ("1/1", "Running", "0"),
    ("2/2", "Running", "1 (3h ago)"),
    ("0/1", "Completed", "0"),
    ("0/1", "CrashLoopBackOff", "27 (2m ago)"),
    ("0/1", "Init:1/2", "0"),
    ("1/2", "Running", "4 (10m ago)"),
];

/// `kubectl get pods -A -o wide` (new layout) with `pods` rows, aligned like kubectl prints it.
pub fn pod_table(pods: usize) -> String {
    let mut out = String::with_capacity(pods * 200);
    out.push_str(&format!(
        "{:<14}{:<58}{:<8}{:<19}{:<14}{:<7}{:<15}{:<32}{:<17}{}\n",
        "NAMESPACE",
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES"
    ));
    for i in 0..pods {
        let (ready, status, restarts) = STATUSES[i % STATUSES.len()];
        let namespace = if i % 3 == 0 {
            "kube-system"
        } else {
            "astronomer"
        };
        let name = format!(
            "astronomer-component-{}-{:08x}-{:05}",
            i % 37,
            i.wrapping_mul(2_654_435_761),
            i
        );
        let ip = format!("10.{}.{}.{}", i % 200, (i / 200) % 250, i % 250);
        let node = format!("ip-10-0-{}-{}.ec2.internal", i % 16, i % 250);
        let _ = writeln!(
            out,
            "{namespace:<14}{name:<58}{ready:<8}{status:<19}{restarts:<14}3d     {ip:<15}{node:<32}<none>           <none>"
        );
    }
    out
}

/// A terminal session of about `lines` lines: versions, pod listings, helm, can-i and commands
/// the planner ignores, repeated.
pub fn transcript(lines: usize) -> String {
    let mut out = String::new();
    let mut written = 0;
    let mut round = 0;
    while written < lines {
        let _ = write!(
            out,
            "ops@bastion:~$ kubectl version --short\nClient Version: v1.16.3\nServer Version: v1.16.15-eks-ad4801\n\
             ops@bastion:~$ kubectl get namespaces\nNAME          STATUS   AGE\nastronomer    Active   300d\n\
             ops@bastion:~$ helm ls -n astronomer\n\
             NAME        NAMESPACE   REVISION  UPDATED                                  STATUS    CHART              APP VERSION\n\
             astronomer  astronomer  4         2021-03-02 10:11:12.123456 +0000 UTC     deployed  astronomer-0.16.9  0.16.9\n\
             ops@bastion:~$ kubectl auth can-i create pods -n astronomer\nyes\n\
             ops@bastion:~$ kubectl get pods -n astronomer\nNAME                                        READY   STATUS             RESTARTS   AGE\n"
        );
        written += 14;
        for i in 0..20 {
            let (ready, status, restarts) = STATUSES[(i + round) % STATUSES.len()];
            let _ = writeln!(
                out,
                "astronomer-round{round}-pod-{i:03}                  {ready}     {status:<18} {restarts:<10} 1h"
            );
        }
        written += 20;
        round += 1;
    }
    out
}
