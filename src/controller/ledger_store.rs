//! The ledger's home in Kubernetes: Secrets owned by the CallTask (phones are personal data),
//! type `callsync.io/ledger`, sharded below etcd's object limit, written with optimistic
//! concurrency.
//!
//! The store moves opaque bytes (the ledger codec's and journal's compressed forms); it knows
//! nothing of entries. Layout for a CallTask `t` whose snapshot is at generation `g`:
//!
//! - head Secret `t-ledger`: annotations hold the generation, the shard count, the SHA-256 of
//!   the snapshot and, with a journal, the journal's SHA-256. A small snapshot (at most
//!   [`INLINE_SNAPSHOT_MAX`] bytes, and of at most [`INLINE_ENTRIES_MAX`] entries when the
//!   caller says: `save_snapshot`) is the head's data itself (key `ledger`), and every save
//!   rewrites it. A larger one is *detached* (annotation `callsync.io/ledger-layout:
//!   detached`): all its shards are Secrets of their own, and the head's data holds only the
//!   *live* journal (key `journal`, `ledger::journal`) — what changed since the snapshot or
//!   the last sealed journal, so that a save around a batch writes what the batch changed,
//!   not the whole ledger — and the annotation `callsync.io/ledger-sealed` lists the sealed
//!   journals, oldest first, each as `<id>:<sha256>` (layout `detached-sealed` then).
//! - shard Secrets `t-ledger-g<g>-<write>-<i>` (i ≥ 1, or i ≥ 0 when detached); `<write>` is
//!   unique per snapshot, so two writers racing from the same version never touch each other's
//!   shards. Shards are written once and never changed.
//! - sealed journal Secrets `t-ledger-g<g>-<write>-s<id>` (key `journal`), `<id>` unique per
//!   seal: a live journal grown to a seal's size, written once and never changed, so that the
//!   live journal, which every save rewrites, stays small however large the sync.
//!
//! A snapshot save writes its shards first, then the head (the commit point, with the head's
//! resourceVersion as precondition), then deletes the shards and sealed journals of older
//! generations and the shards of writers that lost the race. A journal save replaces the head
//! alone, on the same precondition. A seal writes its sealed journal Secret first, then the
//! head that lists it (with an empty live journal), on the same precondition; one that lost
//! the race deletes its Secret, and one a crash left unlisted is deleted with its generation at
//! the next snapshot. A crash at any point leaves the previous head and what it lists intact:
//! readers never see a mix. Every write goes through the head's resourceVersion, so two
//! writers never both succeed.
//!
//! Every ledger Secret carries the finalizer [`LEDGER_FINALIZER`]: the garbage collector
//! (foreground deletion of the CallTask) and the namespace controller (namespace deletion) may
//! mark the Secrets deleted, but they stay readable until cleanup has used them and
//! [`LedgerStore::delete`] lets them go. Ledgers written before the finalizer existed get it on
//! their next load.
use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use sha2::{Digest, Sha256};

use crate::api::reasons;
use crate::ledger::codec::DecodeLimits;

/// Secret type of ledger Secrets.
pub const LEDGER_SECRET_TYPE: &str = "callsync.io/ledger";
/// Label with the owning CallTask's UID (names can be longer than a label value may be).
pub const LEDGER_OWNER_LABEL: &str = "callsync.io/ledger-of";
/// Keeps a ledger Secret readable, once deleted by a cascade, until cleanup has used it.
pub const LEDGER_FINALIZER: &str = "callsync.io/ledger-retained";
/// Attempts at removing the finalizer from one Secret when other writers keep changing it.
const RELEASE_ATTEMPTS: usize = 5;
const GENERATION_ANNOTATION: &str = "callsync.io/ledger-generation";
const SHARDS_ANNOTATION: &str = "callsync.io/ledger-shards";
const DIGEST_ANNOTATION: &str = "callsync.io/ledger-sha256";
const GENERATION_LABEL: &str = "callsync.io/ledger-generation";
const WRITE_ANNOTATION: &str = "callsync.io/ledger-write";
const WRITE_LABEL: &str = "callsync.io/ledger-write";
const DATA_KEY: &str = "ledger";
const JOURNAL_KEY: &str = "journal";
const LAYOUT_ANNOTATION: &str = "callsync.io/ledger-layout";
const DETACHED: &str = "detached";
/// The layout of a detached head that lists sealed journals. A layout of its own so that a
/// callsync from before sealed journals, which would ignore the list and read the ledger
/// without them, refuses the head instead ("unknown layout").
const DETACHED_SEALED: &str = "detached-sealed";
const JOURNAL_DIGEST_ANNOTATION: &str = "callsync.io/ledger-journal-sha256";
const SEALED_ANNOTATION: &str = "callsync.io/ledger-sealed";
/// More sealed journals than this means something is wrong upstream: the save rule
/// (`ledger::journal::JournalLimits`) seals at most 64 before it compacts.
const MAX_SEALED: usize = 128;
/// The largest snapshot kept in the head Secret itself. Rewriting it whole costs little below
/// this (about 14,000 contacts); above, the snapshot is detached and saves write journals.
pub const INLINE_SNAPSHOT_MAX: usize = 128 * 1024;
/// The most entries a ledger kept inline may hold, however small its snapshot compresses:
/// contacts with a phone alone share one content digest, and a million of them compress below
/// [`INLINE_SNAPSHOT_MAX`], yet encoding them costs the same as any million. Inline, every save
/// rewrites the whole snapshot, so a first sync of such a task saved a million-entry snapshot
/// before each of its 2,000 batches (BENCHMARKS.md, "Many CallTasks"). The sink asks for a
/// detached snapshot past this.
pub const INLINE_ENTRIES_MAX: usize = 14_000;
/// etcd refuses objects over 1.5 MiB and the apiserver Secrets over 1 MiB of data; 768 KiB per
/// shard leaves room for metadata and managed fields.
pub const DEFAULT_MAX_SHARD_BYTES: usize = 768 * 1024;
/// More shards than this means something is wrong upstream (about 48 MiB compressed).
const MAX_SHARDS: usize = 64;
const MAX_NAME: usize = 253;

