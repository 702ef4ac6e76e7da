//! The ledger's stored form: a small versioned binary format, gzip-compressed.
//!
//! Layout (before compression), version 1:
//! `"CSL" 0x01 | uid_len varint | uid bytes | next_attempt varint | count varint | entries`,
//! each entry `phone delta varint | digest u64 LE | attempt varint | flags u8` with entries
//! sorted by phone (so deltas are small) and flags = state (bits 0–1) | removable (bit 2) |
//! foreign (bit 3; a ledger written before it existed reads as not foreign).
//! Remote ids are not stored: they are derived from UID, phone and attempt, which saves 16
//! incompressible bytes a contact. Sizes per 100k contacts are in BENCHMARKS.md.
//!
//! Version 2 is version 1 followed by the open batches (`ledger::model`):
//! `count varint | each: id_len varint | id bytes | accepted_at varint`. A ledger with no open
//! batch is written as version 1, so a callsync that reads only version 1 (a rollback) still
//! reads every ledger but one that waits for a provider batch, which it refuses.
//!
//! Version 3 adds the listing marks (`put_listing_marks`) and the console phones after the
//! open batches; version 4, written only when the listing marks hold a count offset, lets them.
//!
//! Decoding reads what a person with write access to Secrets can forge, so it is bounded
//! before anything is allocated ([`DecodeLimits`]): the compressed size is checked first, the
//! gzip stream is read entry by entry (never inflated into one buffer, so a gzip bomb costs
//! no memory), the entry count and the UID length are checked against their limits before
//! the loop, and decoding stops at the first byte past the declared entries.
use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use thiserror::Error;

use super::model::{EntryState, Ledger, LedgerEntry, ListingMarks, OpenBatch};
use crate::contacts::{ContentDigest, Phone};

const MAGIC: &[u8; 3] = b"CSL";
/// The newest format version this build writes and reads (it reads every older one).
pub const VERSION: u8 = 4;
/// Most open batches a ledger holds: a million-contact first sync whose every async batch
/// is still queued (5,000 of 200 rows) with room to spare.
const MAX_OPEN_BATCHES: u64 = 20_000;
/// Most bytes of a provider's batch id (longlonglong's are 32).
const MAX_BATCH_ID: u64 = 256;
/// The most a stored ledger may weigh and hold. A ledger past them is refused, never read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Compressed bytes (the Secrets' data, all shards together).
    pub max_compressed: usize,
    /// Entries. Each costs about 100 bytes of memory decoded; 2M is twice the largest
    /// measured task (BENCHMARKS.md "Scale") and about 200 MB.
    pub max_entries: u64,
    /// Bytes of the CallTask UID (Kubernetes UIDs are 36).
    pub max_uid: usize,
}

