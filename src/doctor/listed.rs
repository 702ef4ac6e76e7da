//! How listed phones are written, compared with how callsync sends them. The clients normalise
//! what they read (a `+` dropped, a country code read away), and the recorder masks every phone
//! on arrival, so neither shows the form the provider used; this observer sees the raw listing
//! answers of one task, sorts each listed phone into a [`PhoneForm`], and keeps only the counts
//! and a masked example — never a phone.
use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::contacts::{Phone, mask_phone};
use crate::providers::http::{AnswerObserver, ObservedAnswer, SharedObserver};
use crate::sync::WireFormat;

/// The operations whose answers list a task's contacts.
const LISTING_OPS: &[&str] = &["number-list", "listOrder"];
/// Row fields that hold the phone (longlonglong `phone`/`number`, Callbot `userPhone`).
const PHONE_FIELDS: &[&str] = &["phone", "number", "userPhone"];

/// How one listed phone is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PhoneForm {
    /// Exactly as callsync writes it in the CallProvider's `phoneFormat`.
    AsSent,
    /// Masked by the provider (`130****1211`): no contact can be matched to it.
    Masked,
    /// What callsync sends with a `+` in front.
    WithPlus,
    /// A national-format account's number with the country code in front.
    WithCountryCode,
    /// An international-format account's number that does not read as country code + number
    /// (most likely written without the country code).
    NotInternational,
    /// Anything else that does not read back in the `phoneFormat`.
    Unreadable,
}

impl PhoneForm {
    /// Words for the report.
    pub fn describe(self) -> &'static str {
        match self {
            Self::AsSent => "as sent",
            Self::Masked => "masked",
            Self::WithPlus => "with a +",
            Self::WithCountryCode => "with the country code",
            Self::NotInternational => "not as country code + number (without the country code?)",
            Self::Unreadable => "in a form that does not read back",
        }
    }

    /// Sorts one listed phone as the provider wrote it.
    pub fn of(raw: &str, wire: &WireFormat) -> Self {
        let raw = raw.trim();
        if raw.contains('*') || raw.contains('＊') {
            return Self::Masked;
        }
        let round_trip = |text: &str| {
            wire.decode(text)
                .ok()
                .and_then(|phone| wire.encode(phone).ok())
        };
        if round_trip(raw).as_deref() == Some(raw) {
            return Self::AsSent;
        }
        if let Some(rest) = raw.strip_prefix('+')
            && round_trip(rest).as_deref() == Some(rest)
        {
            return Self::WithPlus;
        }
        let digits_only = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
        match wire.format {
            crate::api::PhoneFormat::National
                if digits_only && Phone::parse(&format!("+{raw}"), None).is_ok() =>
            {
                Self::WithCountryCode
            }
            crate::api::PhoneFormat::InternationalDigits | crate::api::PhoneFormat::E164
                if digits_only =>
            {
                Self::NotInternational
            }
            _ => Self::Unreadable,
        }
    }
}

/// The forms seen so far: a count each, and one masked example.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forms {
    pub counts: BTreeMap<PhoneForm, usize>,
    pub examples: BTreeMap<PhoneForm, String>,
}

impl Forms {
    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }
}

/// Sorts the phones of one task's listing answers (see the module doc).
#[derive(Debug)]
pub struct ListedPhones {
    wire: WireFormat,
    forms: Mutex<Forms>,
}

impl ListedPhones {
    pub fn new(wire: WireFormat) -> Self {
        Self {
            wire,
            forms: Mutex::new(Forms::default()),
        }
    }

    /// The forms seen since the last call, and a fresh start.
    pub fn take(&self) -> Forms {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Forms> {
        self.forms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl AnswerObserver for ListedPhones {
    fn answer(&self, answer: &ObservedAnswer<'_>) {
        if !LISTING_OPS.contains(&answer.op) || !answer.status.is_success() {
            return;
        }
        let Ok(body) = serde_json::from_slice::<Value>(answer.body) else {
            return;
        };
        let mut forms = self.lock();
        for raw in listed_phones(&body) {
            let form = PhoneForm::of(&raw, &self.wire);
            *forms.counts.entry(form).or_default() += 1;
            forms
                .examples
                .entry(form)
                .or_insert_with(|| mask_phone(&raw));
        }
    }
}

/// The phones of a listing answer's rows, wherever the known answer shapes put them.
fn listed_phones(body: &Value) -> Vec<String> {
    let data = body.get("data");
    let row_lists = [
        data,
        data.and_then(|d| d.get("data")),
        data.and_then(|d| d.get("list")),
        body.get("orderList"),
        body.get("list"),
    ];
    row_lists
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|row| {
            PHONE_FIELDS.iter().find_map(|field| match row.get(*field) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
        })
        .collect()
}

/// Several observers as one (the recorder and a task's [`ListedPhones`]).
#[derive(Debug)]
pub struct Observers(pub Vec<SharedObserver>);

impl AnswerObserver for Observers {
    fn answer(&self, answer: &ObservedAnswer<'_>) {
        for observer in &self.0 {
            observer.answer(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PhoneFormat;

    #[test]
    fn listed_phones_are_sorted_by_form() {
        let national = WireFormat {
            format: PhoneFormat::National,
            region: Some("CN".into()),
        };
        let international = WireFormat {
            format: PhoneFormat::InternationalDigits,
            region: None,
        };
        let cases = [
            ("13012121211", &national, PhoneForm::AsSent),
            ("8613012121211", &national, PhoneForm::WithCountryCode),
            ("130****1211", &national, PhoneForm::Masked),
            ("8613926123456", &international, PhoneForm::AsSent),
            ("+8613926123456", &international, PhoneForm::WithPlus),
            ("86139****3456", &international, PhoneForm::Masked),
            ("13926123456", &international, PhoneForm::NotInternational),
            ("call me", &international, PhoneForm::Unreadable),
        ];
        for (raw, wire, form) in cases {
            assert_eq!(PhoneForm::of(raw, wire), form, "{raw}");
        }
    }
}
