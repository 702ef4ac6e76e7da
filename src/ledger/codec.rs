//! The ledger's stored form: a small versioned binary format, gzip-compressed.
//!
//! Layout (before compression), version 1:
//! `"CSL" 0x01 | uid_len varint | uid bytes | next_attempt varint | count varint | entries`,
//! each entry `phone delta varint | digest u64 LE | attempt varint | flags u8` with entries
//! sorted by phone (so deltas are small) and flags = state (bits 0–1) | removable (bit 2) |
//! foreign (bit 3; a ledger written before it existed reads as not foreign).
//! Remote ids are not stored: they are derived from UID, phone and attempt, which saves 16
//! incompressible bytes a contact. Sizes per 100k contacts are in BENCHMARKS.md.
use std::collections::BTreeMap;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use thiserror::Error;

use super::model::{EntryState, Ledger, LedgerEntry, remote_id};
use crate::contacts::{ContentDigest, Phone};

const MAGIC: &[u8; 3] = b"CSL";
/// Current format version.
pub const VERSION: u8 = 1;
/// Decoding refuses more entries than this: a corrupt count must not allocate gigabytes.
const MAX_ENTRIES: u64 = 50_000_000;

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
}

/// Serialises and compresses a ledger.
pub fn encode(ledger: &Ledger) -> Result<Vec<u8>, CodecError> {
    let mut raw = Vec::with_capacity(16 + ledger.len() * 14);
    raw.extend_from_slice(MAGIC);
    raw.push(VERSION);
    let uid = ledger.task_uid().as_bytes();
    put_varint(&mut raw, uid.len() as u64);
    raw.extend_from_slice(uid);
    put_varint(&mut raw, u64::from(ledger.next_attempt()));
    put_varint(&mut raw, ledger.len() as u64);
    let mut prev = 0u64;
    for e in ledger.iter() {
        let p = e.phone.as_u64();
        put_varint(&mut raw, p - prev);
        prev = p;
        raw.extend_from_slice(&e.content_digest.0.to_le_bytes());
        put_varint(&mut raw, u64::from(e.attempt));
        let state = match e.state {
            EntryState::Adding => 0u8,
            EntryState::Present => 1,
            EntryState::Removing => 2,
        };
        raw.push(state | (u8::from(e.removable) << 2) | (u8::from(e.foreign) << 3));
    }
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::default());
    gz.write_all(&raw)?;
    Ok(gz.finish()?)
}

/// Decompresses and reads a ledger written by [`encode`].
pub fn decode(data: &[u8]) -> Result<Ledger, CodecError> {
    let mut raw = Vec::new();
    GzDecoder::new(data).read_to_end(&mut raw)?;
    let mut r = Reader { buf: &raw };
    if r.take(3)? != MAGIC {
        return Err(CodecError::BadMagic);
    }
    let version = r.take(1)?[0];
    if version != VERSION {
        return Err(CodecError::Version(version));
    }
    let uid_len = usize::try_from(r.varint()?).map_err(|_| CodecError::Corrupt("uid length"))?;
    let uid = String::from_utf8(r.take(uid_len)?.to_vec())
        .map_err(|_| CodecError::Corrupt("uid is not UTF-8"))?;
    let next_attempt = u32::try_from(r.varint()?).map_err(|_| CodecError::Corrupt("attempt"))?;
    let count = r.varint()?;
    if count > MAX_ENTRIES {
        return Err(CodecError::Corrupt("entry count"));
    }
    let mut entries = BTreeMap::new();
    let mut phone = 0u64;
    for _ in 0..count {
        let delta = r.varint()?;
        if delta == 0 && !entries.is_empty() {
            return Err(CodecError::Corrupt("entries not sorted"));
        }
        phone = phone
            .checked_add(delta)
            .ok_or(CodecError::Corrupt("phone"))?;
        let mut d = [0u8; 8];
        d.copy_from_slice(r.take(8)?);
        let attempt = u32::try_from(r.varint()?).map_err(|_| CodecError::Corrupt("attempt"))?;
        let flags = r.take(1)?[0];
        let state = match flags & 0b11 {
            0 => EntryState::Adding,
            1 => EntryState::Present,
            2 => EntryState::Removing,
            _ => return Err(CodecError::Corrupt("state")),
        };
        let p = Phone::from_u64_unchecked(phone);
        entries.insert(
            p,
            LedgerEntry {
                phone: p,
                remote_id: remote_id(&uid, p, attempt),
                content_digest: ContentDigest(u64::from_le_bytes(d)),
                state,
                attempt,
                removable: flags & 0b100 != 0,
                foreign: flags & 0b1000 != 0,
            },
        );
    }
    if !r.buf.is_empty() {
        return Err(CodecError::Corrupt("trailing bytes"));
    }
    Ok(Ledger::from_parts(uid, next_attempt, entries))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.buf.len() < n {
            return Err(CodecError::Corrupt("truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Corrupt("varint"))
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn rejects_garbage_and_future_versions() {
        assert!(matches!(decode(b"nope"), Err(CodecError::Gzip(_))));
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(b"CSL\x09").expect("test input");
        let data = gz.finish().expect("test input");
        assert!(matches!(decode(&data), Err(CodecError::Version(9))));
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