impl DecodeLimits {
    /// What the controller and the CLI read: 48 MiB compressed (64 Secrets of 768 KiB, the
    /// ledger store's most) and 2,000,000 entries.
    pub const DEFAULT: Self = Self {
        max_compressed: 48 * 1024 * 1024,
        max_entries: 2_000_000,
        max_uid: 256,
    };
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a stored ledger cannot be read.
#[derive(Debug, Error)]
pub enum CodecError {
    /// Not gzip, or truncated.
    #[error("ledger data is not valid gzip: {0}")]
    Gzip(#[from] std::io::Error),
    /// Not a callsync ledger.
    #[error("ledger data has no callsync header")]
    BadMagic,
    /// Written by a newer callsync.
    #[error("ledger format version {0} is not supported (this build reads {VERSION})")]
    Version(u8),
    /// Ends early or holds impossible values.
    #[error("ledger data is corrupt: {0}")]
    Corrupt(&'static str),
    /// A journal (`ledger::journal`) written for another ledger than the snapshot it is
    /// replayed onto.
    #[error("the journal belongs to another ledger than its snapshot (another task's identity)")]
    ForeignJournal,
    /// Past a [`DecodeLimits`] bound: refused before it is read.
    #[error("ledger {what} is {actual}, more than the {limit} this build reads")]
    TooLarge {
        what: &'static str,
        actual: u64,
        limit: u64,
    },
}

/// Serialises and compresses a ledger.
pub fn encode(ledger: &Ledger) -> Result<Vec<u8>, CodecError> {
    let mut raw = Vec::with_capacity(16 + ledger.len() * 14);
    raw.extend_from_slice(MAGIC);
    let marks = ledger.listing();
    let version = if marks.count_offset.is_some() {
        4
    } else if marks != ListingMarks::default() || !ledger.console().is_empty() {
        3
    } else if !ledger.open_batches().is_empty() {
        2
    } else {
        1
    };
    raw.push(version);
    let uid = ledger.task_uid().as_bytes();
    put_varint(&mut raw, uid.len() as u64);
    raw.extend_from_slice(uid);
    put_varint(&mut raw, u64::from(ledger.next_attempt()));
    put_varint(&mut raw, ledger.len() as u64);
    let mut prev = 0u64;
    for e in ledger.iter() {
        put_sorted_phone(&mut raw, &mut prev, e.phone);
        put_entry(&mut raw, e);
    }
    if version >= 2 {
        encode_open_batches(&mut raw, ledger.open_batches());
    }
    if version >= 3 {
        put_listing_marks(&mut raw, marks);
        put_varint(&mut raw, ledger.console().len() as u64);
        let mut prev = 0u64;
        for &p in ledger.console() {
            put_sorted_phone(&mut raw, &mut prev, p);
        }
    }
    // The fastest level: an entry is mostly its content digest and varint deltas, which hardly
    // compress, so the default level spent eight times the CPU to save 1.4 % (a 1M-entry
    // snapshot, 11.9 MB raw: 9.35 MB in 0.10 s at level 1, 9.22 MB in 0.79 s at level 6;
    // BENCHMARKS.md, "Parse cache").
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len()), Compression::fast());
    gz.write_all(&raw)?;
    Ok(gz.finish()?)
}

/// Decompresses and reads a ledger written by [`encode`], within [`DecodeLimits::DEFAULT`].
pub fn decode(data: &[u8]) -> Result<Ledger, CodecError> {
    decode_with(data, &DecodeLimits::DEFAULT)
}

/// [`decode`] within `limits`.
pub fn decode_with(data: &[u8], limits: &DecodeLimits) -> Result<Ledger, CodecError> {
    let (mut r, version) = open("compressed size in bytes", data, limits, MAGIC, 1..=VERSION)?;
    let uid_len = r.varint()?;
    check_limit("task UID length", uid_len, limits.max_uid as u64)?;
    let mut uid = vec![0u8; usize::try_from(uid_len).map_err(|_| CodecError::Corrupt("uid"))?];
    r.fill(&mut uid)?;
    let uid = String::from_utf8(uid).map_err(|_| CodecError::Corrupt("uid is not UTF-8"))?;
    let next_attempt = u32::try_from(r.varint()?).map_err(|_| CodecError::Corrupt("attempt"))?;
    let count = r.varint()?;
    check_limit("entry count", count, limits.max_entries)?;
    let mut entries = BTreeMap::new();
    let mut phones = SortedPhones::new("entries not sorted", "phone");
    for _ in 0..count {
        let p = phones.next(&mut r)?;
        entries.insert(p, read_entry(&mut r, p)?);
    }
    let open_batches = if version >= 2 {
        decode_open_batches(&mut r)?
    } else {
        Vec::new()
    };
    let mut listing = ListingMarks::default();
    let mut console = std::collections::BTreeSet::new();
    if version >= 3 {
        listing = read_listing_marks(&mut r, version >= 4)?;
        let count = r.varint()?;
        check_limit("console phone count", count, limits.max_entries)?;
        let mut phones = SortedPhones::new("console phones not sorted", "console phone");
        for _ in 0..count {
            console.insert(phones.next(&mut r)?);
        }
    }
    if r.trailing()? {
        return Err(CodecError::Corrupt("trailing bytes"));
    }
    Ok(Ledger::from_parts(
        uid,
        next_attempt,
        entries,
        open_batches,
        listing,
        console,
    ))
}

/// Writes `phone`, the next of a list sorted by phone, as the delta to `prev` (the one before,
/// 0 for the first), which it then becomes.
pub(super) fn put_sorted_phone(raw: &mut Vec<u8>, prev: &mut u64, phone: Phone) {
    put_varint(raw, phone.as_u64() - *prev);
    *prev = phone.as_u64();
}

/// Reads what [`put_sorted_phone`] wrote, refusing a list not strictly sorted and a phone past
/// `u64`, with the words given for each.
pub(super) struct SortedPhones {
    prev: Option<u64>,
    unsorted: &'static str,
    overflow: &'static str,
}

impl SortedPhones {
    pub(super) fn new(unsorted: &'static str, overflow: &'static str) -> Self {
        Self {
            prev: None,
            unsorted,
            overflow,
        }
    }

