//! The evidence boxes of the page: which command fills each, and how boxes become planner sources.

use planner::EvidenceKind;

pub struct EvidenceBox {
    pub kind: EvidenceKind,
    /// The paste-folder file name the CLI would read this evidence from; also the source name.
    pub file_name: &'static str,
    pub title: &'static str,
    /// What to run, exactly; each is copied as shown.
    pub commands: &'static [&'static str],
    pub hint: &'static str,
}

/// The big box for a whole terminal session.
pub const TRANSCRIPT: usize = 0;

/// Every box, the transcript first; the index is the box's identity in the page state.
pub static BOXES: [EvidenceBox; 11] = [
    EvidenceBox {
        kind: EvidenceKind::Transcript,
        file_name: "transcript.txt",
        title: "Your terminal session",
        commands: &[],
        hint: "Run the commands of the boxes below in one terminal and paste everything it printed, prompts included. Each piece is recognised by its command line or its content.",
    },
    EvidenceBox {
        kind: EvidenceKind::KubectlVersion,
        file_name: "kubectl-version.txt",
        title: "Kubernetes version",
        commands: &["kubectl version"],
        hint: "Client and server versions; a connection error is worth pasting too.",
    },
    EvidenceBox {
        kind: EvidenceKind::Pods,
        file_name: "pods.txt",
        title: "Pods",
        commands: &["kubectl get pods -A"],
        hint: "Every pod must be Running with all containers ready, or Completed.",
    },
    EvidenceBox {
        kind: EvidenceKind::CanI,
        file_name: "can-i.txt",
        title: "Permissions",
        commands: &[
            "kubectl auth can-i create pods -n astronomer",
            "kubectl auth can-i create serviceaccounts -n astronomer",
            "kubectl auth can-i create jobs -n astronomer",
            "kubectl auth can-i create serviceaccounts -n default",
            "kubectl auth can-i create persistentvolumeclaims -n default",
            "kubectl auth can-i create jobs -n default",
            "kubectl auth can-i create clusterroles",
            "kubectl auth can-i create clusterrolebindings",
            "kubectl auth can-i '*' '*' --all-namespaces",
        ],
        hint: "Paste each command line with its answer, so every yes or no is tied to its question. The last one asks whether you hold everything the upgrader's ClusterRole grants: Kubernetes lets you create that role only then.",
    },
    EvidenceBox {
        kind: EvidenceKind::Images,
        file_name: "images.txt",
        title: "Airflow images",
        commands: &[
            "kubectl get pods -A -o jsonpath='{..image}'",
            "grep -h '^FROM' Dockerfile",
        ],
        hint: "The images running now, and the FROM line of each Airflow deployment's Dockerfile.",
    },
    EvidenceBox {
        kind: EvidenceKind::HelmList,
        file_name: "helm-list.txt",
        title: "Helm releases",
        commands: &["helm list -A --all"],
        hint: "--all shows releases stuck in pending-* states, which plain helm list hides.",
    },
    EvidenceBox {
        kind: EvidenceKind::HelmHistory,
        file_name: "helm-history.txt",
        title: "Helm history of the platform",
        commands: &["helm history astronomer -n astronomer"],
        hint: "Use the platform release's name from helm list if it is not astronomer.",
    },
    EvidenceBox {
        kind: EvidenceKind::StorageClass,
        file_name: "storageclass.txt",
        title: "Storage classes",
        commands: &["kubectl get storageclass"],
        hint: "The upgrade's 20Gi backup volume needs a StorageClass marked (default).",
    },
    EvidenceBox {
        kind: EvidenceKind::Contexts,
        file_name: "contexts.txt",
        title: "kubectl contexts",
        commands: &["kubectl config get-contexts"],
        hint: "The upgrade manifest must be applied in namespace default.",
    },
    EvidenceBox {
        kind: EvidenceKind::Connection,
        file_name: "connection.txt",
        title: "Database connection string",
        commands: &["kubectl get secret astronomer-bootstrap -n astronomer -o jsonpath='{.data.connection}' | base64 -d; echo"],
        hint: "Read as the upgrader reads it (its own pattern): the user, host and port it will use; the password is masked here and never kept.",
    },
    EvidenceBox {
        kind: EvidenceKind::Egress,
        file_name: "egress.txt",
        title: "Egress from inside the cluster",
        commands: &[
            "kubectl run egress-test -n default --rm -i --restart=Never --image=curlimages/curl -- curl -sSI https://helm.astronomer.io/index.yaml",
            "kubectl run egress-test -n default --rm -i --restart=Never --image=curlimages/curl -- curl -sSI https://updates.astronomer.io/astronomer-certified",
            "kubectl run egress-test -n default --rm -i --restart=Never --image=curlimages/curl -- curl -sSI https://quay.io/v2/",
        ],
        hint: "The upgrader reaches helm.astronomer.io before it changes anything and updates.astronomer.io after its point of no return. Any HTTP status line proves a host answered; a curl error proves it did not. Without this, astro-upgrade apply proves it from a probe pod before the upgrade starts.",
    },
];

