//! The admin API under `/_sim/`: accounts, credentials and tasks; contacts read and marked
//! called; faults and rate limits changed at run time; counters and the audit log.
//! It is plain JSON and meant for loopback only. It serves the accounts' credentials and every
//! full phone number, so every route but `/_sim/health` answers only requests that carry
//! `Authorization: Bearer <token>`: the token of the run (`SimulatorConfig::admin_token`, or a
//! random one printed by `callsync simulate` and given to embedders by
//! `RunningSimulator::admin_token`). Any local user can connect to a loopback port; only the one
//! who started the simulator knows the token.
#![allow(
    clippy::result_large_err,
    reason = "handlers exit early with a ready HTTP response; one per request, boxing buys nothing"
)]
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{AuditOp, AuditOutcome};
use super::config::{
    AccountConfig, FaultConfig, ProviderKind, RateLimitConfig, TaskConfig, TaskState,
};
use super::state::{AccountKey, ContactState, SimState, StateError};

type Sim = State<Arc<SimState>>;

/// Routes anyone may call: they reveal nothing.
pub fn open_routes() -> Router<Arc<SimState>> {
    Router::new().route("/health", get(|| async { Json(json!({"status": "ok"})) }))
}

/// Refuses a request without the run's admin token (401), before any handler reads state.
pub async fn require_token(
    State(sim): Sim,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let presented = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compare digests, so the time taken does not tell how much of a guess was right.
    let digest = |s: &str| <sha2::Sha256 as sha2::Digest>::digest(s.as_bytes());
    match presented {
        Some(token) if digest(token) == digest(&sim.admin_token) => next.run(request).await,
        _ => problem(
            StatusCode::UNAUTHORIZED,
            "the admin API needs Authorization: Bearer <token>; callsync simulate prints the token",
        ),
    }
}

/// The routes behind [`require_token`].
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/accounts", get(list_accounts).post(create_account))
        .route("/accounts/{provider}/{account}", get(get_account))
        .route("/accounts/{provider}/{account}/tasks", post(create_task))
        .route("/accounts/{provider}/{account}/tasks/{task}", get(get_task))
        .route(
            "/accounts/{provider}/{account}/tasks/{task}/contacts",
            get(get_contacts),
        )
        .route(
            "/accounts/{provider}/{account}/tasks/{task}/state",
            put(set_task_state),
        )
        .route(
            "/accounts/{provider}/{account}/tasks/{task}/contacts/mark",
            post(mark_contacts),
        )
        .route(
            "/accounts/{provider}/{account}/faults",
            put(set_account_faults),
        )
        .route(
            "/accounts/{provider}/{account}/rate-limit",
            put(set_account_rate_limit),
        )
        .route("/faults", get(get_faults).put(set_faults))
        .route("/rate-limit", get(get_rate_limit).put(set_rate_limit))
        .route("/counters", get(counters))
        .route("/audit", get(audit))
        .route("/audit/counts", get(audit_counts))
}

fn problem(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": message.to_string()}))).into_response()
}

fn state_error(err: StateError) -> Response {
    let status = match err {
        StateError::AccountExists(..) | StateError::TaskExists(_) | StateError::TokenInUse => {
            StatusCode::CONFLICT
        }
        StateError::AccountNotFound(..) | StateError::TaskNotFound(_) => StatusCode::NOT_FOUND,
        StateError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    problem(status, err)
}

fn account_key(provider: &str, account: String) -> Result<AccountKey, Response> {
    provider
        .parse::<ProviderKind>()
        .map(|p| (p, account))
        .map_err(|e| problem(StatusCode::NOT_FOUND, e))
}

/// An account as the admin API shows it (credentials included: loopback test data).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountView {
    provider: ProviderKind,
    id: String,
    secret: String,
    rate_limit: Option<RateLimitConfig>,
    faults: Option<FaultConfig>,
    tasks: Vec<super::state::TaskSummary>,
}

fn account_view(account: &super::state::Account) -> AccountView {
    AccountView {
        provider: account.provider,
        id: account.id.clone(),
        secret: account.secret.clone(),
        rate_limit: account.rate_limit,
        faults: account.faults,
        tasks: account.tasks.values().map(|t| t.summary()).collect(),
    }
}

async fn list_accounts(State(sim): Sim) -> Response {
    let inner = sim.lock();
    let accounts: Vec<AccountView> = inner.accounts.values().map(account_view).collect();
    Json(accounts).into_response()
}

async fn create_account(State(sim): Sim, Json(config): Json<AccountConfig>) -> Response {
    let key = (config.provider, config.id.clone());
    let mut inner = sim.lock();
    if let Err(err) = inner.add_account(config) {
        return state_error(err);
    }
    match inner.account(&key) {
        Some(account) => (StatusCode::CREATED, Json(account_view(account))).into_response(),
        None => problem(StatusCode::INTERNAL_SERVER_ERROR, "account vanished"),
    }
}