    pub(super) fn next<R: Read>(&mut self, r: &mut Reader<R>) -> Result<Phone, CodecError> {
        let delta = r.varint()?;
        let prev = match self.prev {
            None => 0,
            Some(_) if delta == 0 => return Err(CodecError::Corrupt(self.unsorted)),
            Some(prev) => prev,
        };
        let phone = prev
            .checked_add(delta)
            .ok_or(CodecError::Corrupt(self.overflow))?;
        self.prev = Some(phone);
        Ok(Phone::from_u64_unchecked(phone))
    }
}

/// Writes an entry after its phone: `digest u64 LE | attempt varint | flags u8`, flags = state
/// (bits 0–1) | removable (bit 2) | foreign (bit 3). The remote id is not stored (derived).
pub(super) fn put_entry(raw: &mut Vec<u8>, e: &LedgerEntry) {
    raw.extend_from_slice(&e.content_digest.0.to_le_bytes());
    put_varint(raw, u64::from(e.attempt));
    let state = match e.state {
        EntryState::Adding => 0u8,
        EntryState::Present => 1,
        EntryState::Removing => 2,
    };
    raw.push(state | (u8::from(e.removable) << 2) | (u8::from(e.foreign) << 3));
}

/// Reads what [`put_entry`] wrote for `phone` (its remote id is derived when needed:
/// [`LedgerEntry::remote_id`]).
pub(super) fn read_entry<R: Read>(
    r: &mut Reader<R>,
    phone: Phone,
) -> Result<LedgerEntry, CodecError> {
    let digest = r.take::<8>()?;
    let attempt = u32::try_from(r.varint()?).map_err(|_| CodecError::Corrupt("attempt"))?;
    let [flags] = r.take::<1>()?;
    let state = match flags & 0b11 {
        0 => EntryState::Adding,
        1 => EntryState::Present,
        2 => EntryState::Removing,
        _ => return Err(CodecError::Corrupt("state")),
    };
    Ok(LedgerEntry {
        phone,
        content_digest: ContentDigest(u64::from_le_bytes(digest)),
        state,
        attempt,
        removable: flags & 0b100 != 0,
        foreign: flags & 0b1000 != 0,
    })
}

/// Listing flag: drift was hinted since the listing.
const DRIFT_HINT: u8 = 1;
/// Listing flag: a count offset follows the flags (snapshot version 4, journal version 2).
const COUNT_OFFSET: u8 = 2;

/// Writes the listing marks: `last + 1 varint (0: never) | flags u8` (bit 0 drift hint, bit 1
/// a count offset follows) `| count offset zigzag varint` when bit 1 is set.
pub(super) fn put_listing_marks(raw: &mut Vec<u8>, marks: ListingMarks) {
    put_varint(raw, marks.last.map_or(0, |at| at.saturating_add(1)));
    let mut flags = 0;
    if marks.drift_hint {
        flags |= DRIFT_HINT;
    }
    if marks.count_offset.is_some() {
        flags |= COUNT_OFFSET;
    }
    raw.push(flags);
    if let Some(offset) = marks.count_offset {
        // Zigzag: small offsets of either sign stay one byte.
        put_varint(raw, ((offset << 1) ^ (offset >> 63)) as u64);
    }
}

/// Reads what [`put_listing_marks`] wrote; a count offset only where `offset_allowed` (the
/// format version that has them).
pub(super) fn read_listing_marks<R: Read>(
    r: &mut Reader<R>,
    offset_allowed: bool,
) -> Result<ListingMarks, CodecError> {
    let last = r.varint()?.checked_sub(1);
    let [flags] = r.take::<1>()?;
    let known = if offset_allowed {
        DRIFT_HINT | COUNT_OFFSET
    } else {
        DRIFT_HINT
    };
    if flags & !known != 0 {
        return Err(CodecError::Corrupt("listing flags"));
    }
    let count_offset = if flags & COUNT_OFFSET != 0 {
        let zigzag = r.varint()?;
        Some(((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64))
    } else {
        None
    };
    Ok(ListingMarks {
        last,
        drift_hint: flags & DRIFT_HINT != 0,
        count_offset,
    })
}

pub(super) fn encode_open_batches(raw: &mut Vec<u8>, batches: &[OpenBatch]) {
    put_varint(raw, batches.len() as u64);
    for batch in batches {
        put_varint(raw, batch.id.len() as u64);
        raw.extend_from_slice(batch.id.as_bytes());
        put_varint(raw, batch.accepted_at);
    }
}

pub(super) fn decode_open_batches<R: Read>(
    r: &mut Reader<R>,
) -> Result<Vec<OpenBatch>, CodecError> {
    let count = r.varint()?;
    check_limit("open batch count", count, MAX_OPEN_BATCHES)?;
    let mut open_batches = Vec::new();
    for _ in 0..count {
        let len = r.varint()?;
        check_limit("open batch id length", len, MAX_BATCH_ID)?;
        let mut id = vec![0u8; len as usize];
        r.fill(&mut id)?;
        let id =
            String::from_utf8(id).map_err(|_| CodecError::Corrupt("open batch id is not UTF-8"))?;
        let accepted_at = r.varint()?;
        open_batches.push(OpenBatch { id, accepted_at });
    }
    Ok(open_batches)
}

/// A stored form being read: inflated a few bytes at a time.
pub(super) type GzReader<'a> = Reader<BufReader<GzDecoder<&'a [u8]>>>;

/// Opens a stored form (a snapshot or a journal): checks its size (`what`) against `limits`,
/// then reads its magic and a version byte within `versions`. Returns the reader after them.
pub(super) fn open<'a>(
    what: &'static str,
    data: &'a [u8],
    limits: &DecodeLimits,
    magic: &[u8; 3],
    versions: std::ops::RangeInclusive<u8>,
) -> Result<(GzReader<'a>, u8), CodecError> {
    check_limit(what, data.len() as u64, limits.max_compressed as u64)?;
    let mut r = gzip_reader(data)?;
    if r.take::<3>()? != *magic {
        return Err(CodecError::BadMagic);
    }
    let [version] = r.take::<1>()?;
    if !versions.contains(&version) {
        return Err(CodecError::Version(version));
    }
    Ok((r, version))
}

/// A reader of gzip `data`, inflated a few bytes at a time (never into one buffer).
fn gzip_reader(data: &[u8]) -> Result<GzReader<'_>, CodecError> {
    // The smallest gzip is 18 bytes (header and trailer); without the magic it is not gzip.
    if data.len() < 18 || data[..2] != [0x1f, 0x8b] {
        return Err(CodecError::Gzip(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "no gzip header",
        )));
    }
    Ok(Reader {
        inner: BufReader::new(GzDecoder::new(data)),
    })
}