/// The indexes of [`BOXES`] in file-name order, the order the CLI reads a paste folder in. Spelled
/// out rather than sorted at run time: a sort is a few KB of wasm for each element type.
pub const BY_FILE_NAME: [usize; 11] = [3, 9, 8, 10, 6, 5, 4, 1, 2, 7, 0];

/// The box a paste-folder file name belongs to (`pods.txt`, `Pods.log` → the pods box).
pub fn box_for_file_name(file_name: &str) -> Option<usize> {
    let kind = EvidenceKind::from_file_name(&file_name.to_ascii_lowercase())?;
    BOXES.iter().position(|b| b.kind == kind)
}

/// The box an evidence pointer's source names, if it is one of the page's boxes.
pub fn box_for_source(source: &str) -> Option<usize> {
    BOXES.iter().position(|b| b.file_name == source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_box_has_its_own_kind_and_file_name() {
        for (index, evidence_box) in BOXES.iter().enumerate() {
            assert_eq!(box_for_file_name(evidence_box.file_name), Some(index));
            assert_eq!(box_for_source(evidence_box.file_name), Some(index));
        }
        assert_eq!(BOXES[TRANSCRIPT].kind, EvidenceKind::Transcript);
    }

    #[test]
    fn permissions_box_lists_the_nine_can_i_commands() {
        let can_i = &BOXES[box_for_file_name("can-i.txt").unwrap()];
        assert_eq!(can_i.commands.len(), 9);
        // the box asks what the rule asks, each command once
        for (need, command) in planner::path::LTS_0_16_TO_0_23
            .permissions
            .iter()
            .zip(can_i.commands)
        {
            let facts = planner::input::read_source(&planner::Source::new(
                "can-i.txt",
                Some(EvidenceKind::CanI),
                format!("$ {command}\nyes\n"),
            ));
            assert_eq!(facts.permissions.len(), 1, "{command}");
            assert_eq!(
                (
                    facts.permissions[0].verb.as_str(),
                    facts.permissions[0].resource.as_str()
                ),
                (need.verb, need.resource),
                "{command}"
            );
        }
        assert!(can_i
            .commands
            .contains(&"kubectl auth can-i '*' '*' --all-namespaces"));
        for resource in ["pods", "serviceaccounts", "jobs"] {
            assert!(can_i
                .commands
                .contains(&format!("kubectl auth can-i create {resource} -n astronomer").as_str()));
        }
        for resource in ["serviceaccounts", "persistentvolumeclaims", "jobs"] {
            assert!(can_i
                .commands
                .contains(&format!("kubectl auth can-i create {resource} -n default").as_str()));
        }
        assert!(can_i
            .commands
            .contains(&"kubectl auth can-i create clusterroles"));
        assert!(can_i
            .commands
            .contains(&"kubectl auth can-i create clusterrolebindings"));
    }

    #[test]
    fn by_file_name_lists_every_box_once_in_file_name_order() {
        let names: Vec<&str> = BY_FILE_NAME.iter().map(|&i| BOXES[i].file_name).collect();
        let mut sorted: Vec<&str> = BOXES.iter().map(|b| b.file_name).collect();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn the_egress_box_asks_for_each_host_the_upgrader_needs() {
        let egress = &BOXES[box_for_file_name("egress.txt").unwrap()];
        let path = &planner::path::LTS_0_16_TO_0_23;
        let needed = planner::rules::required_egress(
            path,
            &planner::Facts::default(),
            &planner::Acknowledgements::default(),
        );
        assert_eq!(egress.commands.len(), needed.len());
        for (host, command) in needed.iter().zip(egress.commands) {
            assert_eq!(*command, planner::rules::egress_test_command(host));
            let facts = planner::input::read_source(&planner::Source::new(
                "egress.txt",
                Some(EvidenceKind::Egress),
                format!("$ {command}\nHTTP/2 200\n"),
            ));
            assert_eq!(facts.egress.len(), 1, "{command}");
            assert!(host.covers(&facts.egress[0].host), "{command}");
        }
    }

    #[test]
    fn unknown_file_names_have_no_box() {
        assert_eq!(box_for_file_name("notes.txt"), None);
        assert_eq!(box_for_file_name("Pods.TXT"), box_for_file_name("pods.txt"));
    }
}
