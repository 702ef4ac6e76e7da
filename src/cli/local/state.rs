//! The local state of `callsync apply`: one ledger a CallTask, in the ledger codec's bytes, at
//! `<state>/<namespace>/<calltask>.ledger`, with what changed since in
//! `<calltask>.journal` (`journal_file`). It is what the controller keeps in Secrets, and it
//! matters as much: for a provider that cannot list (NXLink) it is the only record of what
//! callsync added.
//!
//! Every save is durable before it returns, because a batch is only sent after its intent is
//! saved. Most saves append what changed to the journal (fsynced); the rule that decides
//! (`ledger::journal::next_save`, the controller's) writes a snapshot when the journal passes a
//! quarter of the ledger — written to a temporary file, fsynced, renamed over the old one, the
//! folder fsynced — and the journal is then removed. A lock on `<state>/lock` keeps two applies off one state (the OS drops it
//! when the process ends, however it ends).
//!
//! Ledgers hold phone numbers: the folders are 0700 and the files 0600 (`private_files`). A
//! state folder that others can access is tightened when it is callsync's own (it holds the
//! `lock` file, so an earlier callsync made it) and refused otherwise; a namespace folder
//! inside it is always callsync's and is tightened.
//! `--simulate --state DIR` keeps its ledgers in DIR too, marked: `<calltask>.ledger~simulated`
//! (`~` is in no Kubernetes name). A simulated ledger describes contacts at the embedded
//! simulator, a real one contacts at the provider; each kind of run refuses the other kind's
//! ledger of a task instead of acting on it.
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::journal_file::{self, Base};
use crate::cli::private_files::{PrivateDirError, WhenExposed, create_private_file, private_dir};
use crate::ledger::Ledger;
use crate::ledger::journal::{self, JournalLimits, Save, StoreRoom};
use crate::sync::SinkError;

/// Where ledgers live for this run.
#[derive(Debug)]
pub enum StateStore {
    /// A folder on disk, locked for this process; `simulated` for `--simulate` runs.
    Dir {
        root: PathBuf,
        simulated: bool,
        _lock: File,
        /// For each ledger file loaded or saved by this run: the snapshot its journal is bound
        /// to and where the journal's next frame goes. A ledger without one saves a snapshot
        /// first.
        tails: Mutex<HashMap<PathBuf, Tail>>,
    },
    /// Nothing on disk (`--simulate` without `--state`: the simulator starts empty every run,
    /// so a ledger kept from an earlier run would describe contacts that no longer exist).
    Memory,
}

/// The state cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot use state folder {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state folder: {0}")]
    Private(#[from] PrivateDirError),
    #[error("state folder {path} is in use by another `callsync apply` (lock {path}/lock)")]
    Locked { path: PathBuf },
    #[error(
        "the ledger {path} cannot be read: {detail}; move it away to start over (the provider's listing is then the record, NXLink has none)"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} is the ledger of a --simulate run: it describes contacts at the simulator, not at the provider; a real apply refuses it (use another --state folder, or move it away)"
    )]
    SimulatedLedger { path: PathBuf },
    #[error(
        "{path} is the ledger of a real run: --simulate refuses to read or overwrite it (use another --state folder)"
    )]
    RealLedger { path: PathBuf },
}

/// Suffix of a simulated ledger's file.
const SIMULATED_SUFFIX: &str = ".ledger~simulated";

/// The journal rule for a local file: every save that is not a snapshot appends what changed
/// since the last save (a seal), however little — an append costs what it holds.
const APPEND_ONLY: JournalLimits = JournalLimits {
    seal_after: 0,
    max_sealed: usize::MAX,
    max_journal_bytes: 0,
    max_sealed_bytes: u32::MAX as usize,
};

/// Where a ledger file's journal stands (see `StateStore::Dir::tails`).
#[derive(Clone, Copy, Debug)]
pub struct Tail {
    base: Base,
    end: u64,
}

