//! Fault injection, drawn from the simulator's seeded generator.
//!
//! The gate middleware (`gate.rs`) draws a [`FaultDraw`] per provider request. Handlers mark a
//! response that follows an applied mutation with [`Committed`]; a response marked with
//! [`DropConnection`] is never written: the server closes the connection instead, so the client
//! sees a connection error while the state has (for commit-then-drop) changed.
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use rand::rngs::StdRng;

use super::config::{FaultConfig, OversizedAnswer};

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

/// The oversized answer of [`OversizedAnswer`]: `bytes` spaces (JSON whitespace, so only the
/// size is wrong), streamed in 1 MiB chunks without a Content-Length; or, with `gzip`, their
/// gzip (about 1/1000 of the size, built once per size and kept).
pub fn oversized_answer(answer: OversizedAnswer) -> Response {
    const CHUNK: usize = 1 << 20;
    if answer.gzip {
        return (
            [
                (CONTENT_TYPE, "application/json"),
                (CONTENT_ENCODING, "gzip"),
            ],
            gzip_of_spaces(answer.bytes),
        )
            .into_response();
    }
    let chunk = Bytes::from(vec![b' '; CHUNK]);
    let full = answer.bytes / CHUNK as u64;
    let rest = usize::try_from(answer.bytes % CHUNK as u64).unwrap_or(0);
    let chunks = (0..full)
        .map(move |_| chunk.clone())
        .chain((rest > 0).then(|| Bytes::from(vec![b' '; rest])))
        .map(Ok::<_, std::io::Error>);
    (
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(futures::stream::iter(chunks)),
    )
        .into_response()
}

fn gzip_of_spaces(bytes: u64) -> Bytes {
    static LAST: OnceLock<Mutex<Option<(u64, Bytes)>>> = OnceLock::new();
    let cache = LAST.get_or_init(|| Mutex::new(None));
    let mut last = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((size, body)) = last.as_ref()
        && *size == bytes
    {
        return body.clone();
    }
    let spaces = vec![b' '; 1 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut left = bytes;
    while left > 0 {
        let n = usize::try_from(left.min(spaces.len() as u64)).unwrap_or(spaces.len());
        // Writing into a Vec cannot fail.
        let _ = gz.write_all(&spaces[..n]);
        left -= n as u64;
    }
    let body = Bytes::from(gz.finish().unwrap_or_default());
    *last = Some((bytes, body.clone()));
    body
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

    #[tokio::test]
    async fn oversized_answers_have_their_size_as_read() {
        use std::io::Read;
        let plain = oversized_answer(OversizedAnswer {
            bytes: (3 << 20) + 5,
            gzip: false,
        });
        let body = axum::body::to_bytes(plain.into_body(), usize::MAX)
            .await
            .expect("body");
        assert_eq!(body.len(), (3 << 20) + 5);
        let bomb = oversized_answer(OversizedAnswer {
            bytes: 8 << 20,
            gzip: true,
        });
        assert_eq!(bomb.headers()[CONTENT_ENCODING], "gzip");
        let body = axum::body::to_bytes(bomb.into_body(), usize::MAX)
            .await
            .expect("body");
        assert!(body.len() < 64 << 10, "{} bytes on the wire", body.len());
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut inflated)
            .expect("gzip");
        assert_eq!(inflated.len(), 8 << 20);
    }

    #[test]
    fn quiet_config_never_fires() {
        let mut rng = StdRng::seed_from_u64(1);
        let draw = FaultDraw::draw(&FaultConfig::default(), &mut rng);
        assert_eq!(draw, FaultDraw::NONE);
    }
}