pub(super) fn check_limit(what: &'static str, actual: u64, limit: u64) -> Result<(), CodecError> {
    if actual > limit {
        return Err(CodecError::TooLarge {
            what,
            actual,
            limit,
        });
    }
    Ok(())
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads the inflated stream a few bytes at a time; "ends early" is corruption, any other IO
/// error is the gzip layer's.
pub(super) struct Reader<R> {
    inner: R,
}

impl<R: Read> Reader<R> {
    /// Whether anything follows. One byte more is enough to know: whatever follows is never
    /// inflated.
    pub(super) fn trailing(&mut self) -> Result<bool, CodecError> {
        Ok(self.inner.read(&mut [0u8; 1])? != 0)
    }

    pub(super) fn fill(&mut self, buf: &mut [u8]) -> Result<(), CodecError> {
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                CodecError::Corrupt("truncated")
            } else {
                CodecError::Gzip(e)
            }
        })
    }

    pub(super) fn take<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut buf = [0u8; N];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    pub(super) fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let [b] = self.take::<1>()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Corrupt("varint"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ledger::ItemOutcome;

    /// A ledger of `n` random CN mobiles (as spread as real lists) with random digests,
    /// added in batches of 200 — the steady state of a task.
    pub(crate) fn sample(n: usize) -> Ledger {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut l = Ledger::new("0b8f6a8e-6f0e-4a57-9d55-3c1f4f1f2a10");
        let mut phones = std::collections::BTreeSet::new();
        while phones.len() < n {
            phones.insert(8_613_000_000_000 + next() % 7_000_000_000);
        }
        let items: Vec<_> = phones
            .into_iter()
            .map(|p| (Phone::from_u64_unchecked(p), ContentDigest(next())))
            .collect();
        for chunk in items.chunks(200) {
            l.record_add_intent(chunk);
            for (p, _) in chunk {
                l.record_add_outcome(*p, ItemOutcome::Accepted);
            }
        }
        l
    }

    #[test]
    fn round_trips() {
        let mut l = sample(1000);
        let p = l.iter().nth(3).map(|e| e.phone).expect("test input");
        l.record_remove_intent(&[p]);
        let foreign = l.iter().nth(5).map(|e| e.phone).expect("test input");
        l.record_add_intent(&[(foreign, ContentDigest(1))]);
        l.record_add_outcome(
            foreign,
            ItemOutcome::Rejected(crate::ledger::Rejection::Duplicate),
        );
        let back = decode(&encode(&l).expect("test input")).expect("test input");
        assert_eq!(back, l);
    }

    /// Open batches are kept (version 2); a ledger without one is still written as version 1,
    /// which a callsync that knows only version 1 reads.
    #[test]
    fn open_batches_round_trip_and_only_they_need_version_2() {
        let mut l = sample(10);
        let plain = encode(&l).expect("test input");
        let mut raw = Vec::new();
        GzDecoder::new(&plain[..])
            .read_to_end(&mut raw)
            .expect("test input");
        assert_eq!(raw[3], 1);
        let p = l.iter().next().map(|e| e.phone).expect("test input");
        l.record_add_intent(&[(p, ContentDigest(9))]);
        l.record_open_batches(["0f3a".to_owned(), "77bc".to_owned()], 1_796_000_000);
        let back = decode(&encode(&l).expect("test input")).expect("test input");
        assert_eq!(back, l);
        assert_eq!(back.open_batches().len(), 2);
    }

    fn raw_version(data: &[u8]) -> u8 {
        let mut raw = Vec::new();
        GzDecoder::new(data)
            .read_to_end(&mut raw)
            .expect("test input");
        raw[3]
    }

    /// The listing marks round-trip, a listing at second 0 and count offsets of either sign
    /// included: a ledger that never listed stays version 1, marks without a count offset are
    /// version 3, with one version 4; unknown flag bits are refused, not ignored.
    #[test]
    fn listing_marks_round_trip_and_only_they_need_versions_3_and_4() {
        let mut hinted = sample(10);
        assert_eq!(raw_version(&encode(&hinted).expect("encode")), 1);
        let p = hinted.iter().next().map(|e| e.phone).expect("test input");
        hinted.record_remove_intent(&[p]);
        hinted.record_remove_outcome(p, ItemOutcome::Rejected(crate::ledger::Rejection::NotFound));
        let data = encode(&hinted).expect("encode");
        assert_eq!(raw_version(&data), 3, "a hint and no count offset");
        assert_eq!(decode(&data).expect("decode"), hinted);

        let mut l = sample(10);
        for (at, extra) in [
            (0, 0),
            (1_796_000_000, 3),
            (5, -7),
            (6, i64::from(i32::MAX) * 4),
        ] {
            let listed = u64::try_from(10 + extra).unwrap_or(0);
            l.mark_listed(at, listed);
            let data = encode(&l).expect("encode");
            assert_eq!(raw_version(&data), 4);
            let back = decode(&data).expect("decode");
            assert_eq!(back.listing().last, Some(at));
            assert_eq!(
                back.listing().count_offset,
                Some(listed as i64 - 10),
                "{extra}"
            );
            assert_eq!(back, l);
        }
        let p = l.iter().next().map(|e| e.phone).expect("test input");
        let listing: Vec<_> = l
            .iter()
            .map(|e| e.phone)
            .chain([2, 1].map(|n| Phone::from_u64_unchecked(8613900000000 + n)))
            .map(|phone| crate::contacts::ObservedContact {
                phone,
                remote_id: None,
                removable: true,
                content_digest: None,
            })
            .collect();
        l.reconcile(&listing);
        assert_eq!(l.console().len(), 2, "two console phones");
        assert_eq!(decode(&encode(&l).expect("encode")).expect("decode"), l);
        l.record_remove_intent(&[p]);
        l.record_remove_outcome(p, ItemOutcome::Rejected(crate::ledger::Rejection::NotFound));
        assert!(l.listing().drift_hint, "a removal not found hints drift");
        assert_eq!(decode(&encode(&l).expect("encode")).expect("decode"), l);

        // A count offset flag in version 3, and an unknown flag in version 4.
        for (version, flags) in [(3, 0b10), (4, 0b100)] {
            let mut raw = forged_head(3, b"uid", 0);
            raw[3] = version;
            put_varint(&mut raw, 0);
            put_varint(&mut raw, 5);
            raw.push(flags);
            assert!(
                matches!(
                    decode(&gzip(&raw, 0)),
                    Err(CodecError::Corrupt("listing flags"))
                ),
                "version {version}, flags {flags:#b}"
            );
        }
    }

    #[test]
    fn refuses_too_many_open_batches_before_reading_them() {
        let mut raw = forged_head(3, b"uid", 0);
        raw[3] = 2;
        put_varint(&mut raw, 1 << 40);
        assert!(matches!(
            decode(&gzip(&raw, 0)),
            Err(CodecError::TooLarge {
                what: "open batch count",
                ..
            })
        ));
    }

    #[test]
    fn rejects_garbage_and_future_versions() {
        assert!(matches!(decode(b"nope"), Err(CodecError::Gzip(_))));
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(b"CSL\x09").expect("test input");
        let data = gz.finish().expect("test input");
        assert!(matches!(decode(&data), Err(CodecError::Version(9))));
    }

    /// The uncompressed head of a forged ledger: magic, version, UID, attempt, entry count.
    fn forged_head(uid_len: u64, uid: &[u8], count: u64) -> Vec<u8> {
        let mut raw = b"CSL\x01".to_vec();
        put_varint(&mut raw, uid_len);
        raw.extend_from_slice(uid);
        put_varint(&mut raw, 1);
        put_varint(&mut raw, count);
        raw
    }

    fn gzip(raw: &[u8], zeros_after: usize) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(raw).expect("test input");
        let zeros = vec![0u8; 1 << 20];
        let mut left = zeros_after;
        while left > 0 {
            let n = left.min(zeros.len());
            gz.write_all(&zeros[..n]).expect("test input");
            left -= n;
        }
        gz.finish().expect("test input")
    }

    /// The forged Secret of the issue declared 50M entries (5.2 GB, 34 s). A count past the
    /// limit is refused from the header, before a single entry is allocated.
    #[test]
    fn refuses_an_entry_count_past_the_limit_before_reading_entries() {
        let data = gzip(&forged_head(3, b"uid", 3_000_000), 0);
        let start = std::time::Instant::now();
        let err = decode(&data).expect_err("3M entries are past the default limit");
        assert!(
            matches!(
                err,
                CodecError::TooLarge {
                    what: "entry count",
                    actual: 3_000_000,
                    limit: 2_000_000
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("entry count is 3000000"), "{err}");
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        // The same within smaller limits, with the entries really there.
        let l = sample(50);
        let small = DecodeLimits {
            max_entries: 49,
            ..DecodeLimits::DEFAULT
        };
        let err = decode_with(&encode(&l).expect("test input"), &small).expect_err("50 > 49");
        assert!(
            matches!(err, CodecError::TooLarge { actual: 50, .. }),
            "{err}"
        );
        assert!(decode_with(&encode(&sample(49)).expect("test input"), &small).is_ok());
    }

    #[test]
    fn refuses_a_huge_uid_and_oversized_data_before_allocating() {
        // A UID length of 1 TB: refused, not allocated.
        let data = gzip(&forged_head(1 << 40, b"", 0), 0);
        let err = decode(&data).expect_err("uid length");
        assert!(
            matches!(
                err,
                CodecError::TooLarge {
                    what: "task UID length",
                    ..
                }
            ),
            "{err}"
        );
        let tiny = DecodeLimits {
            max_compressed: 16,
            ..DecodeLimits::DEFAULT
        };
        let err = decode_with(&encode(&sample(10)).expect("test input"), &tiny).expect_err("size");
        assert!(
            matches!(
                err,
                CodecError::TooLarge {
                    what: "compressed size in bytes",
                    ..
                }
            ),
            "{err}"
        );
    }

    /// A small gzip that inflates to 256 MiB behind one valid entry: decoding reads one byte
    /// past the declared entries and stops, instead of inflating it all into memory.
    #[test]
    fn a_gzip_bomb_behind_the_entries_is_not_inflated() {
        let mut raw = forged_head(3, b"uid", 1);
        put_varint(&mut raw, 8_613_000_000_001);
        raw.extend_from_slice(&[7u8; 8]);
        raw.extend_from_slice(&[0, 1]);
        // Not a zero first: the loop must see a non-zero byte right after the entries.
        raw.push(1);
        let bomb = gzip(&raw, 256 << 20);
        assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
        let start = std::time::Instant::now();
        let err = decode(&bomb).expect_err("trailing bytes");
        let took = start.elapsed();
        assert!(
            matches!(err, CodecError::Corrupt("trailing bytes")),
            "{err}"
        );
        assert!(
            took < std::time::Duration::from_millis(500),
            "took {took:?}"
        );
    }

    /// Prints the stored size per 100k contacts (recorded in BENCHMARKS.md):
    /// `cargo test --lib size_per_100k -- --nocapture`
    #[test]
    fn size_per_100k_contacts() {
        let l = sample(100_000);
        let bytes = encode(&l).expect("test input");
        println!(
            "ledger codec: 100000 contacts -> {} bytes gzip ({:.1} bytes/contact)",
            bytes.len(),
            bytes.len() as f64 / 100_000.0
        );
        assert!(bytes.len() < 1_600_000);
    }
}
