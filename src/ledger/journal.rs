//! The ledger's journal: what changed since the last snapshot (`codec`), so that saving the
//! ledger around a batch writes bytes in proportion to what changed, not to the whole ledger.
//!
//! A journal holds, for every phone touched since the snapshot ([`Ledger::touched`]), where it
//! now stands — an entry, a console phone, or nothing — and the small parts kept whole: the
//! attempt counter, the open batches and the listing marks. It is cumulative: each save writes
//! every change since the snapshot again, so only the newest journal matters and replaying it
//! onto its snapshot gives the ledger exactly. The store compacts (writes a new snapshot and an
//! empty journal) once a journal grows past [`compact_after`].
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

/// Phones changed since the snapshot from which a sink that journals saves in windows of
/// batches again (`SyncSink::window_items`): below, a journal save costs about 10 bytes a
/// changed phone, 100 KB at most, cheap before every batch.
pub const JOURNAL_WINDOWS_FROM: usize = 10_000;

/// The most items a window of batches holds for a store that journals (`SyncSink::window_items`):
/// none beyond one batch while fewer than [`JOURNAL_WINDOWS_FROM`] phones changed since the
/// snapshot, else `whole_ledger_window` (the windows of a store that writes the whole ledger,
/// a quarter of it), whose saves compact.
pub fn window_items(touched: usize, whole_ledger_window: usize) -> usize {
    if touched < JOURNAL_WINDOWS_FROM {
        0
    } else {
        whole_ledger_window
    }
}

/// Whether a journal of `touched` phones is past what one save should write for a ledger of
/// `ledger_len` entries: then the store writes a snapshot instead. A quarter of the ledger
/// keeps replay cheaper than a snapshot; the floor keeps a small ledger journaling a whole
/// batch (5,000 is the largest batch of any provider).
pub fn compact_after(touched: usize, ledger_len: usize) -> bool {
    touched > (ledger_len / 4).max(JOURNAL_WINDOWS_FROM)
}

/// What one save of a ledger writes.
#[derive(Debug)]
pub enum Save {
    /// The whole ledger (`codec`); the ledger's touched phones are cleared once it is durable
    /// ([`Ledger::snapshot_taken`]).
    Snapshot(Vec<u8>),
    /// What changed since the snapshot the store holds.
    Journal(Vec<u8>),
}

/// The next save of `ledger`: a journal when the store can hold one next to its snapshot
/// (`journal_allowed`), the journal is not past [`compact_after`] and its bytes fit in
/// `max_journal_bytes`; else a snapshot. The one rule for every store that journals.
pub fn next_save(
    ledger: &Ledger,
    journal_allowed: bool,
    max_journal_bytes: usize,
) -> Result<Save, CodecError> {
    if journal_allowed && !compact_after(ledger.touched().len(), ledger.len()) {
        let journal = encode(ledger)?;
        if journal.len() <= max_journal_bytes {
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
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::default());
    gz.write_all(&raw)?;
    Ok(gz.finish()?)
}

/// Why a stored ledger (a snapshot and maybe a journal) cannot be read, by part.
#[derive(Debug, thiserror::Error)]
pub enum StoredLedgerError {
    /// The snapshot (`codec`).
    #[error("{0}")]
    Snapshot(CodecError),
    /// The journal.
    #[error("journal: {0}")]
    Journal(CodecError),
}

/// The ledger a store holds: its snapshot with its journal, if any, replayed. The one reading of
/// a stored ledger, for the controller and for the tests that look into one.
pub fn decode_stored(snapshot: &[u8], journal: Option<&[u8]>) -> Result<Ledger, StoredLedgerError> {
    let limits = DecodeLimits::DEFAULT;
    let mut ledger =
        super::codec::decode_with(snapshot, &limits).map_err(StoredLedgerError::Snapshot)?;
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

    #[test]
    fn windows_hold_one_batch_while_the_journal_is_small() {
        assert_eq!(window_items(0, 250_000), 0);
        assert_eq!(window_items(9_999, 250_000), 0);
        assert_eq!(window_items(10_000, 250_000), 250_000);
    }

    #[test]
    fn compaction_starts_past_a_quarter_of_the_ledger_or_the_floor() {
        assert!(!compact_after(10_000, 0));
        assert!(compact_after(10_001, 0));
        assert!(!compact_after(250_000, 1_000_000));
        assert!(compact_after(250_001, 1_000_000));
    }
}
