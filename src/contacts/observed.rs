//! A contact as a provider listed it: what observation hands the ledger and the planner.
use super::{ContentDigest, Phone, RemoteId};

/// One contact as a provider listed it, its phone already parsed from the wire format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedContact {
    /// Canonical phone.
    pub phone: Phone,
    /// The provider's id for it, when it has one.
    pub remote_id: Option<RemoteId>,
    /// False when the provider no longer allows removing it (already called).
    pub removable: bool,
    /// Digest of its content, when the provider returns enough to compute it. When `None`
    /// the ledger's digest of what callsync sent is used.
    pub content_digest: Option<ContentDigest>,
}
