//! The parse cache of `callsync apply` and `plan`: the parsed form of ContactList files, kept
//! in the state folder (`<state>/_parsed/`) so that a file unchanged since the last run is not
//! read as YAML, checked against the schema and its phones validated again. At a million
//! contacts that is seconds of CPU an edit would spend on files it did not change: with the
//! cache a one-list edit parses that one file.
//!
//! An entry is keyed by a SHA-256 of the file's bytes and of this binary (version, commit,
//! build date and the executable's size and modification time): an edited file, or another
//! build whose parsing rules may differ, misses and is read again. Only files whose every
//! document is a ContactList without `source` that read with no finding are kept — anything
//! that needs a diagnostic is read every time, so that its findings are too. An entry carries
//! a SHA-256 of its payload: a damaged, truncated or foreign entry is ignored (read again),
//! never trusted. Entries hold full phone numbers, like the ledgers beside them: the folder is
//! 0700 and each file 0600 (`private_files`). The cache is an optimisation only: any failure
//! to read or write it costs time, never an error.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::resolve::InlineContacts;
use crate::cli::private_files::{WhenExposed, create_private_file, private_dir};
use crate::contacts::ParsedList;

/// Bumped whenever what an entry holds, or how a file is parsed, changes in a way the build
/// identity would not catch (a development build from an unchanged commit).
const FORMAT: &[u8] = b"callsync-parse-cache-1";
const MAGIC: &[u8; 8] = b"CSPARSE1";
/// The cache's folder in the state folder. Ledgers live in `<state>/<namespace>/`, and a
/// namespace (an RFC 1123 label) never has an `_`: no namespace's folder can be this one.
pub const FOLDER: &str = "_parsed";
const DIGEST_LEN: usize = 32;

/// One ContactList document of a cached file.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CachedList {
    /// Its position in the file (1-based, as diagnostics count).
    pub document: usize,
    pub namespace: String,
    pub name: String,
    /// The ContactList as loaded, without its contacts, as JSON (the Kubernetes types'
    /// serde skips empty fields, which only a self-describing format reads back).
    pub list_json: Vec<u8>,
    pub parsed: ParsedList,
    /// The problem of each invalid entry (position, message), as `InlineContacts` has them.
    pub problems: Vec<(usize, String)>,
}

impl CachedList {
    pub fn into_inline(self) -> InlineContacts {
        InlineContacts {
            parsed: Arc::new(self.parsed),
            problems: self.problems,
        }
    }
}

/// The cache folder of one run.
pub struct ParseCache {
    dir: PathBuf,
    /// Digest of the build and the format: the first input of every key.
    build: [u8; DIGEST_LEN],
    /// Whether this run may write (apply); a plan only reads.
    writable: bool,
    /// Entries read this run, or to be written: the others are removed by [`Self::finish`].
    used: BTreeSet<String>,
    /// Entries to write when the run has its state folder ([`Self::finish`]).
    pending: Vec<(String, Vec<u8>)>,
}

impl ParseCache {
    /// The cache in `state_dir`. Nothing is created until [`Self::finish`]: the state folder
    /// is made (and checked private) by the state store, after the files proved valid.
    pub fn open(state_dir: &Path, writable: bool) -> ParseCache {
        ParseCache {
            dir: state_dir.join(FOLDER),
            build: build_identity(),
            writable,
            used: BTreeSet::new(),
            pending: Vec::new(),
        }
    }

    /// The key of a file with these bytes.
    pub fn key(&self, bytes: &[u8]) -> String {
        let mut hash = Sha256::new();
        hash.update(self.build);
        hash.update(bytes);
        hex::encode(hash.finalize())
    }

    /// The cached lists of the file with this key, if an intact entry holds them.
    pub fn get(&mut self, key: &str) -> Option<Vec<CachedList>> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let lists = decode(&bytes)?;
        self.used.insert(key.to_owned());
        Some(lists)
    }

    /// Keeps `lists` as the entry of `key`, written by [`Self::finish`]. Does nothing for a
    /// read-only cache.
    pub fn put(&mut self, key: &str, lists: &[CachedList]) {
        if !self.writable {
            return;
        }
        if let Some(bytes) = encode(lists) {
            self.used.insert(key.to_owned());
            self.pending.push((key.to_owned(), bytes));
        }
    }

    /// Writes the new entries (each to a temporary file, then renamed, so a reader never sees
    /// half an entry) and removes those this run did not use (files since edited or gone), so
    /// the folder holds about one entry per input file. Call it once the state folder is open.
    /// Does nothing for a read-only cache.
    pub fn finish(self) {
        if !self.writable || private_dir(&self.dir, WhenExposed::Tighten).is_err() {
            return;
        }
        for (key, bytes) in &self.pending {
            let path = self.path(key);
            let temp = self.dir.join(format!("{key}.tmp-{}", std::process::id()));
            let written = create_private_file(&temp)
                .and_then(|mut f| std::io::Write::write_all(&mut f, bytes))
                .and_then(|()| std::fs::rename(&temp, &path));
            if let Err(error) = written {
                let _ = std::fs::remove_file(&temp);
                tracing::debug!(%error, "parse cache entry not written");
            }
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Only what this cache writes: `<key>.bin`, or a temporary file a killed run left.
            let key = name.split_once('.').map_or(name.as_str(), |(key, _)| key);
            let ours = key.len() == 2 * DIGEST_LEN && key.bytes().all(|b| b.is_ascii_hexdigit());
            if ours && !(self.used.contains(key) && name.ends_with(".bin")) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.bin"))
    }
}

