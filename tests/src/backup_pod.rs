//! A pod that copies the upgrade's backups off their PVC: a bare Pod (no Job) whose container runs
//! `tar cz -C /astronomer-backups . | base64` and mounts the backup PVC. kube-sim runs it: the pod
//! goes Running, its log is the base64 of a gzipped tar of the scenario's `backup_files`, and it
//! ends Succeeded.

use std::io::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::resources::Resource;
use crate::server::Shared;
use crate::store::str_at;

/// A file on the backup PVC, under `/astronomer-backups`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupFile {
    /// Relative path, e.g. `2026-11-27T16-05-00/astronomer-db-backup.tar`.
    pub path: String,
    #[serde(default)]
    pub content: String,
}

/// Whether a pod spec is the backup copy: a container running `tar cz -C /astronomer-backups`.
pub fn is_backup_copy(pod: &Value) -> bool {
    let owned = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| !refs.is_empty());
    let labelled_job = pod.pointer("/metadata/labels/job-name").is_some();
    !owned
        && !labelled_job
        && pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| {
                let words: Vec<String> = ["command", "args"]
                    .iter()
                    .filter_map(|k| c.get(*k).and_then(Value::as_array))
                    .flatten()
                    .filter_map(|w| w.as_str().map(str::to_string))
                    .collect();
                words.join(" ").contains("tar cz -C /astronomer-backups")
            })
}

fn octal(field: &mut [u8], value: u64) {
    let text = format!("{value:0width$o}", width = field.len() - 1);
    field[..text.len()].copy_from_slice(text.as_bytes());
}

/// A ustar archive of `files` (directories implied by the paths are added first), gzipped.
pub fn tar_gz(files: &[BackupFile]) -> Vec<u8> {
    let mut tar = Vec::new();
    let mut entry = |name: &str, data: &[u8], directory: bool| {
        let mut header = [0u8; 512];
        let name = name.as_bytes();
        header[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
        octal(&mut header[100..108], if directory { 0o755 } else { 0o644 });
        octal(&mut header[108..116], 0);
        octal(&mut header[116..124], 0);
        octal(&mut header[124..136], data.len() as u64);
        octal(&mut header[136..148], 1_764_000_000);
        header[156] = if directory { b'5' } else { b'0' };
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
        let text = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(text.as_bytes());
        tar.extend_from_slice(&header);
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    };
    entry("./", b"", true);
    let mut directories: Vec<String> = Vec::new();
    for file in files {
        let parts: Vec<&str> = file.path.split('/').collect();
        for depth in 1..parts.len() {
            let directory = format!("./{}/", parts[..depth].join("/"));
            if !directories.contains(&directory) {
                entry(&directory, b"", true);
                directories.push(directory);
            }
        }
        entry(&format!("./{}", file.path), file.content.as_bytes(), false);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip to memory");
    gz.finish().expect("gzip to memory")
}

/// Runs a backup copy pod: Running, its log, then Succeeded.
pub fn on_create(shared: &Arc<Shared>, pod: &Value) {
    if !is_backup_copy(pod) {
        return;
    }
    let namespace = str_at(pod, "/metadata/namespace");
    let name = str_at(pod, "/metadata/name");
    let container = pod
        .pointer("/spec/containers/0/name")
        .and_then(Value::as_str)
        .unwrap_or("copy")
        .to_string();
    let image = str_at(pod, "/spec/containers/0/image");
    let shared2 = shared.clone();
    shared.spawn(async move {
        let pods = Resource::by_kind("v1", "Pod").expect("served");
        shared2.sleep(1.0).await;
        shared2.logs_open(&namespace, &name);
        let started = crate::time::now_rfc3339();
        shared2.modify(pods, &namespace, &name, |p| {
            p["spec"]["nodeName"] = json!("ip-10-0-1-23.ec2.internal");
            p["status"] = json!({
                "phase": "Running", "startTime": started,
                "containerStatuses": [{"name": container, "image": image, "imageID": "", "ready": true,
                    "restartCount": 0, "started": true, "state": {"running": {"startedAt": started}}}],
            });
            true
        });
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(tar_gz(&shared2.scenario.backup_files));
        for line in encoded.as_bytes().chunks(76) {
            shared2.log_line(&namespace, &name, String::from_utf8_lossy(line).into_owned());
        }
        shared2.sleep(1.0).await;
        let finished = crate::time::now_rfc3339();
        shared2.modify(pods, &namespace, &name, |p| {
            p["status"]["phase"] = json!("Succeeded");
            p["status"]["containerStatuses"][0]["ready"] = json!(false);
            p["status"]["containerStatuses"][0]["state"] = json!({"terminated": {
                "exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": finished}});
            true
        });
        shared2.logs_close(&namespace, &name);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bare_pod_running_the_copy_is_one() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c",
            "command": ["sh", "-c", "tar cz -C /astronomer-backups . | base64"]}]}});
        assert!(is_backup_copy(&pod));
        let mut owned = pod.clone();
        owned["metadata"]["labels"] = json!({"job-name": "upgrade-astronomer"});
        assert!(!is_backup_copy(&owned));
        assert!(!is_backup_copy(
            &json!({"spec": {"containers": [{"command": ["sleep", "1"]}]}})
        ));
    }

    #[test]
    fn the_archive_is_a_gzipped_ustar_with_its_directories() {
        let gz = tar_gz(&[BackupFile {
            path: "2026-11-27/astronomer-db-backup.tar".into(),
            content: "dump".into(),
        }]);
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut tar).unwrap();
        assert_eq!(tar.len() % 512, 0);
        assert_eq!(&tar[257..263], b"ustar\0");
        assert!(tar.windows(13).any(|w| w == b"./2026-11-27/"));
        assert!(tar.windows(4).any(|w| w == b"dump"));
    }
}
