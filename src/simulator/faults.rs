//! Fault injection, drawn from the simulator's seeded generator.
//!
//! The gate middleware (`gate.rs`) draws a [`FaultDraw`] per provider request. Handlers mark a
//! response that follows an applied mutation with [`Committed`]; a response marked with
//! [`DropConnection`] is never written: the server closes the connection instead, so the client
//! sees a connection error while the state has (for commit-then-drop) changed.
use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;

use super::config::FaultConfig;

/// Response extension: the request changed provider state.
#[derive(Debug, Clone, Copy)]
pub struct Committed;

/// Response extension: close the connection instead of answering.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// What happens before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreFault {
    None,
    /// Answer a 5xx without touching state.
    Error,
    /// Hold the request, then close the connection without touching state.
    Timeout,
}

/// The faults drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultDraw {
    pub latency: Duration,
    pub pre: PreFault,
    pub timeout_hold: Duration,
    /// Drop the connection if the handler commits a change.
    pub drop_after_commit: bool,
}

impl FaultDraw {
    pub const NONE: Self = Self {
        latency: Duration::ZERO,
        pre: PreFault::None,
        timeout_hold: Duration::ZERO,
        drop_after_commit: false,
    };

    /// Draws the faults of one request. Always draws the same count of numbers, so that one
    /// seed gives one sequence of faults whatever the rates.
    pub fn draw(config: &FaultConfig, rng: &mut StdRng) -> Self {
        if config.is_quiet() {
            return Self::NONE;
        }
        let jitter = rng.random_range(0..=config.latency_jitter_ms);
        let pre_roll: f64 = rng.random();
        let drop_roll: f64 = rng.random();
        let pre = if pre_roll < config.error_rate {
            PreFault::Error
        } else if pre_roll < config.error_rate + config.timeout_rate {
            PreFault::Timeout
        } else {
            PreFault::None
        };
        Self {
            latency: Duration::from_millis(config.latency_ms.saturating_add(jitter)),
            pre,
            timeout_hold: Duration::from_millis(config.timeout_hold_ms),
            drop_after_commit: drop_roll < config.drop_after_commit_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let config = FaultConfig {
            error_rate: 0.3,
            timeout_rate: 0.2,
            drop_after_commit_rate: 0.5,
            latency_jitter_ms: 10,
            ..FaultConfig::default()
        };
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..50)
                .map(|_| FaultDraw::draw(&config, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        let draws = run(7);
        assert!(draws.iter().any(|d| d.pre == PreFault::Error));
        assert!(draws.iter().any(|d| d.pre == PreFault::Timeout));
        assert!(draws.iter().any(|d| d.pre == PreFault::None));
        assert!(draws.iter().any(|d| d.drop_after_commit));
    }

    #[test]
    fn quiet_config_never_fires() {
        let mut rng = StdRng::seed_from_u64(1);
        let draw = FaultDraw::draw(&FaultConfig::default(), &mut rng);
        assert_eq!(draw, FaultDraw::NONE);
    }
}
