//! The delimiter. Excel writes `;` where the decimal separator is a comma, its "Unicode text"
//! is tab-separated, and it may start a file with `sep=;`. Detection counts the candidates
//! outside quotes on the header line and takes the most frequent; a single-column file is
//! comma-separated.

/// Where the records start and how they are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    /// The field delimiter.
    pub delimiter: u8,
    /// Bytes of the text before the first record (a `sep=` line).
    pub skip_bytes: usize,
    /// Lines before the first record.
    pub skip_lines: u64,
}

const CANDIDATES: [u8; 4] = [b',', b'\t', b';', b'|'];

/// The dialect of `text`; `forced` wins over detection and over a `sep=` line.
pub fn detect(text: &str, forced: Option<u8>) -> Dialect {
    let (skip_bytes, skip_lines, hinted) = match sep_line(text) {
        Some((len, d)) => (len, 1, Some(d)),
        None => (0, 0, None),
    };
    let delimiter = forced
        .or(hinted)
        .unwrap_or_else(|| guess(&text[skip_bytes..]));
    Dialect {
        delimiter,
        skip_bytes,
        skip_lines,
    }
}

/// `sep=;` on the first line: its length with the line end, and the delimiter.
fn sep_line(text: &str) -> Option<(usize, u8)> {
    let line_end = text.find('\n').map_or(text.len(), |i| i + 1);
    let line = text[..line_end].trim_end_matches(['\r', '\n']);
    let rest = line.strip_prefix("sep=")?;
    (rest.len() == 1 && rest.is_ascii()).then(|| (line_end, rest.as_bytes()[0]))
}

fn guess(text: &str) -> u8 {
    let header = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut counts = [0usize; CANDIDATES.len()];
    let mut quoted = false;
    for b in header.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
            counts[i] += 1;
        }
    }
    // Ties go to the earlier candidate: comma first.
    let mut best = 0;
    for i in 1..CANDIDATES.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_delimiters_and_sep_lines() {
        assert_eq!(detect("phone,name\n", None).delimiter, b',');
        assert_eq!(detect("phone\tname\tcity\n", None).delimiter, b'\t');
        assert_eq!(detect("phone;\"a,b\";c\n", None).delimiter, b';');
        assert_eq!(detect("phone\n130\n", None).delimiter, b',');
        let d = detect("sep=;\r\nphone;name\n", None);
        assert_eq!((d.delimiter, d.skip_bytes, d.skip_lines), (b';', 7, 1));
        assert_eq!(detect("phone;name,x\n", Some(b',')).delimiter, b',');
    }
}
