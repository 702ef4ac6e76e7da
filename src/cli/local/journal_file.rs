//! The journal file of a CallTask's local ledger: `<task>.journal` beside `<task>.ledger`.
//!
//! The ledger file is a snapshot, rewritten whole (atomically) only when the journal passes
//! `ledger::journal::compact_after`. Every other save appends to this file the changes since
//! the last save — a sealed journal in the `ledger::journal` sense, written once — so a save
//! before a batch costs what the batch changed, not the ledger, and `apply` saves before every
//! batch: a crash leaves at most the batch in flight in doubt.
//!
//! Layout: `"CSJF" | SHA-256 of the snapshot file (32 bytes)`, then frames `length u32 LE |
//! first 16 bytes of the SHA-256 of the payload | payload` (a `ledger::journal` encoding).
//!
//! - The header binds the file to its snapshot: a journal of another snapshot — left by a
//!   crash between a snapshot's rename and the journal's removal, whose changes that snapshot
//!   already holds — is ignored, and the next save starts the file anew.
//! - An append is fsynced before the save returns. A crash during one leaves a torn last
//!   frame: its end past the end of the file, or a digest that fails on the file's last frame.
//!   That save never returned, so no batch was sent on it: the frame is dropped, and the next
//!   append writes over it. A frame that fails its digest with others after it is damage: the
//!   ledger cannot be read, and the error names the file and the offset.
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::cli::private_files::create_private_file;

const MAGIC: &[u8; 4] = b"CSJF";
const HEADER: usize = MAGIC.len() + 32;
const FRAME_HEAD: usize = 4 + 16;

/// The SHA-256 of a snapshot file's bytes: what its journal is bound to.
pub type Base = [u8; 32];

/// The SHA-256 of `bytes`.
pub fn base_of(bytes: &[u8]) -> Base {
    Sha256::digest(bytes).into()
}

/// What a journal file holds for a snapshot.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Frames {
    /// The journals to replay onto the snapshot, oldest first.
    pub payloads: Vec<Vec<u8>>,
    /// Where the next frame goes: the end of the last whole frame, or 0 when the file must be
    /// started anew (none, another snapshot's, or a torn header).
    pub end: u64,
}

/// A frame that fails its digest while others follow it.
#[derive(Debug, thiserror::Error)]
#[error("the journal frame at byte {offset} does not match its digest")]
pub struct Damaged {
    pub offset: u64,
}

/// Reads the frames of the journal `bytes` (a file's content) bound to `base`.
pub fn read(bytes: &[u8], base: &Base) -> Result<Frames, Damaged> {
    if bytes.len() < HEADER
        || &bytes[..MAGIC.len()] != MAGIC
        || bytes[MAGIC.len()..HEADER] != base[..]
    {
        return Ok(Frames::default());
    }
    let mut frames = Frames {
        payloads: Vec::new(),
        end: HEADER as u64,
    };
    let mut at = HEADER;
    // A torn last frame ends the file: `frames` stops before it.
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + FRAME_HEAD) else {
            break;
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(payload) = bytes.get(at + FRAME_HEAD..at + FRAME_HEAD + len) else {
            break;
        };
        let next = at + FRAME_HEAD + len;
        if head[4..] != Sha256::digest(payload)[..16] {
            if next == bytes.len() {
                break;
            }
            return Err(Damaged { offset: at as u64 });
        }
        frames.payloads.push(payload.to_vec());
        at = next;
        frames.end = at as u64;
    }
    Ok(frames)
}

