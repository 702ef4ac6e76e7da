//! Secret values the tests put into Secrets, for the leak scans. Constants named like a secret
//! (`*SECRET*`, `*TOKEN*`, `*WRONG*`, `*PASSWORD*`) in any `tests/**/*.rs` are collected
//! automatically (see `leaks::secret_values`); literals written inline go here.
pub const INLINE_SECRETS: &[&str] = &[
    // tests/controller_e2e.rs: the wrong Callbot secret.
    "wrong-secret",
];

/// Shorter values are too common to scan for (`"k"`, `"s-1"`): tests that want their secret
/// scanned use at least this many characters.
pub const MIN_SECRET_LEN: usize = 6;
