//! Variants: behaviours the providers' public docs leave open, which the simulator can answer
//! in more than one plausible way. The default of every provider is the reading the clients
//! were written against; each variant is one other reading a real server might have. Tests run
//! the same sync under each (docs/providers/README.md has the table of variant × outcome), so
//! callsync is proven safe under readings that the docs do not rule out.
//!
//! Selected per account (`accounts[].variants` in the config file, `--variant NAME` for every
//! account of `callsync simulate`). A variant that does not concern an account's provider is
//! refused when the account is created, so a typo or a misplaced name is never silently ignored.
use serde::{Deserialize, Serialize};

use super::config::ProviderKind;

/// One undocumented behaviour, answered another way than by default.
///
/// Names are camelCase in YAML and on the command line. Each variant says which provider it
/// concerns ([`Variant::provider`]); `None` means any.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "camelCase")]
#[clap(rename_all = "camelCase")]
pub enum Variant {
    // ── any provider ───────────────────────────────────────────────────────────────────────
    /// Answers carry extra fields the clients do not know (a newer API version).
    UnknownFields,
    // ── longlonglong ───────────────────────────────────────────────────────────────────────
    // ── Callbot ────────────────────────────────────────────────────────────────────────────
    // ── NXLink ─────────────────────────────────────────────────────────────────────────────
}

impl Variant {
    /// The provider the variant concerns; `None` for behaviours any provider may have.
    pub fn provider(self) -> Option<ProviderKind> {
        match self {
            Self::UnknownFields => None,
        }
    }

    /// The camelCase name, as in the config file.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Every variant, in declaration order (for the matrix test and `--help`).
    pub fn all() -> &'static [Variant] {
        <Self as clap::ValueEnum>::value_variants()
    }

    /// Whether an account of `provider` can use this variant.
    pub fn applies_to(self, provider: ProviderKind) -> bool {
        self.provider().is_none_or(|p| p == provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_yaml() {
        for variant in Variant::all() {
            let name = variant.name();
            assert!(!name.is_empty(), "{variant:?} has a name");
            let back: Variant = serde_yaml::from_str(&name).expect("a variant name parses");
            assert_eq!(back, *variant);
        }
    }
}
