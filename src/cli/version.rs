//! `callsync version [-o json]`: the version, the commit and the build date this binary carries
//! (embedded by build.rs; the same values as the image's OCI labels and `callsync_build_info`).
use super::plan::OutputFormat;
use crate::build_info::BuildInfo;

/// Print the version, git commit and build date.
#[derive(clap::Args, Debug, Clone)]
pub struct VersionArgs {
    /// `text` for people, `json` for programs (`version`, `gitCommit`, `buildDate`,
    /// `platform`).
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// What `callsync version` prints for `info`, newline-terminated.
pub fn render(info: &BuildInfo, format: OutputFormat) -> Result<String, serde_json::Error> {
    Ok(match format {
        OutputFormat::Json => format!("{}\n", serde_json::to_string_pretty(info)?),
        OutputFormat::Text => format!(
            "callsync {}\ncommit:   {}\nbuilt:    {}\nplatform: {}\n",
            info.version, info.git_commit, info.build_date, info.platform
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: BuildInfo = BuildInfo {
        version: "1.2.3",
        git_commit: "0123456789abcdef0123456789abcdef01234567",
        build_date: "2026-12-01T00:00:00Z",
        platform: "x86_64-unknown-linux-gnu",
    };

    #[test]
    fn json_names_every_field_and_text_has_one_line_each() {
        let json: serde_json::Value =
            serde_json::from_str(&render(&INFO, OutputFormat::Json).expect("json")).expect("parse");
        assert_eq!(
            json,
            serde_json::json!({
                "version": "1.2.3",
                "gitCommit": "0123456789abcdef0123456789abcdef01234567",
                "buildDate": "2026-12-01T00:00:00Z",
                "platform": "x86_64-unknown-linux-gnu",
            })
        );
        let text = render(&INFO, OutputFormat::Text).expect("text");
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.starts_with("callsync 1.2.3\n"), "{text}");
    }
}
