//! Embeds every `examples/<name>/` bundle into the page at compile time, so adding an example
//! folder needs no code change: each becomes one button.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let examples_dir = Path::new(&manifest_dir).join("../examples");
    println!("cargo:rerun-if-changed={}", examples_dir.display());

    let mut folders: Vec<_> = fs::read_dir(&examples_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_dir())
                .collect()
        })
        .unwrap_or_default();
    folders.sort();

    let mut table = String::from("pub static EXAMPLES: &[Example] = &[\n");
    for folder in folders {
        let name = folder
            .file_name()
            .and_then(|n| n.to_str())
            .expect("example folder names are UTF-8");
        let mut files: Vec<_> = fs::read_dir(&folder)
            .expect("example folder is readable")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        let expected = folder.join("expected.json");
        let expected = if expected.is_file() {
            format!("Some(include_str!({:?}))", expected.display().to_string())
        } else {
            "None".to_string()
        };
        let _ = write!(
            table,
            "    Example {{ name: {name:?}, expected_json: {expected}, files: &["
        );
        for file in files {
            let file_name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if file_name == "expected.json" || file_name.starts_with('.') {
                continue;
            }
            let _ = write!(
                table,
                "({file_name:?}, include_str!({:?})), ",
                file.display().to_string()
            );
        }
        table.push_str("] },\n");
    }
    table.push_str("];\n");

    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("examples.rs");
    fs::write(out, table).expect("OUT_DIR is writable");
}
