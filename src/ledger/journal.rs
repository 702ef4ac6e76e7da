//! The ledger's journal: what changed since the last snapshot (`codec`), so that saving the
//! ledger around a batch writes bytes in proportion to what changed, not to the whole ledger.
//!
//! A journal holds, for every phone touched since the snapshot or the last sealed journal
//! ([`Ledger::touched`]), where it now stands — an entry, a console phone, or nothing — and the
//! small parts kept whole: the attempt counter, the open batches and the listing marks.
//!
//! A stored ledger is a snapshot, the *sealed* journals written since (each once, oldest
//! first) and one *live* journal. The live journal is cumulative: each save rewrites every
//! change since the last seal, so only the newest matters. Once it holds
//! [`JournalLimits::seal_after`] phones, a save seals it — writes it as a journal of its own —
//! and the next live journal starts empty; so a save costs at most a seal's worth of phones
//! however large the sync. Replaying the sealed journals in order and then the live one onto
//! the snapshot gives the ledger exactly (each journal's records and whole parts overrule the
//! earlier ones). The store compacts (writes a new snapshot and no journals) once the journals
//! pass [`compact_after`].
//!
//! Layout (before gzip): `"CSJ" version u8 | identity_len varint | identity | next_attempt
//! varint | listing marks (`codec::put_listing_marks`; only version 2 may hold a count offset) |
//! open batch count varint | each: id_len varint | id | accepted_at varint | count varint |
//! records`, each record `phone delta varint | kind u8`
//! (0 absent, 1 console, 2 entry) and for an entry `digest u64 LE | attempt varint | flags u8`
//! (flags as in `codec`: state bits 0–1, removable bit 2, foreign bit 3), sorted by phone.
//!
//! Decoding is bounded as the codec's is: a journal is as forgeable as a snapshot.
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::codec::{
    CodecError, DecodeLimits, Reader, SortedPhones, check_limit, decode_open_batches,
    encode_open_batches, open, put_entry, put_listing_marks, put_sorted_phone, put_varint,
    read_entry, read_listing_marks,
};
use super::model::{Ledger, Slot};
use crate::contacts::Phone;

const MAGIC: &[u8; 3] = b"CSJ";
/// The newest journal version (2: the listing marks may hold a count offset).
const VERSION: u8 = 2;

/// The fewest journal records past which a save compacts, however small the ledger (see
/// [`compact_after`]): 5,000 is the largest batch of any provider, so a small ledger still
/// journals a whole batch.
pub const COMPACT_FLOOR: usize = 10_000;

/// How large the journals of one stored ledger may grow before a save seals or compacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalLimits {
    /// Phones in the live journal (the one every save rewrites) from which a save seals it
    /// instead: writes it once as a journal of its own, which later saves leave alone.
    pub seal_after: usize,
    /// Sealed journals a stored ledger may hold; past them a save compacts.
    pub max_sealed: usize,
    /// The largest live journal, in compressed bytes.
    pub max_journal_bytes: usize,
    /// The largest sealed journal, in compressed bytes.
    pub max_sealed_bytes: usize,
}

impl JournalLimits {
    /// The controller's: a live journal of up to 4,000 phones (about 50 KB) is rewritten
    /// before every batch; sealing it then keeps every save that small, whatever the sync's
    /// size, so a save before every batch stays cheap and a crash leaves at most one batch in
    /// doubt. 64 sealed journals of 4,000 phones reach past a quarter of a million-entry
    /// ledger, where [`compact_after`] compacts anyway. The byte bounds keep the head and
    /// each sealed journal's Secret below the apiserver's 1 MiB.
    pub const DEFAULT: Self = Self {
        seal_after: 4_000,
        max_sealed: 64,
        max_journal_bytes: 512 * 1024,
        max_sealed_bytes: 768 * 1024,
    };
}

/// Whether journals of `journaled` records in all (sealed and live, `Ledger::journaled`) are
/// past what a replay should read for a ledger of `ledger_len` entries: then the store writes
/// a snapshot instead. A quarter of the ledger keeps replay cheaper than a snapshot;
/// [`COMPACT_FLOOR`] keeps a small ledger journaling.
pub fn compact_after(journaled: usize, ledger_len: usize) -> bool {
    journaled > (ledger_len / 4).max(COMPACT_FLOOR)
}