/// The journal file beside a ledger file: `<task>.journal` (`<task>.journal~simulated`). The
/// suffix is replaced, never a `.ledger` inside a task's name (`a.ledger`'s journal must not
/// be `a.journal`'s ledger).
fn journal_path(ledger: &Path) -> PathBuf {
    let name = ledger.file_name().unwrap_or_default().to_string_lossy();
    let journal = if let Some(task) = name.strip_suffix(SIMULATED_SUFFIX) {
        format!("{task}.journal~simulated")
    } else {
        format!("{}.journal", name.strip_suffix(".ledger").unwrap_or(&name))
    };
    ledger.with_file_name(journal)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl StateStore {
    /// Opens (creating) a state folder. `exclusive` for apply; plan takes a shared lock, so
    /// it reads no half-finished sync's state while never blocking another plan.
    pub fn open(root: &Path, exclusive: bool) -> Result<Self, StateError> {
        let lock_path = root.join("lock");
        let ours = if lock_path.exists() {
            WhenExposed::Tighten
        } else {
            WhenExposed::Refuse
        };
        private_dir(root, ours)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(crate::cli::private_files::FILE_MODE)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        let locked = if exclusive {
            lock.try_lock()
        } else {
            lock.try_lock_shared()
        };
        match locked {
            Ok(()) => Ok(Self::Dir {
                root: root.to_path_buf(),
                simulated: false,
                _lock: lock,
                tails: Mutex::default(),
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StateError::Locked {
                path: root.to_path_buf(),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(StateError::Io {
                path: lock_path,
                source,
            }),
        }
    }

    /// Marks this store as the state of a `--simulate` run.
    pub fn simulated(mut self, on: bool) -> Self {
        if let Self::Dir { simulated, .. } = &mut self {
            *simulated = on;
        }
        self
    }

    /// The ledger file of a task for this kind of run, and the other kind's.
    fn paths(&self, namespace: &str, task: &str) -> Option<(PathBuf, PathBuf)> {
        match self {
            Self::Dir {
                root, simulated, ..
            } => {
                let dir = root.join(namespace);
                let real = dir.join(format!("{task}.ledger"));
                let simulated_path = dir.join(format!("{task}{SIMULATED_SUFFIX}"));
                Some(if *simulated {
                    (simulated_path, real)
                } else {
                    (real, simulated_path)
                })
            }
            Self::Memory => None,
        }
    }

    /// The ledger file of a task for this kind of run, after checking that the other kind's
    /// is not there.
    fn path(&self, namespace: &str, task: &str) -> Result<Option<PathBuf>, StateError> {
        let Some((mine, other)) = self.paths(namespace, task) else {
            return Ok(None);
        };
        if other.exists() {
            return Err(match self {
                Self::Dir {
                    simulated: true, ..
                } => StateError::RealLedger { path: other },
                _ => StateError::SimulatedLedger { path: other },
            });
        }
        Ok(Some(mine))
    }

    /// The pause journal of a task (`<task>.paused`, or `.paused~simulated` for a simulated
    /// run, which must never make a real run start a real task); `None` without a folder.
    pub fn pause_file(&self, namespace: &str, task: &str) -> Option<super::pause_file::PauseFile> {
        let Self::Dir {
            root, simulated, ..
        } = self
        else {
            return None;
        };
        let suffix = if *simulated {
            ".paused~simulated"
        } else {
            ".paused"
        };
        Some(super::pause_file::PauseFile::new(
            root.join(namespace).join(format!("{task}{suffix}")),
        ))
    }

    /// The ledger of a task — its snapshot with its journal replayed — or `None` when there
    /// is none yet.
    pub fn load(&self, namespace: &str, task: &str) -> Result<Option<Ledger>, StateError> {
        let Some(path) = self.path(namespace, task)? else {
            return Ok(None);
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&path)(e)),
        };
        let base = journal_file::base_of(&bytes);
        let journal = journal_path(&path);
        let frames = match std::fs::read(&journal) {
            Ok(data) => journal_file::read(&data, &base).map_err(|e| StateError::Corrupt {
                path: journal.clone(),
                detail: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(e) => return Err(io_error(&journal)(e)),
        };
        let ledger = journal::decode_stored(&bytes, &frames.payloads, None).map_err(|e| {
            StateError::Corrupt {
                path: match e {
                    journal::StoredLedgerError::Snapshot(_) => path.clone(),
                    _ => journal.clone(),
                },
                detail: e.to_string(),
            }
        })?;
        if let Self::Dir { tails, .. } = self {
            let tail = Tail {
                base,
                end: frames.end,
            };
            tails.lock().expect("tails").insert(path, tail);
        }
        Ok(Some(ledger))
    }

    /// Saves a task's ledger durably: appends what changed since the last save to its
    /// journal, or writes a snapshot atomically when the rule says so (a first save, or a
    /// journal past a quarter of the ledger) and removes the journal.
    pub fn save(&self, namespace: &str, task: &str, ledger: &mut Ledger) -> Result<(), SinkError> {
        let path = self.path(namespace, task).map_err(|e| SinkError {
            message: e.to_string(),
            reason: "StateWrite",
        })?;
        let (Some(path), Self::Dir { tails, .. }) = (path, self) else {
            ledger.snapshot_taken();
            return Ok(());
        };
        let write_err = |path: &Path, e: std::io::Error| SinkError {
            message: format!("{}: {e}", path.display()),
            reason: "StateWrite",
        };
        let tail = tails.lock().expect("tails").get(&path).copied();
        let room = StoreRoom {
            journals: tail.is_some(),
            sealed: 0,
        };
        let save = journal::next_save(ledger, room, &APPEND_ONLY).map_err(|e| SinkError {
            message: e.to_string(),
            reason: "LedgerEncode",
        })?;
        let journal = journal_path(&path);
        // The folder is the ledger's: tightened before any write into it (an earlier callsync
        // made it 0755), by an append as by a snapshot.
        let dir = path.parent().unwrap_or(Path::new("."));
        private_dir(dir, WhenExposed::Tighten)
            .map_err(|e| write_err(dir, std::io::Error::other(e)))?;
        let tail = match save {
            Save::Seal(bytes) | Save::Journal(bytes) => {
                // `next_save` journals only when told a snapshot is there to bind to.
                let Some(tail) = tail else {
                    return Err(SinkError {
                        message: "a journal was encoded for a ledger without a snapshot".into(),
                        reason: "LedgerEncode",
                    });
                };
                let end = journal_file::append(&journal, &tail.base, tail.end, &bytes)
                    .map_err(|e| write_err(&journal, e))?;
                ledger.journal_sealed();
                Tail { end, ..tail }
            }
            Save::Snapshot(bytes) => {
                write_atomic(&path, &bytes).map_err(|e| write_err(&path, e))?;
                // A crash before this leaves a journal bound to the old snapshot: ignored.
                journal_file::remove(&journal).map_err(|e| write_err(&journal, e))?;
                ledger.snapshot_taken();
                Tail {
                    base: journal_file::base_of(&bytes),
                    end: 0,
                }
            }
        };
        tails.lock().expect("tails").insert(path, tail);
        Ok(())
    }
}

/// temp file → fsync → rename → fsync of the folder: after a crash the file holds either the
/// old or the new ledger, never a mix, and a returned save survives power loss.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir, WhenExposed::Tighten).map_err(std::io::Error::other)?;
    let tmp = path.with_extension(format!("ledger.tmp-{}", std::process::id()));
    {
        // 0600 from the start: the rename puts this file, mode and all, in the old one's place.
        let mut file = create_private_file(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{ContentDigest, Phone};

    #[test]
    fn saves_atomically_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("state");
        let store = StateStore::open(&root, true).expect("open");
        assert!(store.load("ns", "t").expect("load").is_none());
        let mut ledger = Ledger::new("uid-1");
        let phone = Phone::parse("+8613012121211", None).expect("valid");
        ledger.record_add_intent(&[(phone, ContentDigest(7))]);
        store.save("ns", "t", &mut ledger).expect("save");
        let back = store.load("ns", "t").expect("load").expect("present");
        assert_eq!(back.len(), 1);
        assert_eq!(back.task_uid(), "uid-1");
        let leftovers: Vec<_> = std::fs::read_dir(root.join("ns"))
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    /// A ledger of `n` accepted entries from `from`.
    fn add_accepted(ledger: &mut Ledger, from: u64, n: u64) {
        let new: Vec<(Phone, ContentDigest)> = (from..from + n)
            .map(|i| {
                (
                    Phone::from_u64_unchecked(8613000000000 + i),
                    ContentDigest(i),
                )
            })
            .collect();
        ledger.record_add_intent(&new);
        for &(p, _) in &new {
            ledger.record_add_outcome(p, crate::ledger::ItemOutcome::Accepted);
        }
    }

    #[test]
    fn journal_files_take_the_ledger_files_suffix_only() {
        let j = |p: &str| journal_path(Path::new(p)).display().to_string();
        assert_eq!(j("/s/ns/t.ledger"), "/s/ns/t.journal");
        assert_eq!(j("/s/ns/t.ledger~simulated"), "/s/ns/t.journal~simulated");
        assert_eq!(j("/s/ns/a.ledger.ledger"), "/s/ns/a.ledger.journal");
        assert_ne!(j("/s/ns/a.ledger.ledger"), "/s/ns/a.journal.ledger");
    }

    /// The first save writes the snapshot; later ones append to the journal and leave the
    /// ledger file alone; a new run replays the journal. A journal left bound to an older
    /// snapshot (a crash between a snapshot and the journal's removal) is ignored, and damage
    /// before the journal's last frame is refused, naming the journal.
    #[test]
    fn saves_append_to_the_journal_and_a_new_run_replays_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("state");
        let ledger_file = root.join("ns").join("t.ledger");
        let journal_file = root.join("ns").join("t.journal");
        let mut ledger = Ledger::new("uid-1");
        {
            let store = StateStore::open(&root, true).expect("open");
            add_accepted(&mut ledger, 0, 100);
            store.save("ns", "t", &mut ledger).expect("save");
            assert!(!journal_file.exists(), "a first save is a snapshot");
            let snapshot = std::fs::read(&ledger_file).expect("snapshot");
            for round in 0..3 {
                add_accepted(&mut ledger, 1_000 + round * 10, 10);
                store.save("ns", "t", &mut ledger).expect("save");
            }
            assert_eq!(
                std::fs::read(&ledger_file).expect("snapshot"),
                snapshot,
                "appends leave the snapshot alone"
            );
            assert_eq!(mode(&journal_file), 0o600);
        }
        let store = StateStore::open(&root, true).expect("open");
        let back = store.load("ns", "t").expect("load").expect("present");
        assert_eq!(back, ledger);
        assert_eq!(back.len(), 130);
        let journal = std::fs::read(&journal_file).expect("journal");

        // A save by a run that did not load (no journal to bind to) writes a snapshot and
        // removes the journal; put back, the old journal is bound to the old snapshot.
        let mut again = back.clone();
        add_accepted(&mut again, 2_000, 1);
        drop(store);
        let store = StateStore::open(&root, true).expect("open");
        store.save("ns", "t", &mut again).expect("save");
        assert!(!journal_file.exists());
        std::fs::write(&journal_file, &journal).expect("put back");
        assert_eq!(
            store.load("ns", "t").expect("load").expect("present"),
            again
        );

        // Damage before the last frame.
        add_accepted(&mut again, 3_000, 2);
        store.save("ns", "t", &mut again).expect("save");
        add_accepted(&mut again, 4_000, 2);
        store.save("ns", "t", &mut again).expect("save");
        let mut damaged = std::fs::read(&journal_file).expect("journal");
        damaged[36 + 20] ^= 1;
        std::fs::write(&journal_file, &damaged).expect("damage");
        let err = store.load("ns", "t").expect_err("damage");
        assert!(
            matches!(&err, StateError::Corrupt { path, .. } if path == &journal_file),
            "{err}"
        );
        assert!(
            err.to_string().contains("does not match its digest"),
            "{err}"
        );
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    fn one_ledger() -> Ledger {
        let mut ledger = Ledger::new("uid-1");
        let phone = Phone::parse("+8613012121211", None).expect("valid");
        ledger.record_add_intent(&[(phone, ContentDigest(7))]);
        ledger
    }

    /// Ledgers hold phone numbers: were 0755 folders and 0644 files, readable by every local
    /// user.
    #[test]
    fn state_folders_and_ledgers_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("state");
        let store = StateStore::open(&root, true).expect("open");
        store.save("ns", "t", &mut one_ledger()).expect("save");
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("ns")), 0o700);
        assert_eq!(mode(&root.join("ns/t.ledger")), 0o600);
        drop(store);

        // An earlier callsync's state (it holds the lock file): tightened, file by file.
        let loose = |p: &Path, m| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
        };
        loose(&root, 0o755);
        loose(&root.join("ns"), 0o755);
        loose(&root.join("ns/t.ledger"), 0o644);
        let store = StateStore::open(&root, true).expect("reopen");
        store.save("ns", "t", &mut one_ledger()).expect("save");
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("ns")), 0o700);
        assert_eq!(mode(&root.join("ns/t.ledger")), 0o600);
        drop(store);

        // Someone else's folder: refused with the chmod that fixes it, left as it was.
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).expect("mkdir");
        loose(&shared, 0o755);
        let err = StateStore::open(&shared, true).expect_err("exposed");
        assert!(
            err.to_string()
                .contains(&format!("run `chmod 700 {}`", shared.display())),
            "{err}"
        );
        assert_eq!(mode(&shared), 0o755);
    }

    /// `--simulate --state DIR` used to write its ledgers unmarked, where a real apply took
    /// them for the record of the provider (and the other way round).
    #[test]
    fn simulated_and_real_ledgers_never_mix() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // A folder callsync makes (a tempdir is 0755, which the state refuses).
        let dir = tmp.path().join("state");
        let dir = dir.as_path();
        let phone = Phone::parse("+8613012121211", None).expect("valid");
        let mut ledger = Ledger::new("uid-1");
        ledger.record_add_intent(&[(phone, ContentDigest(7))]);
        {
            let simulated = StateStore::open(dir, true).expect("open").simulated(true);
            simulated.save("ns", "t", &mut ledger).expect("save");
            assert_eq!(
                simulated.load("ns", "t").expect("load").map(|l| l.len()),
                Some(1)
            );
        }
        assert!(dir.join("ns/t.ledger~simulated").exists());
        assert!(!dir.join("ns/t.ledger").exists());
        let real = StateStore::open(dir, true).expect("open");
        assert!(matches!(
            real.load("ns", "t"),
            Err(StateError::SimulatedLedger { .. })
        ));
        assert!(real.save("ns", "t", &mut ledger).is_err());
        drop(real);

        std::fs::remove_file(dir.join("ns/t.ledger~simulated")).expect("rm");
        let real = StateStore::open(dir, true).expect("open");
        real.save("ns", "t", &mut ledger).expect("save");
        drop(real);
        let simulated = StateStore::open(dir, true).expect("open").simulated(true);
        assert!(matches!(
            simulated.load("ns", "t"),
            Err(StateError::RealLedger { .. })
        ));
        assert!(simulated.save("ns", "t", &mut ledger).is_err());
    }

    #[test]
    fn a_second_apply_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("state");
        let _first = StateStore::open(&root, true).expect("open");
        let second = StateStore::open(&root, true);
        assert!(
            matches!(second, Err(StateError::Locked { .. })),
            "{second:?}"
        );
    }
}
