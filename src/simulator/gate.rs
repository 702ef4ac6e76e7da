//! The gate every provider request passes: count it, rate-limit its account, inject faults.
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::config::ProviderKind;
use super::faults::{Committed, DropConnection, FaultDraw, PreFault};
use super::state::{AccountKey, SimState};
use super::{auth, callbot, longlonglong, nxlink};

/// Which provider a path belongs to.
pub fn provider_of(path: &str) -> Option<ProviderKind> {
    if path.starts_with("/agent-api/") {
        Some(ProviderKind::Longlonglong)
    } else if path.starts_with("/callcentre/") {
        Some(ProviderKind::Callbot)
    } else if path.starts_with("/openapi/aiagent/") {
        Some(ProviderKind::Nxlink)
    } else {
        None
    }
}

/// The account a request claims to come from (checked later by the handler's authentication).
fn claimed_account(
    sim: &SimState,
    provider: ProviderKind,
    request: &Request,
) -> Option<AccountKey> {
    let headers = request.headers();
    let id = match provider {
        ProviderKind::Longlonglong => {
            let token = auth::lll_token(headers)?;
            sim.lock().lll_tokens.get(token).cloned()?
        }
        ProviderKind::Callbot => headers.get("uuid")?.to_str().ok()?.to_owned(),
        ProviderKind::Nxlink => headers.get("accessKey")?.to_str().ok()?.to_owned(),
    };
    Some((provider, id))
}

fn dropped() -> Response {
    let mut response = ().into_response();
    response.extensions_mut().insert(DropConnection);
    response
}

pub async fn gate(
    State(sim): State<Arc<SimState>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let endpoint = format!(
        "{} {}",
        request.method(),
        matched.as_ref().map_or(path.as_str(), |m| m.as_str())
    );
    let Some(provider) = provider_of(&path) else {
        return next.run(request).await;
    };
    let account = claimed_account(&sim, provider, &request);
    let (allowed, faults) = {
        let mut inner = sim.lock();
        inner.count(&endpoint).calls += 1;
        let allowed = account
            .as_ref()
            .is_none_or(|key| inner.take_token(key, Instant::now()));
        if !allowed {
            inner.count(&endpoint).rate_limited += 1;
        }
        (allowed, inner.faults_for(account.as_ref()))
    };
    if !allowed {
        return match provider {
            ProviderKind::Longlonglong => longlonglong::rate_limited(),
            ProviderKind::Callbot => callbot::rate_limited(),
            ProviderKind::Nxlink => nxlink::rate_limited(),
        };
    }
    let draw = if faults.is_quiet() {
        FaultDraw::NONE
    } else {
        FaultDraw::draw(&faults, &mut sim.rng())
    };
    if !draw.latency.is_zero() {
        tokio::time::sleep(draw.latency).await;
    }
    match draw.pre {
        PreFault::None => {}
        PreFault::Error => {
            sim.lock().count(&endpoint).injected_errors += 1;
            return match provider {
                ProviderKind::Longlonglong => longlonglong::server_error(),
                ProviderKind::Callbot => callbot::server_error(),
                ProviderKind::Nxlink => nxlink::server_error(),
            };
        }
        PreFault::Timeout => {
            sim.lock().count(&endpoint).injected_timeouts += 1;
            tokio::time::sleep(draw.timeout_hold).await;
            return dropped();
        }
    }
    let response = next.run(request).await;
    if let Some(answer) = faults.oversized_answer {
        tracing::info!(%endpoint, bytes = answer.bytes, gzip = answer.gzip, "fault: oversized answer");
        return super::faults::oversized_answer(answer);
    }
    if draw.drop_after_commit && response.extensions().get::<Committed>().is_some() {
        sim.lock().count(&endpoint).dropped_after_commit += 1;
        tracing::info!(%endpoint, "fault: change committed, connection dropped");
        return dropped();
    }
    response
}