/// What one save of a ledger writes.
#[derive(Debug)]
pub enum Save {
    /// The whole ledger (`codec`); the ledger's journals are cleared once it is durable
    /// ([`Ledger::snapshot_taken`]).
    Snapshot(Vec<u8>),
    /// The live journal: what changed since the snapshot and the sealed journals. It replaces
    /// the live journal the store held.
    Journal(Vec<u8>),
    /// The live journal, sealed: written once next to the snapshot and the earlier sealed
    /// journals, after which the live journal is empty ([`Ledger::journal_sealed`]).
    Seal(Vec<u8>),
}

/// Where the store the ledger goes to stands: what `next_save` may write there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreRoom {
    /// Whether the store can hold journals next to its snapshot (a detached snapshot).
    pub journals: bool,
    /// Sealed journals it holds now.
    pub sealed: usize,
}

/// The next save of `ledger` to a store at `room`: a snapshot when the store cannot hold a
/// journal or the journals are past [`compact_after`]; else the live journal — sealed once it
/// holds `limits.seal_after` phones or passes the bytes the head keeps, while the store has
/// room for another sealed journal — or, when it fits nowhere, a snapshot. The one rule for
/// every store that journals.
pub fn next_save(
    ledger: &Ledger,
    room: StoreRoom,
    limits: &JournalLimits,
) -> Result<Save, CodecError> {
    if room.journals && !compact_after(ledger.journaled(), ledger.len()) {
        let journal = encode(ledger)?;
        let seal =
            ledger.touched().len() >= limits.seal_after || journal.len() > limits.max_journal_bytes;
        if seal && room.sealed < limits.max_sealed && journal.len() <= limits.max_sealed_bytes {
            return Ok(Save::Seal(journal));
        }
        if journal.len() <= limits.max_journal_bytes {
            return Ok(Save::Journal(journal));
        }
    }
    Ok(Save::Snapshot(super::codec::encode(ledger)?))
}

/// Serialises and compresses the changes of `ledger` since its last snapshot.
pub fn encode(ledger: &Ledger) -> Result<Vec<u8>, CodecError> {
    let mut phones: Vec<Phone> = ledger.touched().iter().copied().collect();
    phones.sort_unstable();
    let mut raw = Vec::with_capacity(64 + phones.len() * 14);
    raw.extend_from_slice(MAGIC);
    // Version 1 where it suffices, so a callsync that reads only version 1 (a rollback) reads
    // every journal but one holding a count offset.
    raw.push(if ledger.listing().count_offset.is_some() {
        VERSION
    } else {
        1
    });
    let identity = ledger.task_uid().as_bytes();
    put_varint(&mut raw, identity.len() as u64);
    raw.extend_from_slice(identity);
    put_varint(&mut raw, u64::from(ledger.next_attempt()));
    put_listing_marks(&mut raw, ledger.listing());
    encode_open_batches(&mut raw, ledger.open_batches());
    put_varint(&mut raw, phones.len() as u64);
    let mut prev = 0u64;
    for phone in phones {
        put_sorted_phone(&mut raw, &mut prev, phone);
        match ledger.slot(phone) {
            Slot::Absent => raw.push(0),
            Slot::Console => raw.push(1),
            Slot::Entry(e) => {
                raw.push(2);
                put_entry(&mut raw, &e);
            }
        }
    }
    // The snapshot's level (`codec::encode`): a journal is written before every batch, so
    // encoding time counts more than the last bytes of compression.
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::fast());
    gz.write_all(&raw)?;
    Ok(gz.finish()?)
}

/// Why a stored ledger (a snapshot and maybe a journal) cannot be read, by part.
#[derive(Debug, thiserror::Error)]
pub enum StoredLedgerError {
    /// The snapshot (`codec`).
    #[error("{0}")]
    Snapshot(CodecError),
    /// A sealed journal: the `index`th of the store's list, from 0.
    #[error("sealed journal {index}: {source}")]
    Sealed { index: usize, source: CodecError },
    /// The live journal.
    #[error("journal: {0}")]
    Journal(CodecError),
}