async fn get_account(
    State(sim): Sim,
    Path((provider, account)): Path<(String, String)>,
) -> Response {
    let key = match account_key(&provider, account) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let inner = sim.lock();
    match inner.account(&key) {
        Some(account) => Json(account_view(account)).into_response(),
        None => state_error(StateError::AccountNotFound(key.0, key.1)),
    }
}

async fn create_task(
    State(sim): Sim,
    Path((provider, account)): Path<(String, String)>,
    Json(config): Json<TaskConfig>,
) -> Response {
    let key = match account_key(&provider, account) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let task_id = config.id.clone();
    let mut inner = sim.lock();
    if let Err(err) = inner.add_task(&key, config) {
        return state_error(err);
    }
    match inner.account(&key).and_then(|a| a.task(&task_id)) {
        Some(task) => (StatusCode::CREATED, Json(task.summary())).into_response(),
        None => problem(StatusCode::INTERNAL_SERVER_ERROR, "task vanished"),
    }
}

fn with_task<T>(
    sim: &SimState,
    provider: &str,
    account: String,
    task: &str,
    f: impl FnOnce(&super::state::Task) -> T,
) -> Result<T, Response> {
    let key = account_key(provider, account)?;
    let inner = sim.lock();
    let account = inner
        .account(&key)
        .ok_or_else(|| state_error(StateError::AccountNotFound(key.0, key.1.clone())))?;
    let task = account
        .task(task)
        .ok_or_else(|| state_error(StateError::TaskNotFound(task.to_owned())))?;
    Ok(f(task))
}

async fn get_task(
    State(sim): Sim,
    Path((provider, account, task)): Path<(String, String, String)>,
) -> Response {
    match with_task(
        &sim,
        &provider,
        account,
        &task,
        |t| json!({"task": t.summary(), "contacts": t.contacts.values().collect::<Vec<_>>()}),
    ) {
        Ok(body) => Json(body).into_response(),
        Err(response) => response,
    }
}

async fn get_contacts(
    State(sim): Sim,
    Path((provider, account, task)): Path<(String, String, String)>,
) -> Response {
    match with_task(&sim, &provider, account, &task, |t| {
        json!(t.contacts.values().collect::<Vec<_>>())
    }) {
        Ok(body) => Json(body).into_response(),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct StateBody {
    state: TaskState,
}

async fn set_task_state(
    State(sim): Sim,
    Path((provider, account, task)): Path<(String, String, String)>,
    Json(body): Json<StateBody>,
) -> Response {
    let key = match account_key(&provider, account) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let mut inner = sim.lock();
    let Some(t) = inner.task_mut(&key, &task) else {
        return state_error(StateError::TaskNotFound(task));
    };
    t.state = body.state;
    let summary = t.summary();
    let detail = format!("admin: {:?}", body.state).to_lowercase();
    inner.audit_item(
        &key,
        &task,
        AuditOp::TaskStatus,
        "",
        None,
        AuditOutcome::Applied,
        Some(&detail),
    );
    Json(summary).into_response()
}

/// Which contacts to mark: by phone, by remote id, or all; `state` is the new state.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarkBody {
    #[serde(default)]
    phones: Vec<String>,
    #[serde(default)]
    remote_ids: Vec<String>,
    #[serde(default)]
    all: bool,
    state: ContactState,
}

async fn mark_contacts(
    State(sim): Sim,
    Path((provider, account, task)): Path<(String, String, String)>,
    Json(body): Json<MarkBody>,
) -> Response {
    let key = match account_key(&provider, account) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let mut inner = sim.lock();
    let Some(t) = inner.task_mut(&key, &task) else {
        return state_error(StateError::TaskNotFound(task));
    };
    let mut marked = Vec::new();
    let mut missing = Vec::new();
    let seqs: Vec<Option<u64>> = if body.all {
        t.contacts.keys().map(|s| Some(*s)).collect()
    } else {
        let mut seqs: Vec<Option<u64>> = Vec::new();
        for phone in &body.phones {
            let seq = t.by_phone.get(phone).copied();
            if seq.is_none() {
                missing.push(phone.clone());
            }
            seqs.push(seq);
        }
        for id in &body.remote_ids {
            let seq = t.by_remote_id.get(id).copied();
            if seq.is_none() {
                missing.push(id.clone());
            }
            seqs.push(seq);
        }
        seqs
    };
    for seq in seqs.into_iter().flatten() {
        if let Some(contact) = t.contacts.get_mut(&seq) {
            contact.state = body.state;
            marked.push((contact.phone.clone(), contact.remote_id.clone()));
        }
    }
    let detail = format!("{:?}", body.state).to_lowercase();
    for (phone, remote_id) in &marked {
        inner.audit_item(
            &key,
            &task,
            AuditOp::Mark,
            phone,
            remote_id.as_deref(),
            AuditOutcome::Applied,
            Some(&detail),
        );
    }
    Json(json!({"marked": marked.len(), "missing": missing})).into_response()
}

async fn get_faults(State(sim): Sim) -> Response {
    Json(sim.lock().faults).into_response()
}

async fn set_faults(State(sim): Sim, Json(faults): Json<FaultConfig>) -> Response {
    if let Err(response) = check_faults(&faults) {
        return response;
    }
    sim.lock().faults = faults;
    Json(faults).into_response()
}

fn check_faults(faults: &FaultConfig) -> Result<(), Response> {
    let rates = [
        faults.error_rate,
        faults.timeout_rate,
        faults.drop_after_commit_rate,
    ];
    if rates.iter().any(|r| !(0.0..=1.0).contains(r)) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "rates must be within [0, 1]",
        ));
    }
    Ok(())
}

