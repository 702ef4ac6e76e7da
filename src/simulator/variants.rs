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
    /// The number listing serves at most 20 rows a page whatever `per_page` asked (its `meta`,
    /// when there is one, says 20).
    LllPageSizeCapped,
    /// The number listing carries no `meta` (no `last_page`, no `total`).
    LllNoPageMeta,
    /// Listed phones carry the country code: `8613012121211` for `13012121211`.
    LllListPhoneCountryCode,
    /// Listed phones are masked: `130****1211`.
    LllListPhoneMasked,
    /// `async_number` batches are applied late: 20 × `asyncDelayMs` after they were accepted.
    LllAsyncLate,
    /// `async_number` batches are accepted (with a `unique_id`) and never applied; their
    /// result stays `processing`.
    LllAsyncNever,
    /// Adds read `sub_user_id` only per row (`data.*.sub_user_id`, the docs' table); a
    /// top-level one is ignored.
    LllSubUserIdPerRow,
    /// Adds read `sub_user_id` only at the top level (the docs' example); per-row ones are
    /// ignored.
    LllSubUserIdTopLevel,
    /// Messages (envelope and per-row reasons) are in English instead of Chinese.
    LllEnglishMessages,
    /// The (inferred) sync `number` add answers with counts only: refused rows are not named.
    LllSyncAddCountsOnly,
    // ── Callbot ────────────────────────────────────────────────────────────────────────────
    /// Add answers leave `errList` out, failures or not (the docs mark it optional): only
    /// `successCount` tells that some orders failed.
    CallbotErrListOmitted,
    /// Add answers carry the counts only: `errList` is always empty.
    CallbotCountsOnly,
    /// Phones in `errList` and `listOrder` rows come back with a `+`.
    CallbotPhonePlus,
    /// Phones in `errList` and `listOrder` rows come back without their country code.
    CallbotPhoneNational,
    /// Phones in `errList` and `listOrder` rows come back masked (`86131****0001`).
    CallbotPhoneMasked,
    /// `listOrder` serves at most 20 rows per page, whatever `size` asks (and pages by 20).
    CallbotPageSizeCapped,
    /// `listOrder` and add answers have no `totalCount`.
    CallbotTotalCountMissing,
    /// `listOrder` refuses a `size` under 10 (retCode 4), as a server with a smallest page
    /// would: callsync's count (a page of one) gets no answer.
    CallbotPageSizeMinimum,
    /// `importBatchCall` adds the new batch to the undialled orders instead of replacing them.
    CallbotImportAppends,
    /// `addBatchCall`, `importBatchCall` and `stopOrder` refuse more than 100 orders with 4001
    /// (the limit is not documented).
    CallbotBatchLimit100,
    /// Every message (`retMsg`, `errMsg`) in English.
    CallbotEnglishMessages,
    /// Every message in Chinese, also the per-order ones (`号码重复`, `订单ID已存在`).
    CallbotChineseMessages,
    // ── NXLink ─────────────────────────────────────────────────────────────────────────────
    /// Business messages in Chinese (任务不存在, 联系人不存在, 号码重复, …) instead of English:
    /// the docs give one code (20000) for every business error and no message list.
    NxlinkChineseMessages,
    /// "Not found" (unknown task, unknown contact) as HTTP 404 with `code` 404, instead of
    /// HTTP 200 with code 20000 in the body.
    NxlinkNotFoundAsHttp404,
    /// `call/append` applies the valid contacts and answers code 0 with per-item results in
    /// `data` (`successCount`, `failCount`, `failList[{index, contactId, phoneNumber,
    /// message}]`), instead of refusing the whole request (the docs show `data: {}`).
    NxlinkAppendItemResults,
}

impl Variant {
    /// The provider the variant concerns; `None` for behaviours any provider may have.
    pub fn provider(self) -> Option<ProviderKind> {
        match self {
            Self::UnknownFields => None,
            Self::NxlinkChineseMessages
            | Self::NxlinkNotFoundAsHttp404
            | Self::NxlinkAppendItemResults => Some(ProviderKind::Nxlink),
            Self::LllPageSizeCapped
            | Self::LllNoPageMeta
            | Self::LllListPhoneCountryCode
            | Self::LllListPhoneMasked
            | Self::LllAsyncLate
            | Self::LllAsyncNever
            | Self::LllSubUserIdPerRow
            | Self::LllSubUserIdTopLevel
            | Self::LllEnglishMessages
            | Self::LllSyncAddCountsOnly => Some(ProviderKind::Longlonglong),
            Self::CallbotErrListOmitted
            | Self::CallbotCountsOnly
            | Self::CallbotPhonePlus
            | Self::CallbotPhoneNational
            | Self::CallbotPhoneMasked
            | Self::CallbotPageSizeCapped
            | Self::CallbotTotalCountMissing
            | Self::CallbotPageSizeMinimum
            | Self::CallbotImportAppends
            | Self::CallbotBatchLimit100
            | Self::CallbotEnglishMessages
            | Self::CallbotChineseMessages => Some(ProviderKind::Callbot),
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