/// The ledger a store holds: its snapshot with its sealed journals, oldest first, and then its
/// live journal, if any, replayed. The one reading of a stored ledger, for the controller and
/// for the tests that look into one. What the sealed journals hold is durable: only the live
/// journal's phones stay touched (the next journal holds them again).
pub fn decode_stored(
    snapshot: &[u8],
    sealed: &[impl AsRef<[u8]>],
    journal: Option<&[u8]>,
) -> Result<Ledger, StoredLedgerError> {
    let limits = DecodeLimits::DEFAULT;
    let mut ledger =
        super::codec::decode_with(snapshot, &limits).map_err(StoredLedgerError::Snapshot)?;
    for (index, bytes) in sealed.iter().enumerate() {
        apply(&mut ledger, bytes.as_ref(), &limits)
            .map_err(|source| StoredLedgerError::Sealed { index, source })?;
        ledger.journal_sealed();
    }
    if let Some(journal) = journal {
        apply(&mut ledger, journal, &limits).map_err(StoredLedgerError::Journal)?;
    }
    Ok(ledger)
}

/// Replays a journal written by [`encode`] onto the snapshot it was written against. A journal
/// of another ledger (another identity) is refused and leaves `snapshot` as it was.
pub fn apply(snapshot: &mut Ledger, data: &[u8], limits: &DecodeLimits) -> Result<(), CodecError> {
    let (mut r, version) = open("journal size in bytes", data, limits, MAGIC, 1..=VERSION)?;
    let identity_len = r.varint()?;
    check_limit(
        "journal identity length",
        identity_len,
        limits.max_uid as u64,
    )?;
    let mut identity = vec![0u8; identity_len as usize];
    r.fill(&mut identity)?;
    if identity != snapshot.task_uid().as_bytes() {
        return Err(CodecError::ForeignJournal);
    }
    let next_attempt = u32::try_from(r.varint()?).map_err(|_| CodecError::Corrupt("attempt"))?;
    let listing = read_listing_marks(&mut r, version >= 2)?;
    let open_batches = decode_open_batches(&mut r)?;
    let count = r.varint()?;
    check_limit("journal record count", count, limits.max_entries)?;
    // Read whole before anything is applied: a damaged journal changes nothing.
    let records = read_records(&mut r, count)?;
    if r.trailing()? {
        return Err(CodecError::Corrupt("trailing bytes"));
    }
    for (phone, slot) in records {
        snapshot.set_slot(phone, slot);
    }
    snapshot.set_journal_header(next_attempt, open_batches, listing);
    Ok(())
}

