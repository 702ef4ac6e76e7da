//! Logging setup shared by the subcommands: `RUST_LOG`-style filters, human-readable or JSON
//! lines. Phones and secrets never reach a log: callers log masked values only.
use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `--log-level`: the least severe lines written, for callsync and the libraries it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

/// The filter in force: `--log-level` when given (a flag on the command line says what this
/// run wants, so it wins), else `RUST_LOG`, else `default_filter`.
pub fn filter(level: Option<LogLevel>, default_filter: &str) -> EnvFilter {
    match level {
        Some(level) => EnvFilter::new(level.as_str()),
        None => {
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter))
        }
    }
}

/// Installs the global subscriber. `default_filter` applies when `RUST_LOG` is unset. Calling it
/// twice is harmless (the second call changes nothing), which keeps tests simple.
pub fn init(format: LogFormat, default_filter: &str) {
    init_with_level(format, None, default_filter);
}

/// [`init`], with `--log-level` (see [`filter`]).
pub fn init_with_level(format: LogFormat, level: Option<LogLevel>, default_filter: &str) {
    let filter = filter(level, default_filter);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--log-level` wins over `RUST_LOG` and the command's default, whatever they say.
    #[test]
    fn the_log_level_flag_sets_the_filter() {
        for (level, text) in [
            (LogLevel::Error, "error"),
            (LogLevel::Warn, "warn"),
            (LogLevel::Info, "info"),
            (LogLevel::Debug, "debug"),
            (LogLevel::Trace, "trace"),
        ] {
            assert_eq!(
                filter(Some(level), "info,kube_runtime=warn").to_string(),
                text
            );
        }
    }
}
