//! The inferred behaviours no read can show: how a provider answers a write. Doctor never
//! writes, so it says for each that it could not be checked, and names the simulator's variants
//! that answer it the other ways (`docs/simulator.md` §6a; the variant matrix proves callsync
//! safe under each).
use super::answers::like;
use super::checks::{Check, Verdict};
use crate::simulator::Variant;

/// One write-side behaviour: the check's name, what is unknown, the variants that answer it
/// another way.
struct Unread {
    name: &'static str,
    what: &'static str,
    variants: &'static [Variant],
}

const LONGLONGLONG: &[Unread] = &[
    Unread {
        name: "asyncAdds",
        what: "whether async_number batches are applied, and how late",
        variants: &[Variant::LllAsyncLate, Variant::LllAsyncNever],
    },
    Unread {
        name: "subUserId",
        what: "where adds read sub_user_id (per row or at the top level)",
        variants: &[Variant::LllSubUserIdPerRow, Variant::LllSubUserIdTopLevel],
    },
    Unread {
        name: "syncAddAnswer",
        what: "whether the (inferred) sync number add names the rows it refused",
        variants: &[Variant::LllSyncAddCountsOnly],
    },
];

const CALLBOT: &[Unread] = &[
    Unread {
        name: "addAnswer",
        what: "whether add and import answers name each failed order in errList",
        variants: &[Variant::CallbotErrListOmitted, Variant::CallbotCountsOnly],
    },
    Unread {
        name: "importMode",
        what: "whether importBatchCall replaces the undialled orders or adds to them",
        variants: &[Variant::CallbotImportAppends],
    },
    Unread {
        name: "batchLimit",
        what: "how many orders one add, import or stopOrder accepts",
        variants: &[Variant::CallbotBatchLimit100],
    },
];

const NXLINK: &[Unread] = &[Unread {
    name: "appendAnswer",
    what: "whether call/append refuses a whole request or answers per contact",
    variants: &[Variant::NxlinkAppendItemResults],
}];

/// One `?` line per write-side behaviour of the provider.
pub fn write_side_checks(kind: &str) -> Vec<Check> {
    let behaviours = match kind {
        "longlonglong" => LONGLONGLONG,
        "callbot" => CALLBOT,
        _ => NXLINK,
    };
    behaviours
        .iter()
        .map(|b| {
            Check::new(
                b.name,
                Verdict::Unchecked,
                format!(
                    "could not be checked, only a write shows it: {}{}",
                    b.what,
                    like(b.variants)
                ),
            )
            .because("NeedsWrite")
        })
        .collect()
}