/// Appends `payload` as a frame at `end` (from [`read`] or the last append; 0: the file is
/// started anew, bound to `base`), durably. Returns the new end.
pub fn append(path: &Path, base: &Base, end: u64, payload: &[u8]) -> std::io::Result<u64> {
    let len = u32::try_from(payload.len())
        .map_err(|_| std::io::Error::other("a journal frame past 4 GiB"))?;
    let mut frame = Vec::with_capacity(HEADER + FRAME_HEAD + payload.len());
    let (mut file, start) = if end == 0 {
        frame.extend_from_slice(MAGIC);
        frame.extend_from_slice(base);
        (create_private_file(path)?, 0)
    } else {
        let mut file = OpenOptions::new().write(true).open(path)?;
        // Drops a torn frame left after `end`.
        file.set_len(end)?;
        file.seek(SeekFrom::Start(end))?;
        (file, end)
    };
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&Sha256::digest(payload)[..16]);
    frame.extend_from_slice(payload);
    file.write_all(&frame)?;
    file.sync_all()?;
    if end == 0 {
        sync_dir(path)?;
    }
    Ok(start + frame.len() as u64)
}

/// Removes the journal once a snapshot holds its changes (gone already is fine).
pub fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_dir(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    #[test]
    fn frames_round_trip_and_bind_to_their_snapshot() {
        let dir = dir();
        let path = dir.path().join("t.journal");
        let base = base_of(b"snapshot one");
        let end = append(&path, &base, 0, b"first").expect("append");
        let end = append(&path, &base, end, b"second").expect("append");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(bytes.len() as u64, end);
        let frames = read(&bytes, &base).expect("frames");
        assert_eq!(frames.payloads, vec![b"first".to_vec(), b"second".to_vec()]);
        assert_eq!(frames.end, end);
        // Another snapshot's journal is ignored, and the next save starts it anew.
        assert_eq!(
            read(&bytes, &base_of(b"snapshot two")).expect("frames"),
            Frames::default()
        );
        let other = base_of(b"snapshot two");
        let end = append(&path, &other, 0, b"third").expect("append");
        let frames = read(&std::fs::read(&path).expect("read"), &other).expect("frames");
        assert_eq!(
            (frames.payloads, frames.end),
            (vec![b"third".to_vec()], end)
        );
        remove(&path).expect("remove");
        remove(&path).expect("gone already is fine");
        assert!(!path.exists());
    }

    /// A crash during an append leaves a torn last frame (cut anywhere, or whole with bytes
    /// that fail its digest): it is dropped and the next append writes over it. A frame that
    /// fails its digest with another after it is damage, named by its offset.
    #[test]
    fn a_torn_last_frame_is_dropped_and_damage_before_the_last_is_refused() {
        let dir = dir();
        let path = dir.path().join("t.journal");
        let base = base_of(b"snapshot");
        let first_end = append(&path, &base, 0, b"first").expect("append");
        let end = append(&path, &base, first_end, b"second frame").expect("append");
        let whole = std::fs::read(&path).expect("read");
        for cut in (first_end as usize + 1)..(end as usize) {
            let frames = read(&whole[..cut], &base).expect("torn");
            assert_eq!(frames.payloads, vec![b"first".to_vec()], "cut at {cut}");
            assert_eq!(frames.end, first_end);
        }
        let mut flipped = whole.clone();
        *flipped.last_mut().expect("byte") ^= 1;
        let frames = read(&flipped, &base).expect("torn");
        assert_eq!((frames.payloads.len(), frames.end), (1, first_end));

        // The next append writes over the torn frame.
        std::fs::write(&path, &whole[..whole.len() - 3]).expect("tear");
        let end = append(&path, &base, first_end, b"again").expect("append");
        let frames = read(&std::fs::read(&path).expect("read"), &base).expect("frames");
        assert_eq!(frames.payloads, vec![b"first".to_vec(), b"again".to_vec()]);
        assert_eq!(frames.end, end);

        let mut damaged = std::fs::read(&path).expect("read");
        damaged[HEADER + FRAME_HEAD] ^= 1;
        let err = read(&damaged, &base).expect_err("damage");
        assert_eq!(err.offset, HEADER as u64);
        // A torn header: started anew.
        assert_eq!(read(&whole[..10], &base).expect("torn"), Frames::default());
    }
}