/// Errors of the ledger store. Messages name Secrets, never their content.
#[derive(Debug, thiserror::Error)]
pub enum LedgerStoreError {
    #[error("the ledger of CallTask {task} was changed by another writer; reload and retry")]
    Conflict { task: String },
    #[error("the ledger of CallTask {task} is damaged: {what}")]
    Corrupt { task: String, what: String },
    #[error(
        "the ledger of CallTask {task} needs {shards} Secrets, more than the {MAX_SHARDS} allowed"
    )]
    TooLarge { task: String, shards: usize },
    #[error("Kubernetes API error on the ledger of CallTask {task}: {source}")]
    Kube {
        task: String,
        #[source]
        source: kube::Error,
    },
}

impl LedgerStoreError {
    /// A short CamelCase word for metrics and condition reasons (one of
    /// [`reasons::CALL_TASK`]).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Conflict { .. } => reasons::LEDGER_CONFLICT,
            Self::Corrupt { .. } => reasons::LEDGER_CORRUPT,
            Self::TooLarge { .. } => reasons::LEDGER_TOO_LARGE,
            Self::Kube { .. } => reasons::KUBERNETES_ERROR,
        }
    }
}

/// Where a loaded ledger stands, to make the next save conditional on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerVersion {
    /// Counts snapshots; names the shard Secrets of this generation.
    pub generation: u64,
    /// Whether the snapshot is detached from the head (see the module docs): only then can a
    /// save be a journal ([`LedgerStore::save_journal`]).
    pub detached: bool,
    /// The snapshot's write id, shard count and digest, which a journal save keeps in the head.
    write: String,
    shards: usize,
    digest: String,
    /// The sealed journals the head lists, oldest first.
    sealed: Vec<SealedJournal>,
    head_resource_version: String,
    /// The head's finalizers as loaded: a save keeps them (and adds ours unless the head is
    /// being deleted, when the apiserver refuses new finalizers).
    head_finalizers: Vec<String>,
    head_deleting: bool,
}

impl LedgerVersion {
    /// A version at `generation` of nothing in particular (unit tests of what keeps versions).
    #[cfg(test)]
    pub(crate) fn for_tests(generation: u64) -> Self {
        Self {
            generation,
            detached: true,
            write: "test".into(),
            shards: 1,
            digest: String::new(),
            sealed: Vec::new(),
            head_resource_version: generation.to_string(),
            head_finalizers: Vec::new(),
            head_deleting: false,
        }
    }
}

impl LedgerVersion {
    /// Sealed journals the ledger holds at this version (`ledger::journal::StoreRoom`).
    pub fn sealed(&self) -> usize {
        self.sealed.len()
    }
}

/// One sealed journal a head lists: its Secret's id and the SHA-256 of its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SealedJournal {
    id: String,
    digest: String,
}

