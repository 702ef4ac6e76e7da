//! Phones as Callbot writes them back in `errList` and `listOrder`.
//!
//! The docs show only that `errList[].phone` is "导入失败手机号" (the phone that failed): not
//! whether it is written as it was sent. A server may add a `+` or spaces, drop the country code,
//! or mask the middle (`86131****0001`). An entry is matched to a sent phone by canonical form,
//! and only when exactly one sent phone fits at the best level: an entry that cannot be placed
//! leaves the batch unproven (its items stay in doubt) instead of being skipped.

/// How an echoed phone reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Echo {
    /// Digits only, after dropping `+`, spaces, dashes, dots and parentheses.
    Digits(String),
    /// Masked: the digits visible before and after the mask (`*`, `x`, `X`).
    Masked { head: String, tail: String },
    /// Anything else (empty, letters).
    Unreadable,
}

/// Reads an echoed phone.
pub(super) fn read(raw: &str) -> Echo {
    let kept: String = raw
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
        .collect();
    if kept.is_empty() {
        return Echo::Unreadable;
    }
    if kept.bytes().all(|b| b.is_ascii_digit()) {
        return Echo::Digits(kept);
    }
    let is_mask = |c: char| matches!(c, '*' | 'x' | 'X');
    if !kept.chars().all(|c| c.is_ascii_digit() || is_mask(c)) {
        return Echo::Unreadable;
    }
    let head: String = kept.chars().take_while(char::is_ascii_digit).collect();
    let tail: String = kept
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Echo::Masked { head, tail }
}

/// How well an echo fits a sent phone; smaller is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Fit {
    /// Written exactly as sent.
    Exact,
    /// The same digits (a `+`, spaces or dashes added).
    SameDigits,
    /// With or without a country code of 1 to 3 digits, or masked with the visible digits in
    /// place.
    Loose,
}

/// Country codes are 1 to 3 digits.
const COUNTRY_CODE_LEN: std::ops::RangeInclusive<usize> = 1..=3;
/// Fewer visible digits than this match too many numbers to mean anything.
const MIN_VISIBLE: usize = 6;

/// How `raw` (as the provider wrote it) fits `sent` (country code + number, digits only).
pub(super) fn fit(raw: &str, sent: &str) -> Option<Fit> {
    if raw == sent {
        return Some(Fit::Exact);
    }
    match read(raw) {
        Echo::Digits(digits) if digits == sent => Some(Fit::SameDigits),
        Echo::Digits(digits) => {
            let (long, short) = if digits.len() > sent.len() {
                (digits.as_str(), sent)
            } else {
                (sent, digits.as_str())
            };
            let loose = short.len() >= MIN_VISIBLE
                && COUNTRY_CODE_LEN.contains(&(long.len() - short.len()))
                && long.ends_with(short);
            loose.then_some(Fit::Loose)
        }
        Echo::Masked { head, tail } => {
            if head.len() + tail.len() < MIN_VISIBLE.min(sent.len()) {
                return None;
            }
            // The mask may hide the middle of the number as sent, or of the number without
            // its country code.
            let fits = std::iter::once(0)
                .chain(COUNTRY_CODE_LEN)
                .filter_map(|skip| sent.get(skip..))
                .any(|rest| {
                    rest.len() > head.len() + tail.len()
                        && rest.starts_with(&head)
                        && rest.ends_with(&tail)
                });
            fits.then_some(Fit::Loose)
        }
        Echo::Unreadable => None,
    }
}

/// Where the echoed phones of `errList` landed among the sent items.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Placement {
    /// `(item index, entry index)` pairs.
    pub(super) placed: Vec<(usize, usize)>,
    /// Entries that fit no sent item, or more than one sent phone equally well.
    pub(super) unplaced: usize,
}