async fn set_account_faults(
    State(sim): Sim,
    Path((provider, account)): Path<(String, String)>,
    Json(faults): Json<Option<FaultConfig>>,
) -> Response {
    if let Some(f) = &faults
        && let Err(response) = check_faults(f)
    {
        return response;
    }
    let key = match account_key(&provider, account) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let mut inner = sim.lock();
    match inner.account_mut(&key) {
        Some(account) => {
            account.faults = faults;
            Json(account.faults).into_response()
        }
        None => state_error(StateError::AccountNotFound(key.0, key.1)),
    }
}

async fn get_rate_limit(State(sim): Sim) -> Response {
    Json(sim.lock().rate_limit).into_response()
}

async fn set_rate_limit(State(sim): Sim, Json(limit): Json<Option<RateLimitConfig>>) -> Response {
    sim.lock().rate_limit = limit;
    Json(limit).into_response()
}

async fn set_account_rate_limit(
    State(sim): Sim,
    Path((provider, account)): Path<(String, String)>,
    Json(limit): Json<Option<RateLimitConfig>>,
) -> Response {
    let key = match account_key(&provider, account) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let mut inner = sim.lock();
    match inner.account_mut(&key) {
        Some(account) => {
            account.rate_limit = limit;
            Json(account.rate_limit).into_response()
        }
        None => state_error(StateError::AccountNotFound(key.0, key.1)),
    }
}

async fn counters(State(sim): Sim) -> Response {
    Json(sim.lock().counters.clone()).into_response()
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    since: u64,
}

async fn audit(State(sim): Sim, Query(query): Query<AuditQuery>) -> Response {
    let inner = sim.lock();
    let rows: Vec<_> = inner.audit.entries_since(query.since).collect();
    Json(rows).into_response()
}

/// Exact counts by operation and outcome, also over rows the bounded log no longer keeps.
async fn audit_counts(State(sim): Sim) -> Response {
    Json(sim.lock().audit.counts()).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt;

    use super::*;
    use crate::simulator::SimulatorConfig;

    async fn status(router: &Router, path: &str, token: Option<&str>) -> StatusCode {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        router
            .clone()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("infallible")
            .status()
    }

    /// The admin API serves credentials and full phone numbers: without the run's token every
    /// route but health answers 401, and tokens differ from run to run.
    #[tokio::test]
    async fn the_admin_api_answers_only_with_the_runs_token() {
        let config = SimulatorConfig {
            accounts: SimulatorConfig::demo().accounts,
            ..SimulatorConfig::default()
        };
        let state = Arc::new(SimState::new(&config).expect("state"));
        let token = state.admin_token.clone();
        assert!(token.len() >= 32, "{token}");
        let other = SimState::new(&config).expect("state").admin_token;
        assert_ne!(token, other, "a per-run token");
        let router = crate::simulator::router(state);
        for path in ["/_sim/accounts", "/_sim/audit", "/_sim/counters"] {
            assert_eq!(
                status(&router, path, None).await,
                StatusCode::UNAUTHORIZED,
                "{path}"
            );
            assert_eq!(
                status(&router, path, Some(&other)).await,
                StatusCode::UNAUTHORIZED,
                "{path}"
            );
            assert_eq!(status(&router, path, Some(&token)).await, StatusCode::OK);
        }
        assert_eq!(status(&router, "/_sim/health", None).await, StatusCode::OK);

        let fixed = SimState::new(&SimulatorConfig {
            admin_token: Some("fixed-admin-token".into()),
            ..SimulatorConfig::default()
        })
        .expect("state");
        assert_eq!(fixed.admin_token, "fixed-admin-token");
    }
}