/// What identifies this binary's parsing: its build information and the executable itself
/// (a rebuilt development binary keeps its commit but not its size and modification time).
fn build_identity() -> [u8; DIGEST_LEN] {
    let mut hash = Sha256::new();
    hash.update(FORMAT);
    let build = crate::build_info::CURRENT;
    for part in [
        build.version,
        build.git_commit,
        build.build_date,
        build.platform,
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let exe = std::env::current_exe().and_then(std::fs::metadata);
    match exe {
        Ok(meta) => {
            hash.update(meta.len().to_le_bytes());
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            hash.update(modified.to_le_bytes());
        }
        // Unknown executable: a key no other run shares, so nothing is reused.
        Err(_) => hash.update(uuid::Uuid::new_v4().as_bytes()),
    }
    hash.finalize().into()
}

/// `MAGIC`, the payload's SHA-256, the payload (postcard).
fn encode(lists: &[CachedList]) -> Option<Vec<u8>> {
    let payload = postcard::to_allocvec(lists).ok()?;
    let mut out = Vec::with_capacity(MAGIC.len() + DIGEST_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&Sha256::digest(&payload));
    out.extend_from_slice(&payload);
    Some(out)
}

/// The lists of an entry, or `None` when it is not an intact entry of this format.
fn decode(bytes: &[u8]) -> Option<Vec<CachedList>> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < DIGEST_LEN {
        return None;
    }
    let (digest, payload) = rest.split_at(DIGEST_LEN);
    if Sha256::digest(payload).as_slice() != digest {
        return None;
    }
    postcard::from_bytes(payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{ListContacts, ListInput};

    fn list() -> CachedList {
        let contacts: Vec<crate::api::Contact> = serde_json::from_value(serde_json::json!([
            {"phone": "13012121211", "name": "Li"},
            {"phone": "+8613012121212"},
        ]))
        .expect("contacts");
        let parsed = ParsedList::build(&ListInput {
            name: "vip",
            default_region: Some("CN"),
            contacts: ListContacts::Inline(&contacts),
        });
        CachedList {
            document: 1,
            namespace: "default".into(),
            name: "vip".into(),
            list_json: b"{}".to_vec(),
            parsed,
            problems: vec![(3, "not a number".into())],
        }
    }

    #[test]
    fn an_entry_reads_back_as_written() {
        let lists = vec![list()];
        let bytes = encode(&lists).expect("encode");
        assert_eq!(decode(&bytes), Some(lists));
    }

    #[test]
    fn a_damaged_truncated_or_foreign_entry_is_not_read() {
        let bytes = encode(&[list()]).expect("encode");
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(decode(&flipped), None, "one bit changed");
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None, "truncated");
        assert_eq!(decode(&bytes[..20]), None, "shorter than the digest");
        assert_eq!(decode(b"CSPARSE0 anything"), None, "another format");
    }

    #[test]
    fn entries_are_written_when_the_run_finishes_and_a_read_only_cache_writes_nothing() {
        let state = tempfile::tempdir().expect("tempdir");
        let mut cache = ParseCache::open(state.path(), true);
        assert_ne!(cache.key(b"a"), cache.key(b"b"));
        let key = cache.key(b"a");
        cache.put(&key, &[list()]);
        assert!(!state.path().join(FOLDER).exists(), "nothing before finish");
        cache.finish();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(state.path().join(FOLDER))
                .expect("folder")
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o700);
        let mut reader = ParseCache::open(state.path(), false);
        assert_eq!(reader.get(&key), Some(vec![list()]));
        let other = reader.key(b"b");
        reader.put(&other, &[list()]);
        reader.finish();
        let mut again = ParseCache::open(state.path(), false);
        assert_eq!(again.get(&other), None, "a read-only cache wrote nothing");
        assert!(again.get(&key).is_some(), "and removed nothing");
    }

    #[test]
    fn finish_removes_the_entries_a_run_did_not_use() {
        let state = tempfile::tempdir().expect("tempdir");
        let mut first = ParseCache::open(state.path(), true);
        let (a, b) = (first.key(b"a"), first.key(b"b"));
        first.put(&a, &[list()]);
        first.put(&b, &[list()]);
        first.finish();
        let foreign = state.path().join(FOLDER).join("notes.ledger");
        std::fs::write(&foreign, "not ours").expect("write");
        let mut second = ParseCache::open(state.path(), true);
        assert!(second.get(&a).is_some());
        second.finish();
        let mut third = ParseCache::open(state.path(), true);
        assert!(third.get(&a).is_some(), "used by the second run: kept");
        assert!(third.get(&b).is_none(), "unused by the second run: removed");
        assert!(
            foreign.exists(),
            "a file the cache did not write is left alone"
        );
    }
}
