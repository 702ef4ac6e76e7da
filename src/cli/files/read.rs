//! Reading `-f` paths: every `*.yaml` / `*.yml` file under a folder (recursively, sorted,
//! hidden entries skipped so a state folder or `.git` is never read), or one file; each file
//! split into its YAML documents.
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::diagnostic::{Diagnostics, Origin};

/// The most bytes one `-f` file may have. Parsed YAML takes tens of times its size in
/// memory, so a file someone else can put in the folder (a GitOps repository) is bounded
/// before it is read. 32 MiB is about 600,000 contacts written inline; bigger inputs are split
/// into several files (`callsync import --out DIR` writes one file per ContactList).
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// One YAML document, as JSON (what the CRD schemas describe).
pub struct Document {
    pub origin: Origin,
    pub value: serde_json::Value,
}

fn file_origin(file: &str) -> Origin {
    Origin {
        file: file.to_owned(),
        document: 0,
        object: None,
    }
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, diagnostics: &mut Diagnostics) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            diagnostics.error(
                &file_origin(&dir.display().to_string()),
                "",
                format!("cannot read folder: {e}"),
            );
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if is_hidden(&path) {
            continue;
        }
        if path.is_dir() {
            walk(&path, out, diagnostics);
        } else if is_yaml(&path) {
            out.push(path);
        }
    }
}

/// The YAML files the `-f` paths name, in a stable order: each path in the order given, the
/// files of a folder sorted by path.
pub fn discover(paths: &[PathBuf], diagnostics: &mut Diagnostics) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        if path.is_dir() {
            let before = files.len();
            walk(path, &mut files, diagnostics);
            if files.len() == before {
                diagnostics.error(
                    &file_origin(&shown),
                    "",
                    "no *.yaml or *.yml files in this folder",
                );
            }
        } else if path.exists() {
            files.push(path.clone());
        } else {
            diagnostics.error(&file_origin(&shown), "", "no such file or folder");
        }
    }
    files
}

/// The text of one file, or `None` with an error naming why it cannot be read.
pub fn text(path: &Path, diagnostics: &mut Diagnostics) -> Option<String> {
    let file = path.display().to_string();
    let text = match read_bounded(path) {
        Ok(None) => {
            diagnostics.error(
                &file_origin(&file),
                "",
                format!(
                    "file is larger than {} MiB, the limit for one file; split it into \
                     several files (`callsync import --out DIR` writes one per ContactList)",
                    MAX_FILE_BYTES >> 20
                ),
            );
            return None;
        }
        Ok(Some(bytes)) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                diagnostics.error(&file_origin(&file), "", "not UTF-8 text");
                return None;
            }
        },
        Err(e) => {
            diagnostics.error(&file_origin(&file), "", format!("cannot read: {e}"));
            return None;
        }
    };
    Some(text)
}

/// The documents of the text of `file`. Empty documents (a leading `---`, comments only) keep
/// their position so that "document N" counts every document of the file.
pub fn documents_of(file: &str, text: &str, diagnostics: &mut Diagnostics) -> Vec<Document> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let origin = Origin {
            file: file.to_owned(),
            document: i + 1,
            object: None,
        };
        let value = match serde_yaml::Value::deserialize(doc) {
            Ok(value) => value,
            Err(e) => {
                diagnostics.error(&origin, "", format!("invalid YAML: {e}"));
                // The parser cannot find the next document after a syntax error.
                break;
            }
        };
        if value.is_null() {
            continue;
        }
        match serde_json::to_value(&value) {
            Ok(value) => out.push(Document { origin, value }),
            Err(e) => diagnostics.error(&origin, "", format!("not representable as JSON: {e}")),
        }
    }
    out
}

/// The file's bytes, or `None` past [`MAX_FILE_BYTES`]. Reads at most one byte more than the
/// limit whatever the file's size says (it may grow while read, or be a pipe).
fn read_bounded(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_FILE_BYTES {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_BYTES).then_some(bytes))
}