/// Places each echoed phone on one sent item: the best-fitting level wins, and it must name
/// exactly one distinct sent phone among the items not yet taken (a phone sent twice takes one
/// item per entry). Exact and same-digit entries are placed before loose ones, so a masked
/// entry cannot take an item another entry names exactly.
pub(super) fn place(sent: &[&str], echoes: &[&str]) -> Placement {
    let mut taken = vec![false; sent.len()];
    let mut placement = Placement::default();
    let mut loose = Vec::new();
    for strict in [true, false] {
        let entries: Vec<usize> = if strict {
            (0..echoes.len()).collect()
        } else {
            std::mem::take(&mut loose)
        };
        for entry in entries {
            let mut best: Option<(Fit, &str)> = None;
            let mut ambiguous = false;
            for (index, phone) in sent.iter().enumerate() {
                if taken[index] {
                    continue;
                }
                let Some(level) = fit(echoes[entry], phone) else {
                    continue;
                };
                match best {
                    Some((b, p)) if level == b && p != *phone => ambiguous = true,
                    Some((b, _)) if level >= b => {}
                    _ => {
                        best = Some((level, phone));
                        ambiguous = false;
                    }
                }
            }
            match best {
                Some((Fit::Loose, _)) if strict => loose.push(entry),
                Some((_, phone)) if !ambiguous => {
                    // The last untaken item with that phone (the order does not matter: the
                    // items are the same phone).
                    if let Some(index) = (0..sent.len())
                        .rev()
                        .find(|i| !taken[*i] && sent[*i] == phone)
                    {
                        taken[index] = true;
                        placement.placed.push((index, entry));
                    }
                }
                _ => placement.unplaced += 1,
            }
        }
    }
    placement.placed.sort_unstable();
    placement
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_echoes() {
        assert_eq!(
            read("+86 131-0000-0001"),
            Echo::Digits("8613100000001".into())
        );
        assert_eq!(
            read("86131****0001"),
            Echo::Masked {
                head: "86131".into(),
                tail: "0001".into()
            }
        );
        assert_eq!(read(""), Echo::Unreadable);
        assert_eq!(read("n/a"), Echo::Unreadable);
    }

    #[test]
    fn fits_by_canonical_form() {
        let sent = "8613100000001";
        assert_eq!(fit(sent, sent), Some(Fit::Exact));
        assert_eq!(fit("+8613100000001", sent), Some(Fit::SameDigits));
        assert_eq!(fit("13100000001", sent), Some(Fit::Loose));
        assert_eq!(fit("86131****0001", sent), Some(Fit::Loose));
        assert_eq!(fit("131****0001", sent), Some(Fit::Loose));
        assert_eq!(fit("+86131****0001", sent), Some(Fit::Loose));
        assert_eq!(fit("8613100000002", sent), None);
        assert_eq!(fit("0001", sent), None);
        assert_eq!(fit("****0001", sent), None);
    }

    #[test]
    fn places_unambiguous_entries_only() {
        let sent = ["8613100000001", "8613100000002", "8613100000002"];
        // exact, digits and without country code each name one phone
        let p = place(&sent, &["8613100000001", "+8613100000002", "13100000002"]);
        assert_eq!(p.placed, vec![(0, 0), (1, 2), (2, 1)]);
        assert_eq!(p.unplaced, 0);
        // a mask that hides the only difference fits both phones: not placed
        let p = place(&["8613100000001", "8613155550001"], &["86131****0001"]);
        assert_eq!((p.placed.len(), p.unplaced), (0, 1));
        let p = place(&sent, &["861310000****"]);
        assert_eq!(p.unplaced, 1);
        // a masked entry fitting one phone is placed
        let p = place(&sent, &["86131****0001"]);
        assert_eq!(p.placed, vec![(0, 0)]);
        // an entry naming nothing sent is not placed
        let p = place(&sent, &["8613199999999"]);
        assert_eq!((p.placed.len(), p.unplaced), (0, 1));
        // more entries for a phone than items with it
        let p = place(&sent, &["8613100000001", "8613100000001"]);
        assert_eq!((p.placed.len(), p.unplaced), (1, 1));
    }
}
