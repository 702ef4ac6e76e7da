//! Command-line mistakes (an unknown `-o` value, a missing argument) as one line and exit 1,
//! like every other error: exit 2 means "changes planned" for `plan --detailed-exitcode`.
use clap::error::ErrorKind;

/// Help and version requests, which are not errors: clap prints them and exits 0.
pub fn is_request(error: &clap::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    )
}

/// clap's message on one line: what was wrong and where (the flag), with the allowed values
/// when clap lists them; without the usage block and the pointer to `--help`.
pub fn one_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let mut parts = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("Usage:") || line.starts_with("For more information")
        {
            if line.starts_with("Usage:") {
                break;
            }
            continue;
        }
        parts.push(line.strip_prefix("error: ").unwrap_or(line).to_owned());
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn an_unknown_output_value_is_one_line_naming_the_flag_and_the_choices() {
        let error =
            crate::cli::Cli::try_parse_from(["callsync", "validate", "-f", "x", "-o", "yaml"])
                .expect_err("yaml is not an output format");
        assert!(!is_request(&error));
        let line = one_line(&error);
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.contains("'yaml'") && line.contains("--output"),
            "{line}"
        );
        assert!(line.contains("text, json"), "{line}");
    }
}
