//! Embeds every `examples/<name>/` bundle into the page at compile time, so adding an example
//! folder needs no code change: each becomes one button.

use std::collections::HashMap;
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

    // Every file's text goes into one string, grouped by file name (all the pods.txt together, and
    // so on) with identical texts stored once: the similar texts then sit within deflate's 32 KiB
    // window of each other, which makes the shipped page smaller than one string per file.
    let mut bundles = Vec::new();
    for folder in folders {
        let name = folder
            .file_name()
            .and_then(|n| n.to_str())
            .expect("example folder names are UTF-8")
            .to_string();
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
        let files: Vec<(String, String)> = files
            .iter()
            .filter_map(|file| {
                let file_name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if file_name == "expected.json" || file_name.starts_with('.') {
                    return None;
                }
                let text = fs::read_to_string(file).expect("example files are UTF-8 text");
                Some((file_name.to_string(), text))
            })
            .collect();
        bundles.push((name, expected, files));
    }

    let mut by_file_name: Vec<(&str, &str, &str)> = bundles
        .iter()
        .flat_map(|(folder, _, files)| {
            files
                .iter()
                .map(move |(file_name, text)| (file_name.as_str(), folder.as_str(), text.as_str()))
        })
        .collect();
    by_file_name.sort();
    let mut all_text = String::new();
    let mut ranges: HashMap<&str, (usize, usize)> = HashMap::new();
    for (_, _, text) in by_file_name {
        ranges.entry(text).or_insert_with(|| {
            let start = all_text.len();
            all_text.push_str(text);
            (start, all_text.len())
        });
    }

    let mut table = String::from("pub static EXAMPLES: &[Example] = &[\n");
    for (name, expected, files) in &bundles {
        let _ = write!(
            table,
            "    Example {{ name: {name:?}, expected_json: {expected}, files: &["
        );
        for (file_name, text) in files {
            let (start, end) = ranges[text.as_str()];
            let _ = write!(table, "({file_name:?}, {start}, {end}), ");
        }
        table.push_str("] },\n");
    }
    table.push_str("];\n");

    let out_dir = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    fs::write(Path::new(&out_dir).join("examples.txt"), all_text).expect("OUT_DIR is writable");
    fs::write(Path::new(&out_dir).join("examples.rs"), table).expect("OUT_DIR is writable");
}