/// The head's list of sealed journals (`<id>:<sha256>,…`).
fn sealed_annotation(sealed: &[SealedJournal]) -> String {
    sealed
        .iter()
        .map(|s| format!("{}:{}", s.id, s.digest))
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads the head's list of sealed journals; `None` when it is not one this build wrote.
fn parse_sealed(value: &str) -> Option<Vec<SealedJournal>> {
    if value.is_empty() {
        return Some(Vec::new());
    }
    value
        .split(',')
        .map(|item| {
            let (id, digest) = item.split_once(':')?;
            let plain = |s: &str, len| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
            (plain(id, 12) && plain(digest, 64)).then(|| SealedJournal {
                id: id.to_string(),
                digest: digest.to_string(),
            })
        })
        .collect()
}

/// What [`LedgerStore::load_since`] found.
#[derive(Debug)]
pub enum LedgerRead {
    /// No ledger yet.
    None,
    /// The ledger is still at the version the caller knows: nothing was read but the head.
    Unchanged,
    /// The ledger as stored.
    Stored(Box<StoredLedger>),
}

/// A loaded ledger.
#[derive(Clone, Debug)]
pub struct StoredLedger {
    /// The snapshot (`ledger::codec`).
    pub bytes: Vec<u8>,
    /// The sealed journals to replay onto it, oldest first (`ledger::journal`).
    pub sealed: Vec<Vec<u8>>,
    /// The names of their Secrets, in the same order.
    pub sealed_secrets: Vec<String>,
    /// The live journal to replay after them, when the head holds one.
    pub journal: Option<Vec<u8>>,
    pub version: LedgerVersion,
}

impl StoredLedger {
    /// The ledger: the snapshot with the journals replayed (`ledger::journal::decode_stored`).
    pub fn decode(
        &self,
    ) -> Result<crate::ledger::Ledger, crate::ledger::journal::StoredLedgerError> {
        crate::ledger::journal::decode_stored(&self.bytes, &self.sealed, self.journal.as_deref())
    }

    /// The Secret holding the part `err` blames: a sealed journal's own, else the head's
    /// (`head`), where the snapshot's digest and the live journal are.
    pub fn secret_of(&self, err: &crate::ledger::journal::StoredLedgerError, head: &str) -> String {
        match err {
            crate::ledger::journal::StoredLedgerError::Sealed { index, .. } => self
                .sealed_secrets
                .get(*index)
                .cloned()
                .unwrap_or_else(|| head.to_string()),
            _ => head.to_string(),
        }
    }
}

/// The ledger Secrets of one CallTask.
pub struct LedgerStore {
    api: Api<Secret>,
    task: String,
    task_uid: String,
    owner: OwnerReference,
    max_shard_bytes: usize,
}

impl LedgerStore {
    /// A store for the CallTask `owner` (its name, UID, kind and apiVersion) in `namespace`.
    pub fn new(client: Client, namespace: &str, owner: OwnerReference) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            task: owner.name.clone(),
            task_uid: owner.uid.clone(),
            owner: OwnerReference {
                controller: Some(true),
                ..owner
            },
            max_shard_bytes: DEFAULT_MAX_SHARD_BYTES,
        }
    }

    /// Smaller shards, so tests can exercise sharding without megabytes of data.
    pub fn with_max_shard_bytes(mut self, max_shard_bytes: usize) -> Self {
        self.max_shard_bytes = max_shard_bytes.max(1);
        self
    }

    /// The client the store writes with.
    pub fn client(&self) -> kube::Client {
        self.api.clone().into_client()
    }

    /// Name of the head Secret.
    pub fn head_name(&self) -> String {
        secret_name(&self.task, "ledger")
    }

    fn shard_name(&self, generation: u64, write: &str, index: usize) -> String {
        secret_name(&self.task, &format!("ledger-g{generation}-{write}-{index}"))
    }

    fn sealed_name(&self, generation: u64, write: &str, id: &str) -> String {
        secret_name(&self.task, &format!("ledger-g{generation}-{write}-s{id}"))
    }

    fn kube_err(&self, source: kube::Error) -> LedgerStoreError {
        LedgerStoreError::Kube {
            task: self.task.clone(),
            source,
        }
    }

    fn corrupt(&self, what: impl Into<String>) -> LedgerStoreError {
        LedgerStoreError::Corrupt {
            task: self.task.clone(),
            what: what.into(),
        }
    }

    /// Refuses a ledger whose Secrets, up to `secret`, hold more than the codec reads.
    fn check_size(&self, total: usize, secret: &str) -> Result<(), LedgerStoreError> {
        let limit = DecodeLimits::DEFAULT.max_compressed;
        if total > limit {
            return Err(self.corrupt(format!(
                "Secret {secret} brings the ledger to {total} bytes, more than the {limit} \
                 this build reads"
            )));
        }
        Ok(())
    }

    /// Reads the ledger; `None` when the CallTask has none yet.
    pub async fn load(&self) -> Result<Option<StoredLedger>, LedgerStoreError> {
        Ok(match self.load_since(None).await? {
            LedgerRead::Stored(stored) => Some(*stored),
            LedgerRead::None | LedgerRead::Unchanged => None,
        })
    }

    /// Reads the ledger unless it is still at `known` (the head Secret's resourceVersion is
    /// the same: nothing wrote it since), when only the head is read.
    pub async fn load_since(
        &self,
        known: Option<&LedgerVersion>,
    ) -> Result<LedgerRead, LedgerStoreError> {
        let Some(head) = self
            .api
            .get_opt(&self.head_name())
            .await
            .map_err(|e| self.kube_err(e))?
        else {
            return Ok(LedgerRead::None);
        };
        if let Some(known) = known
            && head.metadata.resource_version.as_ref() == Some(&known.head_resource_version)
        {
            return Ok(LedgerRead::Unchanged);
        }
        let annotations = head.metadata.annotations.clone().unwrap_or_default();
        let number = |key: &str| -> Result<u64, LedgerStoreError> {
            annotations
                .get(key)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| self.corrupt(format!("head Secret lacks a valid {key} annotation")))
        };
        let generation = number(GENERATION_ANNOTATION)?;
        let shards = usize::try_from(number(SHARDS_ANNOTATION)?)
            .map_err(|_| self.corrupt("shard count out of range"))?;
        if shards == 0 || shards > MAX_SHARDS {
            return Err(self.corrupt(format!("shard count {shards} out of range")));
        }
        let digest = annotations
            .get(DIGEST_ANNOTATION)
            .ok_or_else(|| self.corrupt("head Secret lacks its digest annotation"))?;
        let write = annotations
            .get(WRITE_ANNOTATION)
            .ok_or_else(|| self.corrupt("head Secret lacks its write annotation"))?;
        let head_name = self.head_name();
        let (detached, lists_sealed) = match annotations.get(LAYOUT_ANNOTATION).map(String::as_str)
        {
            None => (false, false),
            Some(DETACHED) => (true, false),
            Some(DETACHED_SEALED) => (true, true),
            Some(other) => {
                return Err(self.corrupt(format!(
                    "head Secret {head_name} has the unknown layout {other:?} (written by a newer \
                     callsync?)"
                )));
            }
        };

        // Secrets are written by whoever may write Secrets in the namespace: the whole is
        // bounded before it is gathered, and the codec bounds what it inflates to.
        let (mut bytes, first_shard) = if detached {
            (Vec::new(), 0)
        } else {
            let inline = secret_data(&head, DATA_KEY)
                .ok_or_else(|| self.corrupt(format!("head Secret {head_name} has no data")))?;
            (inline, 1)
        };
        self.check_size(bytes.len(), &head_name)?;
        for index in first_shard..shards {
            let name = self.shard_name(generation, write, index);
            let shard = self
                .api
                .get_opt(&name)
                .await
                .map_err(|e| self.kube_err(e))?
                .ok_or_else(|| self.corrupt(format!("shard Secret {name} is missing")))?;
            let data = secret_data(&shard, DATA_KEY)
                .ok_or_else(|| self.corrupt(format!("shard Secret {name} has no data")))?;
            self.check_size(bytes.len() + data.len(), &name)?;
            bytes.extend(data);
        }
        if &sha256_hex(&bytes) != digest {
            return Err(self.corrupt(format!(
                "the snapshot does not match the digest in the head Secret {head_name}"
            )));
        }
        let (sealed_refs, sealed) = self
            .sealed_of(&head, lists_sealed, generation, write, bytes.len())
            .await?;
        let sealed_secrets = sealed_refs
            .iter()
            .map(|s| self.sealed_name(generation, write, &s.id))
            .collect();
        let read = bytes.len() + sealed.iter().map(Vec::len).sum::<usize>();
        let journal = self.journal_of(&head, detached, read)?;
        let (write, digest) = (write.clone(), digest.clone());
        let head = self
            .retain(head, generation, &write, first_shard..shards)
            .await?;
        let head_deleting = head.metadata.deletion_timestamp.is_some();
        let head_finalizers = head.metadata.finalizers.unwrap_or_default();
        let head_resource_version = head
            .metadata
            .resource_version
            .ok_or_else(|| self.corrupt("head Secret has no resourceVersion"))?;
        Ok(LedgerRead::Stored(Box::new(StoredLedger {
            bytes,
            sealed,
            sealed_secrets,
            journal,
            version: LedgerVersion {
                generation,
                detached,
                write,
                shards,
                digest,
                sealed: sealed_refs,
                head_resource_version,
                head_finalizers,
                head_deleting,
            },
        })))
    }

    /// The sealed journals a head lists, read from their Secrets and checked against their
    /// digests, oldest first. A head lists some exactly when its layout says so.
    async fn sealed_of(
        &self,
        head: &Secret,
        lists_sealed: bool,
        generation: u64,
        write: &str,
        mut read: usize,
    ) -> Result<(Vec<SealedJournal>, Vec<Vec<u8>>), LedgerStoreError> {
        let head_name = self.head_name();
        let listed = head
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(SEALED_ANNOTATION));
        let refs = match listed {
            None => Vec::new(),
            Some(listed) => parse_sealed(listed).ok_or_else(|| {
                self.corrupt(format!(
                    "head Secret {head_name} has an unreadable {SEALED_ANNOTATION} annotation"
                ))
            })?,
        };
        if refs.is_empty() == lists_sealed {
            return Err(self.corrupt(format!(
                "head Secret {head_name} {} sealed journals, but its {LAYOUT_ANNOTATION} \
                 annotation says it {}",
                if lists_sealed { "lists no" } else { "lists" },
                if lists_sealed { "does" } else { "does not" },
            )));
        }
        if refs.len() > MAX_SEALED {
            return Err(self.corrupt(format!(
                "head Secret {head_name} lists {} sealed journals, more than the {MAX_SEALED} \
                 this build reads",
                refs.len()
            )));
        }
        let mut sealed = Vec::with_capacity(refs.len());
        for sealed_ref in &refs {
            let name = self.sealed_name(generation, write, &sealed_ref.id);
            let secret = self
                .api
                .get_opt(&name)
                .await
                .map_err(|e| self.kube_err(e))?
                .ok_or_else(|| self.corrupt(format!("sealed journal Secret {name} is missing")))?;
            let data = secret_data(&secret, JOURNAL_KEY).ok_or_else(|| {
                self.corrupt(format!("sealed journal Secret {name} has no journal"))
            })?;
            read += data.len();
            self.check_size(read, &name)?;
            if sha256_hex(&data) != sealed_ref.digest {
                return Err(self.corrupt(format!(
                    "sealed journal Secret {name} does not match its digest in the head Secret \
                     {head_name}"
                )));
            }
            sealed.push(data);
        }
        Ok((refs, sealed))
    }

    /// The live journal a head holds, checked against its digest; `None` without one. Only a
    /// detached head may hold one.
    fn journal_of(
        &self,
        head: &Secret,
        detached: bool,
        snapshot_len: usize,
    ) -> Result<Option<Vec<u8>>, LedgerStoreError> {
        let head_name = self.head_name();
        let Some(journal) = secret_data(head, JOURNAL_KEY) else {
            return Ok(None);
        };
        if !detached {
            return Err(self.corrupt(format!(
                "head Secret {head_name} holds a journal next to an inline snapshot"
            )));
        }
        self.check_size(snapshot_len + journal.len(), &head_name)?;
        let annotations = head.metadata.annotations.as_ref();
        let digest = annotations
            .and_then(|a| a.get(JOURNAL_DIGEST_ANNOTATION))
            .ok_or_else(|| {
                self.corrupt(format!(
                    "head Secret {head_name} holds a journal without its digest annotation"
                ))
            })?;
        if &sha256_hex(&journal) != digest {
            return Err(self.corrupt(format!(
                "the journal in head Secret {head_name} does not match its digest"
            )));
        }
        Ok(Some(journal))
    }

    /// Writes `bytes` as the next generation, provided the ledger is still at `expected` (`None`:
    /// provided there is no ledger yet). Another writer in between gives
    /// [`LedgerStoreError::Conflict`] and changes nothing that readers see. The snapshot is
    /// detached when it is larger than [`INLINE_SNAPSHOT_MAX`], or when `detach` says so.
    pub async fn save(
        &self,
        bytes: &[u8],
        expected: Option<&LedgerVersion>,
    ) -> Result<LedgerVersion, LedgerStoreError> {
        self.save_snapshot(bytes, expected, false).await
    }

    /// [`save`](Self::save), detached also when `detach` (a ledger whose snapshot compresses
    /// small but is costly to encode: journals then stand for it between snapshots).
    pub async fn save_snapshot(
        &self,
        bytes: &[u8],
        expected: Option<&LedgerVersion>,
        detach: bool,
    ) -> Result<LedgerVersion, LedgerStoreError> {
        let chunks: Vec<&[u8]> = if bytes.is_empty() {
            vec![bytes]
        } else {
            bytes.chunks(self.max_shard_bytes).collect()
        };
        let detached = detach || bytes.len() > INLINE_SNAPSHOT_MAX;
        if chunks.len() > MAX_SHARDS {
            return Err(LedgerStoreError::TooLarge {
                task: self.task.clone(),
                shards: chunks.len(),
            });
        }
        let generation = expected.map_or(1, |v| v.generation + 1);
        let write = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();

        for (index, chunk) in chunks.iter().enumerate().skip(usize::from(!detached)) {
            let name = self.shard_name(generation, &write, index);
            let shard = self.secret(name, generation, &write, Some((DATA_KEY, chunk)), None);
            if let Err(e) = self.api.create(&PostParams::default(), &shard).await {
                self.delete_shards(|g, w| g == generation && w == write)
                    .await
                    .ok();
                return Err(self.kube_err(e));
            }
        }

        let mut version = LedgerVersion {
            generation,
            detached,
            write: write.clone(),
            shards: chunks.len(),
            digest: sha256_hex(bytes),
            sealed: Vec::new(),
            head_resource_version: String::new(),
            head_finalizers: Vec::new(),
            head_deleting: false,
        };
        let data = if detached {
            None
        } else {
            Some((DATA_KEY, chunks[0]))
        };
        let written = self.write_head(&version, data, expected).await;
        let written = match written {
            Ok(written) => written,
            Err(e) => {
                // Best effort: our shards are unreachable; the next successful save removes
                // them if this fails.
                self.delete_shards(|g, w| g == generation && w == write)
                    .await
                    .ok();
                return Err(e);
            }
        };

        // Older generations (their shards and sealed journals), and writers that lost the race
        // for this one. Newer generations belong to a writer that started after this commit
        // and are left alone.
        self.delete_shards(|g, w| g < generation || (g == generation && w != write))
            .await?;
        self.written(&mut version, written)?;
        Ok(version)
    }

    /// Writes `journal` (`ledger::journal`) into the head, over the one it held, provided the
    /// ledger is still at `expected` — whose snapshot must be detached. Another writer in
    /// between gives [`LedgerStoreError::Conflict`].
    pub async fn save_journal(
        &self,
        journal: &[u8],
        expected: &LedgerVersion,
    ) -> Result<LedgerVersion, LedgerStoreError> {
        self.journals_allowed(expected, "saved")?;
        let mut version = expected.clone();
        let written = self
            .write_head(&version, Some((JOURNAL_KEY, journal)), Some(expected))
            .await?;
        self.written(&mut version, written)?;
        Ok(version)
    }

    /// Refuses a journal next to an inline snapshot: only a detached head holds journals (a
    /// caller that asks is wrong, and should have saved a snapshot).
    fn journals_allowed(
        &self,
        expected: &LedgerVersion,
        what: &str,
    ) -> Result<(), LedgerStoreError> {
        if expected.detached {
            return Ok(());
        }
        Err(self.corrupt(format!(
            "a journal was to be {what} next to an inline snapshot (a bug: save a snapshot)"
        )))
    }

    /// Seals `journal` (`ledger::journal::Save::Seal`): writes it as a Secret of its own, then
    /// the head that lists it after the sealed journals it held, with no live journal,
    /// provided the ledger is still at `expected` — whose snapshot must be detached. Another
    /// writer in between gives [`LedgerStoreError::Conflict`], and the Secret is deleted.
    pub async fn save_seal(
        &self,
        journal: &[u8],
        expected: &LedgerVersion,
    ) -> Result<LedgerVersion, LedgerStoreError> {
        self.journals_allowed(expected, "sealed")?;
        if expected.sealed.len() >= MAX_SEALED {
            return Err(LedgerStoreError::TooLarge {
                task: self.task.clone(),
                shards: expected.shards + expected.sealed.len() + 1,
            });
        }
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let name = self.sealed_name(expected.generation, &expected.write, &id);
        let secret = self.secret(
            name.clone(),
            expected.generation,
            &expected.write,
            Some((JOURNAL_KEY, journal)),
            None,
        );
        self.api
            .create(&PostParams::default(), &secret)
            .await
            .map_err(|e| self.kube_err(e))?;
        let mut version = expected.clone();
        version.sealed.push(SealedJournal {
            id,
            digest: sha256_hex(journal),
        });
        let written = match self.write_head(&version, None, Some(expected)).await {
            Ok(written) => written,
            Err(e) => {
                // Best effort: unlisted, it is read by no one; the next snapshot deletes its
                // generation if this fails.
                if self
                    .api
                    .delete(&name, &DeleteParams::default())
                    .await
                    .is_ok()
                {
                    self.release(&name).await.ok();
                }
                return Err(e);
            }
        };
        self.written(&mut version, written)?;
        Ok(version)
    }

    /// Creates (`expected` is `None`) or replaces the head Secret of the snapshot `version`,
    /// holding `data` (the inline snapshot or a journal) under its key.
    async fn write_head(
        &self,
        version: &LedgerVersion,
        data: Option<(&str, &[u8])>,
        expected: Option<&LedgerVersion>,
    ) -> Result<Secret, LedgerStoreError> {
        let mut annotations = BTreeMap::new();
        annotations.insert(
            GENERATION_ANNOTATION.to_string(),
            version.generation.to_string(),
        );
        annotations.insert(SHARDS_ANNOTATION.to_string(), version.shards.to_string());
        annotations.insert(DIGEST_ANNOTATION.to_string(), version.digest.clone());
        annotations.insert(WRITE_ANNOTATION.to_string(), version.write.clone());
        if version.detached {
            let layout = if version.sealed.is_empty() {
                DETACHED
            } else {
                DETACHED_SEALED
            };
            annotations.insert(LAYOUT_ANNOTATION.to_string(), layout.to_string());
        }
        if !version.sealed.is_empty() {
            annotations.insert(
                SEALED_ANNOTATION.to_string(),
                sealed_annotation(&version.sealed),
            );
        }
        if let Some((JOURNAL_KEY, journal)) = data {
            annotations.insert(JOURNAL_DIGEST_ANNOTATION.to_string(), sha256_hex(journal));
        }
        let mut head = self.secret(
            self.head_name(),
            version.generation,
            &version.write,
            data,
            Some(annotations),
        );
        match expected {
            None => self.api.create(&PostParams::default(), &head).await,
            Some(expected) => {
                head.metadata.resource_version = Some(expected.head_resource_version.clone());
                head.metadata.finalizers = Some(kept_finalizers(expected));
                self.api
                    .replace(&self.head_name(), &PostParams::default(), &head)
                    .await
            }
        }
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 409 => LedgerStoreError::Conflict {
                task: self.task.clone(),
            },
            other => self.kube_err(other),
        })
    }

    /// Takes the written head's resourceVersion and finalizers into `version`.
    fn written(&self, version: &mut LedgerVersion, head: Secret) -> Result<(), LedgerStoreError> {
        version.head_resource_version = head
            .metadata
            .resource_version
            .ok_or_else(|| self.corrupt("written head Secret has no resourceVersion"))?;
        version.head_deleting = head.metadata.deletion_timestamp.is_some();
        version.head_finalizers = head.metadata.finalizers.unwrap_or_default();
        Ok(())
    }

    /// Removes every ledger Secret of this CallTask (the finalizer's last step): deletes them,
    /// then lets go of [`LEDGER_FINALIZER`] so they disappear.
    pub async fn delete(&self) -> Result<(), LedgerStoreError> {
        let selector = format!("{LEDGER_OWNER_LABEL}={}", self.task_uid);
        let params = ListParams::default().labels(&selector);
        self.api
            .delete_collection(&DeleteParams::default(), &params)
            .await
            .map_err(|e| self.kube_err(e))?;
        let left = self
            .api
            .list_metadata(&params)
            .await
            .map_err(|e| self.kube_err(e))?;
        for item in left.items {
            if let Some(name) = item.metadata.name {
                self.release(&name).await?;
            }
        }
        Ok(())
    }

    /// Removes every ledger Secret of this CallTask, also a head Secret of its name that does
    /// not carry its label (a copied or forged one): the rebuild of a damaged ledger.
    pub async fn discard(&self) -> Result<(), LedgerStoreError> {
        match self
            .api
            .delete(&self.head_name(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(self.kube_err(e)),
        }
        self.release(&self.head_name()).await?;
        self.delete().await
    }

    /// Adds [`LEDGER_FINALIZER`] to a ledger written without it (before callsync set it), head
    /// and shards, unless it is already being deleted (the apiserver refuses new finalizers
    /// then). Returns the head as it now is.
    async fn retain(
        &self,
        head: Secret,
        generation: u64,
        write: &str,
        shards: std::ops::Range<usize>,
    ) -> Result<Secret, LedgerStoreError> {
        if !needs_finalizer(&head) {
            return Ok(head);
        }
        for index in shards {
            let name = self.shard_name(generation, write, index);
            if let Some(shard) = self
                .api
                .get_opt(&name)
                .await
                .map_err(|e| self.kube_err(e))?
                && needs_finalizer(&shard)
            {
                self.add_finalizer(shard).await?;
            }
        }
        // The head last, with its resourceVersion as precondition: a save in between fails the
        // load with a conflict (retried) instead of being overwritten.
        self.add_finalizer(head).await
    }

    async fn add_finalizer(&self, mut secret: Secret) -> Result<Secret, LedgerStoreError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        secret
            .metadata
            .finalizers
            .get_or_insert_with(Vec::new)
            .push(LEDGER_FINALIZER.to_string());
        self.api
            .replace(&name, &PostParams::default(), &secret)
            .await
            .map_err(|e| match e {
                kube::Error::Api(s) if s.code == 409 => LedgerStoreError::Conflict {
                    task: self.task.clone(),
                },
                other => self.kube_err(other),
            })
    }

    /// Removes [`LEDGER_FINALIZER`] from one Secret (with `update`, the verb the chart grants);
    /// a deleted Secret then disappears. Gone already is fine.
    async fn release(&self, name: &str) -> Result<(), LedgerStoreError> {
        for _ in 0..RELEASE_ATTEMPTS {
            let Some(mut secret) = self.api.get_opt(name).await.map_err(|e| self.kube_err(e))?
            else {
                return Ok(());
            };
            let finalizers = secret.metadata.finalizers.get_or_insert_with(Vec::new);
            if !finalizers.iter().any(|f| f == LEDGER_FINALIZER) {
                return Ok(());
            }
            finalizers.retain(|f| f != LEDGER_FINALIZER);
            match self
                .api
                .replace(name, &PostParams::default(), &secret)
                .await
            {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(self.kube_err(e)),
            }
        }
        Err(LedgerStoreError::Conflict {
            task: self.task.clone(),
        })
    }

    fn secret(
        &self,
        name: String,
        generation: u64,
        write: &str,
        data: Option<(&str, &[u8])>,
        annotations: Option<BTreeMap<String, String>>,
    ) -> Secret {
        let mut labels = BTreeMap::new();
        labels.insert(LEDGER_OWNER_LABEL.to_string(), self.task_uid.clone());
        labels.insert(GENERATION_LABEL.to_string(), generation.to_string());
        labels.insert(WRITE_LABEL.to_string(), write.to_string());
        labels.insert(
            "app.kubernetes.io/managed-by".to_string(),
            "callsync".to_string(),
        );
        Secret {
            metadata: ObjectMeta {
                name: Some(name),
                labels: Some(labels),
                annotations,
                owner_references: Some(vec![self.owner.clone()]),
                finalizers: Some(vec![LEDGER_FINALIZER.to_string()]),
                ..Default::default()
            },
            type_: Some(LEDGER_SECRET_TYPE.to_string()),
            data: Some(
                data.map(|(key, bytes)| (key.to_string(), ByteString(bytes.to_vec())))
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        }
    }

    /// Deletes the shard and sealed journal Secrets (never the head) whose generation and write
    /// id match `doomed`.
    async fn delete_shards(
        &self,
        doomed: impl Fn(u64, &str) -> bool,
    ) -> Result<(), LedgerStoreError> {
        let selector = format!("{LEDGER_OWNER_LABEL}={}", self.task_uid);
        let secrets = self
            .api
            .list_metadata(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| self.kube_err(e))?;
        let head = self.head_name();
        for item in secrets.items {
            let labels = item.metadata.labels.unwrap_or_default();
            let generation = labels.get(GENERATION_LABEL).and_then(|g| g.parse().ok());
            let write = labels.get(WRITE_LABEL);
            let (Some(name), Some(generation), Some(write)) =
                (item.metadata.name, generation, write)
            else {
                continue;
            };
            if name == head || !doomed(generation, write) {
                continue;
            }
            match self.api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(self.kube_err(e)),
            }
            self.release(&name).await?;
        }
        Ok(())
    }
}

