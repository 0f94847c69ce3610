//! The `examples/` bundles, embedded at compile time by `build.rs` (one button each).

use serde_json::Value;

use crate::state::AckControls;

pub struct Example {
    /// The folder name, e.g. `healthy-0.16`.
    pub name: &'static str,
    /// `expected.json`: the verdict, failing checks and acknowledgements the example is meant with.
    pub expected_json: Option<&'static str>,
    /// `(file name, content)`, sorted by file name.
    pub files: &'static [(&'static str, &'static str)],
}

include!(concat!(env!("OUT_DIR"), "/examples.rs"));

impl Example {
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
