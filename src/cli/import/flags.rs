//! `--encoding` and `--delimiter`: import's choices over what the shared CSV reader detects.
use encoding_rs::Encoding;

use super::ImportError;

/// Looks up `--encoding` (any WHATWG label: `utf-8`, `gbk`, `gb18030`, `utf-16le`, `big5`, …).
pub fn encoding_for_label(label: &str) -> Result<&'static Encoding, ImportError> {
    Encoding::for_label(label.trim().as_bytes())
        .ok_or_else(|| ImportError::UnknownEncoding(label.to_string()))
}

/// Parses `--delimiter`: one ASCII character, or `tab`.
pub fn parse_delimiter(s: &str) -> Option<u8> {
    match s {
        "tab" | "\\t" | "\t" => Some(b'\t'),
        _ if s.len() == 1 && s.is_ascii() && s != "\"" && s != "\n" && s != "\r" => {
            Some(s.as_bytes()[0])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_and_encodings() {
        assert_eq!(parse_delimiter("tab"), Some(b'\t'));
        assert_eq!(parse_delimiter(";"), Some(b';'));
        assert_eq!(parse_delimiter("ab"), None);
        assert_eq!(
            encoding_for_label("gbk").expect("known label"),
            encoding_rs::GBK
        );
        assert!(encoding_for_label("klingon").is_err());
    }
}
