//! Embeds the build's identity for `callsync version` and the `callsync_build_info` metric:
//!
//! - `CALLSYNC_GIT_COMMIT`: the commit, from the variable of that name when set (an image build
//!   whose context has no `.git` passes it in), else `git rev-parse HEAD`, else `unknown`;
//! - `CALLSYNC_BUILD_DATE`: RFC 3339 UTC, from `SOURCE_DATE_EPOCH` when set (reproducible
//!   builds; scripts/build-image.sh sets it to the commit's time), else the time this script ran.
//!
//! - `CALLSYNC_TARGET`: the target triple.
//!
//! It never fails the build: no git, no `.git`, or a malformed epoch all give `unknown`.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CALLSYNC_GIT_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");

    let commit = match std::env::var("CALLSYNC_GIT_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_owned(),
        _ => {
            watch_git_head();
            git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into())
        }
    };
    let date = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => epoch
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(rfc3339)
            .unwrap_or_else(|| "unknown".into()),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .and_then(rfc3339)
            .unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=CALLSYNC_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=CALLSYNC_BUILD_DATE={date}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=CALLSYNC_TARGET={target}");
}

/// Output of a git command in the package folder, when git exists and succeeds.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(std::env::var_os("CARGO_MANIFEST_DIR")?)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Reruns this script when HEAD moves (a commit, a checkout), and only then: HEAD itself, the
/// branch it points to and packed-refs, wherever git keeps them (a worktree's `.git` is a file).
/// Without git nothing is watched beyond build.rs and the variables.
fn watch_git_head() {
    let mut paths = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        paths.push(branch);
    }
    for path in paths {
        if let Some(file) = git(&["rev-parse", "--git-path", &path]) {
            let file = PathBuf::from(file);
            let file = match (file.is_relative(), std::env::var_os("CARGO_MANIFEST_DIR")) {
                (true, Some(dir)) => PathBuf::from(dir).join(file),
                _ => file,
            };
            if file.exists() {
                println!("cargo:rerun-if-changed={}", file.display());
            }
        }
    }
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC), without a date crate in
/// the build dependencies.
fn rfc3339(secs: i64) -> Option<String> {
    if secs < 0 {
        return None;
    }
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    ))
}
