//! The leak scanner: finds full phone numbers and known secret values in text a person could
//! read (logs, Events, statuses), and reports each hit by file and line with the hit masked.
//!
//! A phone-like hit is a run of 10 to 15 ASCII digits (with an optional leading `+`) that stands
//! alone — not inside a word, a hex string or a UUID, not the fraction of a decimal — and that
//! callsync's own parser accepts as a valid number written internationally (`+8613812345678`,
//! `8613812345678`) or as a Chinese national number (`13812345678`). Timestamps (10 or 13
//! digits), resourceVersions, durations and digests fail one of those tests; masked forms
//! (`+86138****5678`) have no such run.
use std::path::{Path, PathBuf};

use callsync::contacts::{Phone, mask_phone};

use super::secrets::{INLINE_SECRETS, MIN_SECRET_LEN};

/// One leak: where, and the line with the leak masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub file: PathBuf,
    pub line: usize,
    pub what: &'static str,
    pub masked_line: String,
}

impl std::fmt::Display for Hit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.masked_line.clone();
        if shown.len() > 300 {
            let mut cut = 300;
            while !shown.is_char_boundary(cut) {
                cut -= 1;
            }
            shown.truncate(cut);
            shown.push('…');
        }
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.what,
            shown
        )
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `digits` is a full, valid phone number by callsync's own rules.
pub fn is_phone(digits: &str) -> bool {
    Phone::parse(&format!("+{digits}"), None).is_ok() || Phone::parse(digits, Some("CN")).is_ok()
}

/// Byte ranges of UUIDs (8-4-4-4-12 hex) in `line`: their groups are not phone numbers.
fn uuid_ranges(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let groups = [8, 4, 4, 4, 12];
    let mut out = Vec::new();
    let mut i = 0;
    while i + 36 <= bytes.len() {
        let mut at = i;
        let mut ok = i == 0 || !is_word(bytes[i - 1] as char);
        for (g, len) in groups.iter().enumerate() {
            if !ok {
                break;
            }
            ok = bytes[at..at + len].iter().all(u8::is_ascii_hexdigit);
            at += len;
            if g < 4 {
                ok = ok && bytes.get(at) == Some(&b'-');
                at += 1;
            }
        }
        if ok {
            out.push((i, i + 36));
            i += 36;
        } else {
            i += 1;
        }
    }
    out
}

/// Phone-like digit runs in `line`: byte ranges of the digits.
pub fn phone_runs(line: &str) -> Vec<(usize, usize)> {
    let uuids = uuid_ranges(line);
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let end = i;
        let len = end - start;
        if !(10..=15).contains(&len) || uuids.iter().any(|&(a, b)| start >= a && end <= b) {
            continue;
        }
        let before = line[..start].chars().next_back();
        let after = line[end..].chars().next();
        let after2 = line[end..].chars().nth(1);
        let inside_word = before.is_some_and(is_word) || after.is_some_and(is_word);
        let fraction = before == Some('.');
        let integer_part = after == Some('.') && after2.is_some_and(|c| c.is_ascii_digit());
        if inside_word || fraction || integer_part {
            continue;
        }
        if is_phone(&line[start..end]) {
            out.push((start, end));
        }
    }
    out
}

/// The secret values to look for: every constant named like a secret in `tests/**/*.rs`, and
/// [`INLINE_SECRETS`]; values shorter than [`MIN_SECRET_LEN`] are left out.
pub fn secret_values(tests_dir: &Path) -> Vec<String> {
    let mut values: Vec<String> = INLINE_SECRETS.iter().map(|s| s.to_string()).collect();
    let mut files = Vec::new();
    collect_rs(tests_dir, &mut files);
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for line in text.lines() {
            if let Some(value) = secret_constant(line) {
                values.push(value);
            }
        }
    }
    values.retain(|v| v.len() >= MIN_SECRET_LEN);
    values.sort();
    values.dedup();
    values
}

/// `const CB_SECRET: &str = "value";` → `value`, for names that say secret, token or password.
fn secret_constant(line: &str) -> Option<String> {
    let rest = line.trim_start();
    let rest = rest.strip_prefix("pub ").unwrap_or(rest);
    let rest = rest.strip_prefix("const ")?;
    let (name, rest) = rest.split_once(':')?;
    let name = name.trim();
    let secretish = ["SECRET", "TOKEN", "WRONG", "PASSWORD"]
        .iter()
        .any(|w| name.contains(w));
    let not_a_value = ["TYPE", "LABEL", "ANNOTATION", "ENV", "KEY_NAME"]
        .iter()
        .any(|w| name.contains(w));
    if !secretish || not_a_value {
        return None;
    }
    let rest = rest.trim_start().strip_prefix("&str")?.trim_start();
    let rest = rest.strip_prefix('=')?.trim_start().strip_prefix('"')?;
    let (value, _) = rest.split_once('"')?;
    Some(value.to_string())
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every leak in `text` (from `file`), masked.
pub fn scan_text(file: &Path, text: &str, secrets: &[String]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let runs = phone_runs(line);
        let leaked: Vec<&String> = secrets
            .iter()
            .filter(|s| line.contains(s.as_str()))
            .collect();
        if runs.is_empty() && leaked.is_empty() {
            continue;
        }
        let mut masked = String::with_capacity(line.len());
        let mut at = 0;
        for &(a, b) in &runs {
            masked.push_str(&line[at..a]);
            masked.push_str(&mask_phone(&line[a..b]));
            at = b;
        }
        masked.push_str(&line[at..]);
        for s in &leaked {
            masked = masked.replace(s.as_str(), "<secret>");
        }
        hits.push(Hit {
            file: file.to_path_buf(),
            line: n + 1,
            what: match (runs.is_empty(), leaked.is_empty()) {
                (false, false) => "phone number and secret",
                (false, true) => "phone number",
                _ => "secret",
            },
            masked_line: masked,
        });
    }
    hits
}

/// Every leak in the files under `dir` (recursively).
pub fn scan_dir(dir: &Path, secrets: &[String]) -> (Vec<Hit>, usize, usize) {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    let (mut hits, mut lines) = (Vec::new(), 0);
    for file in &files {
        let Ok(bytes) = std::fs::read(file) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        lines += text.lines().count();
        hits.extend(scan_text(file, &text, secrets));
    }
    (hits, files.len(), lines)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}