/// Whether a ledger Secret lacks [`LEDGER_FINALIZER`] and may still get it.
fn needs_finalizer(secret: &Secret) -> bool {
    secret.metadata.deletion_timestamp.is_none()
        && !secret
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == LEDGER_FINALIZER)
}

/// The finalizers a replaced head keeps: its own, plus ours unless it is being deleted.
fn kept_finalizers(version: &LedgerVersion) -> Vec<String> {
    let mut finalizers = version.head_finalizers.clone();
    if !version.head_deleting && !finalizers.iter().any(|f| f == LEDGER_FINALIZER) {
        finalizers.push(LEDGER_FINALIZER.to_string());
    }
    finalizers
}

fn secret_data(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `<task>-<suffix>`, shortened with a hash of the task name when it would pass the 253
/// characters a Secret name may have.
fn secret_name(task: &str, suffix: &str) -> String {
    let name = format!("{task}-{suffix}");
    if name.len() <= MAX_NAME {
        return name;
    }
    let hash = &sha256_hex(task.as_bytes())[..10];
    let keep = MAX_NAME - suffix.len() - hash.len() - 2;
    let prefix: String = task.chars().take(keep).collect();
    format!("{}-{hash}-{suffix}", prefix.trim_end_matches(['-', '.']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_task_names_give_valid_secret_names() {
        let task = "a".repeat(253);
        let name = secret_name(&task, "ledger-g12-3");
        assert!(name.len() <= MAX_NAME, "{}", name.len());
        assert!(name.ends_with("-ledger-g12-3"));
        assert_ne!(
            secret_name(&task, "ledger"),
            secret_name(&"b".repeat(253), "ledger")
        );
        assert_eq!(secret_name("short", "ledger"), "short-ledger");
    }
}
