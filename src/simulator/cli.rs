//! `callsync simulate`: flags, merged over an optional YAML file.
use std::net::SocketAddr;
use std::path::PathBuf;

use super::config::{ConfigError, RateLimitConfig, SimulatorConfig};
use super::{Simulator, SimulatorError};

/// Serve a simulator of the three providers' documented APIs (longlonglong `/agent-api/`,
/// Callbot `/callcentre/api/v3/`, NXLink `/openapi/aiagent/`) on one loopback port, with the
/// admin API under `/_sim/`. See docs/simulator.md.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SimulateArgs {
    /// YAML configuration file (accounts, tasks, rate limits, faults); flags override it.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8089, or the file's `listen`].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Add one demo account and task per provider and print their credentials.
    #[arg(long)]
    pub demo: bool,
    /// Seed of the fault-injection random generator.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Delay before a longlonglong async_number batch is applied, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub async_delay_ms: Option<u64>,
    /// How long a Callbot importBatchCall keeps answering 1001, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub callbot_import_ms: Option<u64>,
    /// Default per-account rate limit, requests per second (with --rate-limit-burst).
    #[arg(long, value_name = "RPS")]
    pub rate_limit_rps: Option<f64>,
    /// Default per-account burst [default: the rate, at least 1].
    #[arg(long, value_name = "N")]
    pub rate_limit_burst: Option<u32>,
    /// Fixed latency added to every provider request, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<u64>,
    /// Share of provider requests answered with a 5xx, 0 to 1.
    #[arg(long, value_name = "RATE")]
    pub error_rate: Option<f64>,
    /// Share of provider requests held, then closed without an answer, 0 to 1.
    #[arg(long, value_name = "RATE")]
    pub timeout_rate: Option<f64>,
    /// Share of successful changes whose connection is closed before the answer, 0 to 1.
    #[arg(long, value_name = "RATE")]
    pub drop_after_commit_rate: Option<f64>,
    /// Answer an undocumented behaviour another way (repeatable), for every account of the
    /// provider the variant concerns: see docs/simulator.md, "Variants".
    #[arg(long = "variant", value_name = "NAME")]
    pub variants: Vec<super::Variant>,
}

/// What can go wrong running the command.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Start(#[from] SimulatorError),
    #[error("{0}")]
    Invalid(String),
}

impl SimulateArgs {
    /// The configuration: file (or defaults on 127.0.0.1:8089), then flags.
    pub fn to_config(&self) -> Result<SimulatorConfig, SimulateError> {
        let mut config = match &self.config {
            Some(path) => SimulatorConfig::from_yaml_file(path)?,
            None => SimulatorConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 8089)),
                ..SimulatorConfig::default()
            },
        };
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if self.demo {
            config.accounts.extend(SimulatorConfig::demo().accounts);
        }
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        for account in &mut config.accounts {
            account.variants.extend(
                self.variants
                    .iter()
                    .filter(|v| v.applies_to(account.provider)),
            );
        }
        if let Some(ms) = self.async_delay_ms {
            config.async_delay_ms = ms;
        }
        if let Some(ms) = self.callbot_import_ms {
            config.callbot_import_ms = ms;
        }
        if let Some(rps) = self.rate_limit_rps {
            config.rate_limit = Some(RateLimitConfig {
                requests_per_second: rps,
                burst: self
                    .rate_limit_burst
                    .unwrap_or_else(|| rps.ceil().max(1.0) as u32),
            });
        }
        let faults = &mut config.faults;
        if let Some(ms) = self.latency_ms {
            faults.latency_ms = ms;
        }
        if let Some(rate) = self.error_rate {
            faults.error_rate = rate;
        }
        if let Some(rate) = self.timeout_rate {
            faults.timeout_rate = rate;
        }
        if let Some(rate) = self.drop_after_commit_rate {
            faults.drop_after_commit_rate = rate;
        }
        for rate in [
            faults.error_rate,
            faults.timeout_rate,
            faults.drop_after_commit_rate,
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(SimulateError::Invalid(format!(
                    "fault rate {rate} is not within [0, 1]"
                )));
            }
        }
        Ok(config)
    }
}

/// Runs the simulator until Ctrl-C.
pub async fn run(args: SimulateArgs) -> Result<(), SimulateError> {
    // Logs to stderr (RUST_LOG, default info); a no-op when the binary already set a subscriber.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let config = args.to_config()?;
    if !config.listen.ip().is_loopback() {
        tracing::warn!(listen = %config.listen, "the simulator is listening beyond loopback; it has no real security");
    }
    let demo_accounts = if args.demo {
        SimulatorConfig::demo().accounts
    } else {
        Vec::new()
    };
    let mut running = Simulator::start(config).await?;
    println!("callsync simulator listening on {}", running.base_url());
    println!(
        "admin API: {}/_sim/accounts (send Authorization: Bearer {})",
        running.base_url(),
        running.admin_token()
    );
    for account in &demo_accounts {
        let tasks: Vec<&str> = account.tasks.iter().map(|t| t.id.as_str()).collect();
        let (id_name, secret_name) = match account.provider {
            super::ProviderKind::Longlonglong => ("user_id", "token"),
            super::ProviderKind::Callbot => ("uuid", "secretKey"),
            super::ProviderKind::Nxlink => ("accessKey", "accessSecret"),
        };
        println!(
            "demo {:<12} {id_name}={} {secret_name}={} tasks={}",
            account.provider.as_str(),
            account.id,
            account.secret,
            tasks.join(",")
        );
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = running.wait() => {}
    }
    running.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults() {
        let args = SimulateArgs {
            demo: true,
            seed: Some(9),
            rate_limit_rps: Some(2.5),
            drop_after_commit_rate: Some(0.5),
            ..SimulateArgs::default()
        };
        let config = args.to_config().ok();
        let config = config.as_ref();
        assert_eq!(config.map(|c| c.listen.port()), Some(8089));
        assert_eq!(config.map(|c| c.seed), Some(9));
        assert_eq!(config.map(|c| c.accounts.len()), Some(3));
        assert_eq!(
            config.and_then(|c| c.rate_limit),
            Some(RateLimitConfig {
                requests_per_second: 2.5,
                burst: 3
            })
        );
        assert_eq!(config.map(|c| c.faults.drop_after_commit_rate), Some(0.5));
    }

    #[test]
    fn bad_rates_are_refused() {
        let args = SimulateArgs {
            error_rate: Some(1.5),
            ..SimulateArgs::default()
        };
        assert!(args.to_config().is_err());
    }
}