fn read_records<R: std::io::Read>(
    r: &mut Reader<R>,
    count: u64,
) -> Result<Vec<(Phone, Slot)>, CodecError> {
    let mut records = Vec::new();
    let mut phones = SortedPhones::new("journal records not sorted", "journal phone");
    for _ in 0..count {
        let p = phones.next(r)?;
        let slot = match r.take::<1>()? {
            [0] => Slot::Absent,
            [1] => Slot::Console,
            [2] => Slot::Entry(read_entry(r, p)?),
            _ => return Err(CodecError::Corrupt("journal record kind")),
        };
        records.push((p, slot));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::ContentDigest;
    use crate::ledger::{ItemOutcome, Rejection, codec};

    fn ph(n: u64) -> Phone {
        Phone::from_u64_unchecked(8613000000000 + n)
    }

    /// A snapshot, then every kind of change; the snapshot plus the journal is the ledger.
    #[test]
    fn snapshot_and_journal_give_the_ledger_back() {
        let mut ledger = codec::tests::sample(2_000);
        ledger.mark_listed(1_700_000_000, 2_003);
        let snapshot = codec::encode(&ledger).expect("encode");
        ledger.snapshot_taken();

        let some: Vec<Phone> = ledger.iter().map(|e| e.phone).take(30).collect();
        ledger.record_remove_intent(&some[..10]);
        for &p in &some[..5] {
            ledger.record_remove_outcome(p, ItemOutcome::Accepted);
        }
        let new: Vec<(Phone, ContentDigest)> = (0..20).map(|i| (ph(i), ContentDigest(i))).collect();
        ledger.record_add_intent(&new);
        for &(p, _) in &new[..10] {
            ledger.record_add_outcome(p, ItemOutcome::Accepted);
        }
        ledger.record_add_outcome(new[10].0, ItemOutcome::Rejected(Rejection::Duplicate));
        ledger.record_add_outcome(new[11].0, ItemOutcome::Rejected(Rejection::Other));
        ledger.record_open_batches(["batch-1".to_string()], 1_700_000_100);
        assert!(ledger.touched().len() >= 30, "{}", ledger.touched().len());

        let journal = encode(&ledger).expect("journal");
        let mut back = codec::decode(&snapshot).expect("snapshot");
        apply(&mut back, &journal, &DecodeLimits::DEFAULT).expect("apply");
        assert_eq!(back, ledger);
        // Replayed phones stay touched: the next journal must hold them again.
        assert_eq!(back.touched(), ledger.touched());
        assert!(
            journal.len() * 20 < snapshot.len(),
            "{} vs {}",
            journal.len(),
            snapshot.len()
        );
    }

    #[test]
    fn a_journal_of_another_ledger_is_refused_and_changes_nothing() {
        let mut ours = codec::tests::sample(100);
        let mut theirs = Ledger::fresh(Some("0b8f6a8e-6f0e-4a57-9d55-3c1f4f1f2a10"));
        theirs.record_add_intent(&[(ph(1), ContentDigest(1))]);
        let journal = encode(&theirs).expect("journal");
        let before = ours.clone();
        let err = apply(&mut ours, &journal, &DecodeLimits::DEFAULT).expect_err("refused");
        assert!(matches!(err, CodecError::ForeignJournal), "{err}");
        assert_eq!(ours, before);
    }

    #[test]
    fn a_damaged_journal_is_refused_and_changes_nothing() {
        let mut ledger = codec::tests::sample(100);
        let snapshot = ledger.clone();
        ledger.snapshot_taken();
        let p = ledger.iter().next().expect("entry").phone;
        ledger.record_remove_intent(&[p]);
        let journal = encode(&ledger).expect("journal");
        for cut in [journal.len() / 2, journal.len() - 4] {
            let mut back = snapshot.clone();
            assert!(apply(&mut back, &journal[..cut], &DecodeLimits::DEFAULT).is_err());
            assert_eq!(back, snapshot);
        }
        let mut back = snapshot.clone();
        let err = apply(
            &mut back,
            b"not a journal at all, not gzip",
            &DecodeLimits::DEFAULT,
        );
        assert!(err.is_err());
        assert_eq!(back, snapshot);
        // A snapshot is not a journal.
        let err = apply(
            &mut back,
            &codec::encode(&snapshot).expect("encode"),
            &DecodeLimits::DEFAULT,
        );
        assert!(matches!(err, Err(CodecError::BadMagic)), "{err:?}");
    }

    #[test]
    fn a_listing_touches_only_what_it_changed() {
        let mut ledger = codec::tests::sample(1_000);
        ledger.snapshot_taken();
        let observed: Vec<crate::contacts::ObservedContact> = ledger
            .iter()
            .skip(3)
            .map(|e| crate::contacts::ObservedContact {
                phone: e.phone,
                remote_id: Some(e.remote_id(ledger.task_uid()).to_string().into()),
                removable: true,
                content_digest: None,
            })
            .chain(std::iter::once(crate::contacts::ObservedContact {
                phone: ph(7),
                remote_id: Some("console".into()),
                removable: true,
                content_digest: None,
            }))
            .collect();
        let report = ledger.reconcile(&observed);
        assert_eq!(report.drift_removed, 3);
        // Three dropped entries and one new console phone.
        assert_eq!(ledger.touched().len(), 4);
    }

    /// Adds `n` new phones from `from` and accepts them: one batch's worth of changes.
    fn add_accepted(ledger: &mut Ledger, from: u64, n: u64) {
        let new: Vec<(Phone, ContentDigest)> = (from..from + n)
            .map(|i| (ph(i), ContentDigest(i)))
            .collect();
        ledger.record_add_intent(&new);
        for &(p, _) in &new {
            ledger.record_add_outcome(p, ItemOutcome::Accepted);
        }
    }

    /// A snapshot, sealed journals and a live one, as the store keeps them: replayed in order
    /// they give the ledger back, a phone changed again after a seal included, and only the
    /// live journal's phones are left to journal.
    #[test]
    fn sealed_journals_and_the_live_one_give_the_ledger_back() {
        let limits = JournalLimits {
            seal_after: 50,
            ..JournalLimits::DEFAULT
        };
        let mut ledger = codec::tests::sample(2_000);
        let snapshot = codec::encode(&ledger).expect("encode");
        ledger.snapshot_taken();
        let room = |sealed: &Vec<Vec<u8>>| StoreRoom {
            journals: true,
            sealed: sealed.len(),
        };

        let mut sealed: Vec<Vec<u8>> = Vec::new();
        let mut live = None;
        for round in 0..7u64 {
            add_accepted(&mut ledger, round * 20, 20);
            if round == 4 {
                // Phones sealed earlier change again: the live journal overrules the seal.
                let again: Vec<Phone> = (0..10).map(ph).collect();
                ledger.record_remove_intent(&again);
                for p in again {
                    ledger.record_remove_outcome(p, ItemOutcome::Accepted);
                }
            }
            match next_save(&ledger, room(&sealed), &limits).expect("save") {
                Save::Seal(bytes) => {
                    sealed.push(bytes);
                    live = None;
                    ledger.journal_sealed();
                }
                Save::Journal(bytes) => live = Some(bytes),
                Save::Snapshot(_) => panic!("round {round}: no compaction expected"),
            }
        }
        assert_eq!(
            sealed.len(),
            2,
            "seals at 60 phones, then at 50 (40 added, 10 removed)"
        );
        assert!(live.is_some());
        let back = decode_stored(&snapshot, &sealed, live.as_deref()).expect("decode");
        assert_eq!(back, ledger);
        assert_eq!(back.touched(), ledger.touched());
        assert_eq!(back.journaled(), ledger.journaled());
        assert_eq!(ledger.journaled(), 60 + 50 + 40);
        // Out of order, the seals give another ledger (the second removes phones the first
        // added): the store's order is the truth.
        sealed.swap(0, 1);
        let swapped = decode_stored(&snapshot, &sealed, live.as_deref()).expect("decode");
        assert_ne!(swapped, ledger);
    }

    #[test]
    fn a_damaged_sealed_journal_is_named_by_its_place() {
        let mut ledger = codec::tests::sample(100);
        let snapshot = codec::encode(&ledger).expect("encode");
        ledger.snapshot_taken();
        add_accepted(&mut ledger, 0, 5);
        let first = encode(&ledger).expect("journal");
        ledger.journal_sealed();
        add_accepted(&mut ledger, 5, 5);
        let second = encode(&ledger).expect("journal");
        let err = decode_stored(&snapshot, &[&first[..], &second[..second.len() / 2]], None)
            .expect_err("refused");
        assert!(
            matches!(err, StoredLedgerError::Sealed { index: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().starts_with("sealed journal 1: "), "{err}");
    }

    /// The save rule: a live journal below the seal size, a seal at it while the store has
    /// room for one, a journal again when it has none and the journal fits, and a snapshot
    /// past the compaction bound or when nothing fits.
    #[test]
    fn a_save_journals_then_seals_then_compacts() {
        let limits = JournalLimits {
            seal_after: 30,
            max_sealed: 2,
            ..JournalLimits::DEFAULT
        };
        let room = |sealed| StoreRoom {
            journals: true,
            sealed,
        };
        let kind = |save: Result<Save, CodecError>| match save.expect("encodes") {
            Save::Snapshot(_) => "snapshot",
            Save::Journal(_) => "journal",
            Save::Seal(_) => "seal",
        };
        let mut ledger = codec::tests::sample(1_000);
        ledger.snapshot_taken();
        add_accepted(&mut ledger, 0, 29);
        assert_eq!(kind(next_save(&ledger, room(0), &limits)), "journal");
        add_accepted(&mut ledger, 29, 1);
        assert_eq!(kind(next_save(&ledger, room(0), &limits)), "seal");
        assert_eq!(kind(next_save(&ledger, room(1), &limits)), "seal");
        assert_eq!(kind(next_save(&ledger, room(2), &limits)), "journal");
        let tight = JournalLimits {
            max_journal_bytes: 10,
            ..limits
        };
        assert_eq!(kind(next_save(&ledger, room(2), &tight)), "snapshot");
        let no_journals = StoreRoom {
            journals: false,
            sealed: 0,
        };
        assert_eq!(kind(next_save(&ledger, no_journals, &limits)), "snapshot");
        // Past the compaction floor, counting what the seals hold.
        let mut next = 10_000;
        while ledger.journaled() <= COMPACT_FLOOR {
            ledger.journal_sealed();
            add_accepted(&mut ledger, next, 30);
            next += 30;
        }
        assert!(ledger.journaled() > COMPACT_FLOOR, "{}", ledger.journaled());
        assert_eq!(kind(next_save(&ledger, room(0), &limits)), "snapshot");
    }

    #[test]
    fn compaction_starts_past_a_quarter_of_the_ledger_or_the_floor() {
        assert!(!compact_after(10_000, 0));
        assert!(compact_after(10_001, 0));
        assert!(!compact_after(250_000, 1_000_000));
        assert!(compact_after(250_001, 1_000_000));
    }
}
