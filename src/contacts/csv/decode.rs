//! Bytes to text, for `callsync import` and for ContactList sources stored as bytes (a
//! Secret's `data`, a ConfigMap's `binaryData`). Spreadsheets in China export GBK (a subset of
//! GB18030); Excel's "CSV UTF-8" starts with a byte-order mark; its "Unicode text" export is
//! UTF-16 with a BOM. Detection:
//! a BOM decides; else valid UTF-8 is UTF-8 (GBK text of any length is almost never valid
//! UTF-8); else GB18030. Nothing is replaced: undecodable bytes fail with their line.
use encoding_rs::{DecoderResult, Encoding, GB18030, UTF_8};

use super::CsvError;

/// The text and the encoding it was read in.
#[derive(Debug)]
pub struct Decoded {
    /// The content, without a byte-order mark.
    pub text: String,
    /// Encoding name for the report (`UTF-8`, `GB18030`, …).
    pub encoding: &'static str,
}

/// Decodes `bytes` in `forced`, or in the detected encoding.
pub fn decode(bytes: &[u8], forced: Option<&'static Encoding>) -> Result<Decoded, CsvError> {
    let (encoding, body) = match (Encoding::for_bom(bytes), forced) {
        // A BOM names the encoding for certain, even against `--encoding`: read as GBK, the
        // UTF-8 BOM would turn the first header into mojibake.
        (Some((bom_enc, len)), _) => (bom_enc, &bytes[len..]),
        (None, Some(f)) => (f, bytes),
        (None, None) if std::str::from_utf8(bytes).is_ok() => (UTF_8, bytes),
        (None, None) => (GB18030, bytes),
    };
    let text = decode_strict(encoding, body)?;
    Ok(Decoded {
        text,
        encoding: display_name(encoding),
    })
}

fn display_name(e: &'static Encoding) -> &'static str {
    // encoding_rs decodes GBK with the GB18030 decoder; say what a person chose or recognises.
    if e == encoding_rs::GBK {
        "GBK"
    } else if e == GB18030 {
        "GB18030"
    } else {
        e.name()
    }
}

/// Decodes without replacement characters; the first malformed sequence is an error.
fn decode_strict(encoding: &'static Encoding, body: &[u8]) -> Result<String, CsvError> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(body.len())
        .unwrap_or(body.len().saturating_mul(3));
    let mut text = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(body, &mut text, true);
    match result {
        DecoderResult::InputEmpty => Ok(text),
        DecoderResult::Malformed(bad, after) => {
            // The bad sequence ends `after` bytes before what was read.
            let at = read.saturating_sub(usize::from(bad) + usize::from(after));
            Err(CsvError::Undecodable {
                encoding: display_name(encoding),
                line: line_of(&text, encoding, body, at),
            })
        }
        // The buffer was sized for the worst case; reaching this means it was not.
        DecoderResult::OutputFull => Err(CsvError::Undecodable {
            encoding: display_name(encoding),
            line: 0,
        }),
    }
}

/// The line of byte offset `at`: counted in the decoded text, which ends right before it.
fn line_of(decoded: &str, encoding: &'static Encoding, body: &[u8], at: usize) -> u64 {
    let newlines = if encoding == UTF_8 || encoding == GB18030 || encoding == encoding_rs::GBK {
        // ASCII-compatible: newline bytes are newlines.
        body[..at.min(body.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    } else {
        decoded.matches('\n').count()
    };
    newlines as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_utf8_bom_utf16_and_gbk() {
        let d = decode("phone\n".as_bytes(), None).expect("utf-8");
        assert_eq!((d.text.as_str(), d.encoding), ("phone\n", "UTF-8"));
        let d = decode(b"\xef\xbb\xbfphone\n", None).expect("bom");
        assert_eq!((d.text.as_str(), d.encoding), ("phone\n", "UTF-8"));
        let (gbk, _, _) = encoding_rs::GBK.encode("手机号,姓名\n");
        let d = decode(&gbk, None).expect("gbk");
        assert_eq!((d.text.as_str(), d.encoding), ("手机号,姓名\n", "GB18030"));
        let mut utf16 = vec![0xff, 0xfe];
        for u in "手机\t姓名\n".encode_utf16() {
            utf16.extend(u.to_le_bytes());
        }
        let d = decode(&utf16, None).expect("utf-16");
        assert_eq!((d.text.as_str(), d.encoding), ("手机\t姓名\n", "UTF-16LE"));
    }

    #[test]
    fn forced_encoding_and_malformed_bytes_name_the_line() {
        let (gbk, _, _) = encoding_rs::GBK.encode("手机\n");
        let gbk_label = Encoding::for_label(b"gbk").expect("known label");
        let d = decode(&gbk, Some(gbk_label)).expect("forced gbk");
        assert_eq!((d.text.as_str(), d.encoding), ("手机\n", "GBK"));
        let d = decode("\u{feff}手机\n".as_bytes(), Some(gbk_label)).expect("bom wins");
        assert_eq!((d.text.as_str(), d.encoding), ("手机\n", "UTF-8"));
        // 0xFF is never valid in GB18030 and never valid UTF-8.
        let err = decode(b"phone\n130\n\xff\xff\n", None).expect_err("malformed");
        assert!(
            matches!(err, CsvError::Undecodable { line: 3, .. }),
            "{err}"
        );
        let err = decode(b"phone\n\xe6\x89\n", Some(UTF_8)).expect_err("forced utf-8");
        assert!(
            matches!(err, CsvError::Undecodable { line: 2, .. }),
            "{err}"
        );
    }
}
