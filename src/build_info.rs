//! What this binary is: its version, the commit it was built from and when, embedded by
//! `build.rs`. `callsync version` prints it and the controller exports it as
//! `callsync_build_info`; the image's OCI labels carry the same values (scripts/build-image.sh).
use serde::Serialize;

/// The package version (Cargo.toml).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit built, or `unknown` (a source tree without git, and no `CALLSYNC_GIT_COMMIT`).
pub const GIT_COMMIT: &str = env!("CALLSYNC_GIT_COMMIT");
/// When it was built (RFC 3339, UTC; `SOURCE_DATE_EPOCH` when the build set it), or `unknown`.
pub const BUILD_DATE: &str = env!("CALLSYNC_BUILD_DATE");
/// The Rust target triple the binary was compiled for.
pub const PLATFORM: &str = env!("CALLSYNC_TARGET");

/// The four values together, as `callsync version -o json` prints them.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    pub version: &'static str,
    pub git_commit: &'static str,
    pub build_date: &'static str,
    pub platform: &'static str,
}

/// This binary's build information.
pub const CURRENT: BuildInfo = BuildInfo {
    version: VERSION,
    git_commit: GIT_COMMIT,
    build_date: BUILD_DATE,
    platform: PLATFORM,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_values_are_never_empty() {
        for value in [VERSION, GIT_COMMIT, BUILD_DATE, PLATFORM] {
            assert!(!value.is_empty());
        }
        assert!(
            GIT_COMMIT == "unknown" || GIT_COMMIT.chars().all(|c| c.is_ascii_hexdigit()),
            "{GIT_COMMIT}"
        );
        assert!(
            BUILD_DATE == "unknown" || chrono::DateTime::parse_from_rfc3339(BUILD_DATE).is_ok(),
            "{BUILD_DATE}"
        );
    }
}
