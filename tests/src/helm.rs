//! Helm 3 release Secrets, encoded exactly as Helm's Secret driver stores them:
//! `data.release` = base64(base64(gzip(release JSON))) — one base64 by Helm, one by the Secret.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

/// One revision of a release.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub chart: String,
    pub chart_version: String,
    pub app_version: String,
    pub status: String,
    pub revision: u32,
    pub first_deployed: String,
    pub last_deployed: String,
    pub description: String,
    pub values: Value,
}

impl Release {
    pub fn secret_name(&self) -> String {
        format!("sh.helm.release.v1.{}.v{}", self.name, self.revision)
    }

    /// The release body as Helm marshals it.
    pub fn body(&self) -> Value {
        json!({
            "name": self.name,
            "info": {
                "first_deployed": self.first_deployed,
                "last_deployed": self.last_deployed,
                "deleted": "",
                "description": self.description,
                "status": self.status,
            },
            "chart": {
                "metadata": {
                    "name": self.chart,
                    "version": self.chart_version,
                    "appVersion": self.app_version,
                    "apiVersion": "v1",
                    "description": format!("Helm chart for {}", self.chart),
                },
                "lock": null,
                "templates": [],
                "values": {},
                "schema": null,
                "files": [],
            },
            "config": if self.values.is_null() { json!({}) } else { self.values.clone() },
            "manifest": format!("---\n# Source: {}/templates/placeholder.yaml\n", self.chart),
            "version": self.revision,
            "namespace": self.namespace,
        })
    }

    pub fn to_secret(&self) -> Value {
        let json = serde_json::to_vec(&self.body()).expect("a JSON value serialises");
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&json).expect("writing to a Vec cannot fail");
        let compressed = gzip.finish().expect("writing to a Vec cannot fail");
        let helm_encoded = STANDARD.encode(compressed);
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "helm.sh/release.v1",
            "metadata": {
                "name": self.secret_name(),
                "namespace": self.namespace,
                "creationTimestamp": self.last_deployed,
                "labels": {
                    "owner": "helm",
                    "name": self.name,
                    "status": self.status,
                    "version": self.revision.to_string(),
                },
            },
            "data": {"release": STANDARD.encode(helm_encoded)},
        })
    }
}

/// Decodes a release Secret's `data.release` back into the release JSON.
pub fn decode_release(secret: &Value) -> Option<Value> {
    let data = secret.pointer("/data/release")?.as_str()?;
    let helm_encoded = STANDARD.decode(data).ok()?;
    let compressed = STANDARD.decode(helm_encoded).ok()?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut json)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_secret_decodes_to_its_release() {
        let release = Release {
            name: "astronomer".into(),
            namespace: "astronomer".into(),
            chart: "astronomer".into(),
            chart_version: "0.16.9".into(),
            app_version: "0.16.9".into(),
            status: "deployed".into(),
            revision: 3,
            first_deployed: "2026-01-01T00:00:00Z".into(),
            last_deployed: "2026-02-01T00:00:00Z".into(),
            description: "Upgrade complete".into(),
            values: Value::Null,
        };
        let secret = release.to_secret();
        assert_eq!(
            secret["metadata"]["name"],
            "sh.helm.release.v1.astronomer.v3"
        );
        assert_eq!(secret["metadata"]["labels"]["status"], "deployed");
        let body = decode_release(&secret).unwrap();
        assert_eq!(body["chart"]["metadata"]["version"], "0.16.9");
        assert_eq!(body["info"]["status"], "deployed");
        assert_eq!(body["version"], 3);
    }
}
