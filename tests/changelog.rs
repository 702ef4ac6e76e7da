//! CHANGELOG.md follows Keep a Changelog and agrees with the versions the build and the chart
//! carry: its top section is `[Unreleased]` or the Cargo.toml version (released, with a date);
//! no released section is newer than Cargo.toml; the chart's appVersion is the Cargo.toml
//! version and its version a semantic version not older than the last release.
use std::path::PathBuf;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `X.Y.Z` (a pre-release or build suffix ignored) as numbers.
fn semver(version: &str) -> (u64, u64, u64) {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<u64> = core
        .split('.')
        .map(|p| {
            p.parse()
                .unwrap_or_else(|_| panic!("not semver: {version}"))
        })
        .collect();
    assert_eq!(parts.len(), 3, "not semver: {version}");
    (parts[0], parts[1], parts[2])
}

/// The `## [...]` headings: (name, the rest of the line).
fn sections(changelog: &str) -> Vec<(String, String)> {
    changelog
        .lines()
        .filter_map(|l| l.strip_prefix("## ["))
        .map(|l| {
            let (name, rest) = l.split_once(']').expect("## [name]");
            (name.to_owned(), rest.trim().to_owned())
        })
        .collect()
}

fn chart_field(chart: &serde_yaml::Value, key: &str) -> String {
    chart[key]
        .as_str()
        .unwrap_or_else(|| panic!("Chart.yaml {key}"))
        .to_owned()
}

#[test]
fn the_changelog_top_is_unreleased_or_the_cargo_version_and_the_chart_agrees() {
    let changelog = read("CHANGELOG.md");
    assert!(
        changelog.starts_with("# Changelog\n"),
        "a Keep a Changelog title"
    );
    assert!(changelog.contains("keepachangelog.com"), "names its format");
    let cargo = env!("CARGO_PKG_VERSION");
    let sections = sections(&changelog);
    let (top, top_rest) = sections.first().expect("at least one ## [section]");

    let mut released = Vec::new();
    for (i, (name, rest)) in sections.iter().enumerate() {
        if name == "Unreleased" {
            assert_eq!(i, 0, "[Unreleased] comes first");
            continue;
        }
        let date = rest.strip_prefix("- ").unwrap_or_else(|| {
            panic!("## [{name}] needs a release date: '## [{name}] - YYYY-MM-DD'")
        });
        assert!(
            chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
            "## [{name}]: {date} is not YYYY-MM-DD"
        );
        released.push(semver(name));
    }
    assert!(
        released.windows(2).all(|w| w[0] > w[1]),
        "released sections newest first: {released:?}"
    );
    if top != "Unreleased" {
        assert_eq!(
            top, cargo,
            "the newest release in CHANGELOG.md ({top} {top_rest}) is Cargo.toml's version"
        );
    }
    if let Some(newest) = released.first() {
        assert!(
            *newest <= semver(cargo),
            "CHANGELOG.md releases {newest:?}, newer than Cargo.toml's {cargo}"
        );
    }

    let chart: serde_yaml::Value =
        serde_yaml::from_str(&read("charts/callsync/Chart.yaml")).expect("Chart.yaml");
    assert_eq!(
        chart_field(&chart, "appVersion"),
        cargo,
        "Chart.yaml appVersion is the controller's version"
    );
    let chart_version = semver(&chart_field(&chart, "version"));
    if let Some(newest) = released.first() {
        assert!(
            chart_version >= *newest,
            "the chart's version {chart_version:?} is older than the last release {newest:?}"
        );
    }
}
