//! The `examples/` bundles, embedded at compile time by `build.rs` (one button each).

use serde_json::Value;

use crate::state::AckControls;

pub struct Example {
    /// The folder name, e.g. `healthy-0.16`.
    pub name: &'static str,
    /// `expected.json`: the verdict, failing checks and acknowledgements the example is meant with.
    pub expected_json: Option<&'static str>,
    /// `(file name, start, end)` of each file's text in `EXAMPLE_TEXT`, sorted by file name.
    files: &'static [(&'static str, usize, usize)],
}

/// The texts of every example file, one after the other (see `build.rs`).
static EXAMPLE_TEXT: &str = include_str!(concat!(env!("OUT_DIR"), "/examples.txt"));

include!(concat!(env!("OUT_DIR"), "/examples.rs"));

impl Example {
    /// `(file name, content)`, sorted by file name.
    pub fn files(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        self.files
            .iter()
            .map(|&(name, start, end)| (name, EXAMPLE_TEXT.get(start..end).unwrap_or_default()))
    }

    fn expected(&self) -> Value {
        self.expected_json
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or(Value::Null)
    }

    /// What the example shows and the verdict it expects, for the button's tooltip.
    pub fn description(&self) -> String {
        let expected = self.expected();
        let text = |key: &str| {
            expected
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        format!("{} Expected: {}.", text("about"), text("verdict"))
            .trim()
            .to_string()
    }

    /// The acknowledgements the example is meant to be read with.
    pub fn acknowledgements(&self) -> AckControls {
        let expected = self.expected();
        let acks: Vec<&str> = expected
            .get("acks")
            .and_then(Value::as_array)
            .map(|acks| acks.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let air_gapped = expected
            .get("air_gapped")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        AckControls::from_cli_acks(&acks, air_gapped)
    }
}

#[cfg(test)]
mod tests {
    use super::EXAMPLES;

    #[test]
    fn every_example_file_reads_back_exactly() {
        let examples_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        assert!(EXAMPLES.len() > 5);
        for example in EXAMPLES {
            let folder = examples_dir.join(example.name);
            let mut names = Vec::new();
            for (name, text) in example.files() {
                let on_disk = std::fs::read_to_string(folder.join(name))
                    .expect("the embedded file exists in examples/");
                assert_eq!(text, on_disk, "{}/{name}", example.name);
                names.push(name.to_string());
            }
            let mut on_disk: Vec<String> = std::fs::read_dir(&folder)
                .expect("example folder is readable")
                .map(|entry| entry.expect("readable entry").file_name())
                .filter_map(|name| name.into_string().ok())
                .filter(|name| name != "expected.json" && !name.starts_with('.'))
                .collect();
            on_disk.sort();
            assert_eq!(names, on_disk, "{}", example.name);
        }
    }
}
