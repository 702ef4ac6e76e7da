//! In-memory provider state: accounts, tasks and their contacts, the audit log and the counters.
//!
//! One `std::sync::Mutex` guards it all; it is never held across an `.await`, and every request
//! holds it for a few microseconds, which keeps the model simple and is far from the bottleneck.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::audit::{AuditEntry, AuditLog, AuditOp, AuditOutcome};
use super::config::{
    AccountConfig, FaultConfig, ProviderKind, RateLimitConfig, SimulatorConfig, TaskConfig,
    TaskGeneration, TaskState,
};
use super::ratelimit::TokenBucket;
use super::variants::Variant;

/// Identifies an account: provider + its id (user_id / uuid / accessKey).
pub type AccountKey = (ProviderKind, String);

/// The shared state of one simulator.
pub struct SimState {
    pub timing: Timing,
    /// What the admin API requires as `Authorization: Bearer …` (see `admin::require_token`).
    pub admin_token: String,
    inner: Mutex<Inner>,
    rng: Mutex<StdRng>,
}

/// Timing knobs copied from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub async_delay: Duration,
    pub callbot_import: Duration,
    pub callbot_ts_window_secs: i64,
    pub nxlink_ts_window_ms: i64,
}

impl SimState {
    pub fn new(config: &SimulatorConfig) -> Result<Self, StateError> {
        let mut inner = Inner {
            accounts: BTreeMap::new(),
            lll_tokens: HashMap::new(),
            used_remote_ids: HashSet::new(),
            audit: AuditLog::default(),
            counters: BTreeMap::new(),
            faults: config.faults,
            rate_limit: config.rate_limit,
            async_jobs: HashMap::new(),
            seen_request_ids: HashMap::new(),
            prune_request_ids_at: 1024,
            next_seq: 1,
        };
        for account in &config.accounts {
            inner.add_account(account.clone())?;
        }
        let admin_token = config.admin_token.clone().unwrap_or_else(|| {
            use rand::Rng;
            // 128 random bits from the OS-seeded generator, not from `seed` (that one is
            // reproducible on purpose).
            format!("{:032x}", rand::rng().random::<u128>())
        });
        Ok(Self {
            admin_token,
            timing: Timing {
                async_delay: Duration::from_millis(config.async_delay_ms),
                callbot_import: Duration::from_millis(config.callbot_import_ms),
                callbot_ts_window_secs: config.callbot_ts_window_secs,
                nxlink_ts_window_ms: config.nxlink_ts_window_ms,
            },
            inner: Mutex::new(inner),
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
        })
    }

    /// Locks the state. A panic while it was held cannot leave it half-changed in a way that
    /// matters more than the panic itself, so a poisoned lock is taken over.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn rng(&self) -> MutexGuard<'_, StdRng> {
        self.rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Admin-API errors about the state.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StateError {
    #[error("account {0}/{1} already exists")]
    AccountExists(ProviderKind, String),
    #[error("longlonglong token is already used by another account")]
    TokenInUse,
    #[error("account {0}/{1} not found")]
    AccountNotFound(ProviderKind, String),
    #[error("task {0} already exists")]
    TaskExists(String),
    #[error("task {0} not found")]
    TaskNotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Where a contact is in its life.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ContactState {
    /// Not dialled yet: the only state the providers let a caller delete.
    Pending,
    /// Being dialled.
    Calling,
    /// Dialled, all attempts done.
    Finished,
}

/// One contact (longlonglong number, Callbot order, NXLink contact).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Insertion order inside the task; listing pages follow it.
    pub seq: u64,
    pub phone: String,
    /// Callbot `orderID`, NXLink `contactId`; none for longlonglong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    pub name: String,
    /// longlonglong `extra`, Callbot / NXLink `other`.
    pub extra: String,
    pub state: ContactState,
    /// Callbot: `stopOrder` was called on it (no more redials).
    pub stopped: bool,
    /// Callbot batch number the order belongs to.
    pub batch: u64,
    pub created_at_ms: i64,
}

/// A contact to add.
#[derive(Debug, Clone, Default)]
pub struct NewContact {
    pub phone: String,
    pub remote_id: Option<String>,
    pub name: String,
    pub extra: String,
}

/// Why an add was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddReject {
    DuplicatePhone,
    DuplicateRemoteId,
}

impl AddReject {
    pub fn message(&self) -> &'static str {
        match self {
            Self::DuplicatePhone => "duplicate phone: already in the task",
            Self::DuplicateRemoteId => "id already used (ids are globally unique)",
        }
    }
}

/// A provider task.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub user_task_id: Option<String>,
    /// longlonglong: the sub-account that owns the task (`None`: the main account).
    pub sub_user_id: Option<String>,
    /// The provider's own id (Callbot `taskID`); for the others equal to `id`.
    pub provider_task_id: String,
    pub name: String,
    pub generation: TaskGeneration,
    pub state: TaskState,
    pub variables: Vec<String>,
    pub contacts: BTreeMap<u64, Contact>,
    pub by_phone: HashMap<String, u64>,
    pub by_remote_id: HashMap<String, u64>,
    /// Contacts ever imported (NXLink `statInfo.totalOrderCount`: "counted at import").
    pub imported_total: u64,
    /// Callbot: the latest batch number.
    pub batch: u64,
    /// Callbot: an import counts as running until then.
    pub import_until: Option<Instant>,
    pub created_at_ms: i64,
}

impl Task {
    fn new(config: TaskConfig, provider: ProviderKind, seq: u64) -> Self {
        let provider_task_id = match provider {
            ProviderKind::Callbot => format!("{}", 100_000 + seq),
            _ => config.id.clone(),
        };
        Self {
            name: if config.name.is_empty() {
                config.id.clone()
            } else {
                config.name
            },
            id: config.id,
            user_task_id: config.user_task_id,
            sub_user_id: config.sub_user_id,
            provider_task_id,
            generation: config.generation,
            state: config.state,
            variables: config.variables,
            contacts: BTreeMap::new(),
            by_phone: HashMap::new(),
            by_remote_id: HashMap::new(),
            imported_total: 0,
            batch: 1,
            import_until: None,
            created_at_ms: now_ms(),
        }
    }

    pub fn contact_by_phone(&self, phone: &str) -> Option<&Contact> {
        self.by_phone.get(phone).and_then(|s| self.contacts.get(s))
    }

    pub fn contact_by_remote_id(&self, id: &str) -> Option<&Contact> {
        self.by_remote_id.get(id).and_then(|s| self.contacts.get(s))
    }

    /// Removes a contact by its sequence number; returns it.
    pub fn remove(&mut self, seq: u64) -> Option<Contact> {
        let contact = self.contacts.remove(&seq)?;
        self.by_phone.remove(&contact.phone);
        if let Some(id) = &contact.remote_id {
            self.by_remote_id.remove(id);
        }
        Some(contact)
    }

    pub fn summary(&self) -> TaskSummary {
        let mut counts = ContactCounts::default();
        for contact in self.contacts.values() {
            match contact.state {
                ContactState::Pending => counts.pending += 1,
                ContactState::Calling => counts.calling += 1,
                ContactState::Finished => counts.finished += 1,
            }
        }
        TaskSummary {
            id: self.id.clone(),
            user_task_id: self.user_task_id.clone(),
            provider_task_id: self.provider_task_id.clone(),
            name: self.name.clone(),
            generation: self.generation,
            state: self.state,
            variables: self.variables.clone(),
            contacts: counts,
            imported_total: self.imported_total,
            batch: self.batch,
        }
    }
}

/// A task as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSummary {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_task_id: Option<String>,
    pub provider_task_id: String,
    pub name: String,
    pub generation: TaskGeneration,
    pub state: TaskState,
    pub variables: Vec<String>,
    pub contacts: ContactCounts,
    pub imported_total: u64,
    pub batch: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ContactCounts {
    pub pending: u64,
    pub calling: u64,
    pub finished: u64,
}

/// One account.
#[derive(Debug)]
pub struct Account {
    pub provider: ProviderKind,
    pub id: String,
    pub secret: String,
    pub rate_limit: Option<RateLimitConfig>,
    pub faults: Option<FaultConfig>,
    /// The bucket and the limit it was built for (rebuilt when the effective limit changes).
    pub bucket: Option<(RateLimitConfig, TokenBucket)>,
    pub tasks: BTreeMap<String, Task>,
    /// Undocumented behaviours this account answers another way (`super::variants`).
    pub variants: BTreeSet<Variant>,
}

impl Account {
    /// Whether this account answers `variant`'s way.
    pub fn has(&self, variant: Variant) -> bool {
        self.variants.contains(&variant)
    }

    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.get(id)
    }

    pub fn task_mut(&mut self, id: &str) -> Option<&mut Task> {
        self.tasks.get_mut(id)
    }

    /// NXLink: `userTaskId` wins over `taskId` when both are given.
    pub fn nxlink_task_id(
        &self,
        task_id: Option<&str>,
        user_task_id: Option<&str>,
    ) -> Option<String> {
        if let Some(user) = user_task_id {
            return self
                .tasks
                .values()
                .find(|t| t.user_task_id.as_deref() == Some(user))
                .map(|t| t.id.clone());
        }
        task_id
            .filter(|id| self.tasks.contains_key(*id))
            .map(str::to_owned)
    }
}

/// One longlonglong `async_number` batch.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct AsyncJob {
    pub unique_id: String,
    #[serde(skip)]
    pub user_id: String,
    /// The sub-account the batch was for; only it can read the result.
    #[serde(skip)]
    pub sub_user_id: Option<String>,
    pub task_id: String,
    /// `processing` until applied, then `finished`.
    pub status: &'static str,
    pub total: usize,
    pub success_count: usize,
    pub fail_count: usize,
    /// Phones imported.
    pub numbers: Vec<String>,
    /// Rows refused, with the reason.
    pub fail: Vec<RowFailure>,
    /// The phones of the batch as sent, and the audit log's last sequence number when it was
    /// accepted: a test tells a batch that lands late from one sent late.
    #[serde(skip)]
    pub rows: Vec<String>,
    #[serde(skip)]
    pub accepted_after_seq: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RowFailure {
    pub phone: String,
    pub reason: String,
}

/// Per-endpoint counters.
#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointCounter {
    pub calls: u64,
    pub rate_limited: u64,
    pub injected_errors: u64,
    pub injected_timeouts: u64,
    pub dropped_after_commit: u64,
}

/// Everything behind the lock.
pub struct Inner {
    pub accounts: BTreeMap<AccountKey, Account>,
    /// longlonglong Bearer token → user_id.
    pub lll_tokens: HashMap<String, String>,
    /// Callbot orderIDs and NXLink contactIds ever used (they must be globally unique; a deleted
    /// id stays used).
    pub used_remote_ids: HashSet<(ProviderKind, String)>,
    pub audit: AuditLog,
    pub counters: BTreeMap<String, EndpointCounter>,
    /// Faults of accounts without their own.
    pub faults: FaultConfig,
    /// Rate limit of accounts without their own.
    pub rate_limit: Option<RateLimitConfig>,
    pub async_jobs: HashMap<String, AsyncJob>,
    /// Callbot (uuid, requestID) seen recently → until when (seconds) it stays remembered.
    seen_request_ids: HashMap<(String, String), i64>,
    prune_request_ids_at: usize,
    next_seq: u64,
}

impl Inner {
    fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    pub fn add_account(&mut self, config: AccountConfig) -> Result<(), StateError> {
        let key = (config.provider, config.id.clone());
        if config.id.is_empty() || config.secret.is_empty() {
            return Err(StateError::Invalid(
                "account id and secret must not be empty".into(),
            ));
        }
        if let Some(variant) = config
            .variants
            .iter()
            .find(|v| !v.applies_to(config.provider))
        {
            return Err(StateError::Invalid(format!(
                "variant {} does not concern a {} account",
                variant.name(),
                config.provider
            )));
        }
        if self.accounts.contains_key(&key) {
            return Err(StateError::AccountExists(config.provider, config.id));
        }
        if config.provider == ProviderKind::Longlonglong {
            if self.lll_tokens.contains_key(&config.secret) {
                return Err(StateError::TokenInUse);
            }
            self.lll_tokens
                .insert(config.secret.clone(), config.id.clone());
        }
        let tasks = config.tasks.clone();
        self.accounts.insert(
            key.clone(),
            Account {
                provider: config.provider,
                id: config.id,
                secret: config.secret,
                rate_limit: config.rate_limit,
                faults: config.faults,
                bucket: None,
                tasks: BTreeMap::new(),
                variants: config.variants,
            },
        );
        for task in tasks {
            self.add_task(&key, task)?;
        }
        Ok(())
    }

    pub fn add_task(&mut self, key: &AccountKey, config: TaskConfig) -> Result<(), StateError> {
        if config.id.is_empty() {
            return Err(StateError::Invalid("task id must not be empty".into()));
        }
        let seq = self.next_seq();
        let account = self
            .accounts
            .get_mut(key)
            .ok_or_else(|| StateError::AccountNotFound(key.0, key.1.clone()))?;
        if account.tasks.contains_key(&config.id) {
            return Err(StateError::TaskExists(config.id));
        }
        if let Some(user) = &config.user_task_id
            && account
                .tasks
                .values()
                .any(|t| t.user_task_id.as_ref() == Some(user))
        {
            return Err(StateError::TaskExists(user.clone()));
        }
        let task = Task::new(config, key.0, seq);
        account.tasks.insert(task.id.clone(), task);
        Ok(())
    }

    pub fn account(&self, key: &AccountKey) -> Option<&Account> {
        self.accounts.get(key)
    }

    pub fn account_mut(&mut self, key: &AccountKey) -> Option<&mut Account> {
        self.accounts.get_mut(key)
    }

    pub fn task_mut(&mut self, key: &AccountKey, task: &str) -> Option<&mut Task> {
        self.accounts.get_mut(key).and_then(|a| a.task_mut(task))
    }

    /// Checks whether a contact could be added (no state change).
    pub fn check_add(
        &self,
        key: &AccountKey,
        task: &str,
        contact: &NewContact,
    ) -> Result<(), AddReject> {
        if let Some(id) = &contact.remote_id
            && self.used_remote_ids.contains(&(key.0, id.clone()))
        {
            return Err(AddReject::DuplicateRemoteId);
        }
        let task = self.accounts.get(key).and_then(|a| a.task(task));
        if task.is_some_and(|t| t.by_phone.contains_key(&contact.phone)) {
            return Err(AddReject::DuplicatePhone);
        }
        Ok(())
    }

    /// Adds a contact (pending) and audits it. The caller has checked the task exists.
    pub fn add_contact(
        &mut self,
        key: &AccountKey,
        task_id: &str,
        contact: NewContact,
    ) -> Result<(), AddReject> {
        if let Err(reject) = self.check_add(key, task_id, &contact) {
            self.audit_item(
                key,
                task_id,
                AuditOp::Add,
                &contact.phone,
                contact.remote_id.as_deref(),
                AuditOutcome::Rejected,
                Some(reject.message()),
            );
            return Err(reject);
        }
        let seq = self.next_seq();
        let Some(task) = self.task_mut(key, task_id) else {
            return Ok(());
        };
        let batch = task.batch;
        task.by_phone.insert(contact.phone.clone(), seq);
        if let Some(id) = &contact.remote_id {
            task.by_remote_id.insert(id.clone(), seq);
        }
        task.imported_total += 1;
        task.contacts.insert(
            seq,
            Contact {
                seq,
                phone: contact.phone.clone(),
                remote_id: contact.remote_id.clone(),
                name: contact.name,
                extra: contact.extra,
                state: ContactState::Pending,
                stopped: false,
                batch,
                created_at_ms: now_ms(),
            },
        );
        if let Some(id) = &contact.remote_id {
            self.used_remote_ids.insert((key.0, id.clone()));
        }
        self.audit_item(
            key,
            task_id,
            AuditOp::Add,
            &contact.phone,
            contact.remote_id.as_deref(),
            AuditOutcome::Applied,
            None,
        );
        tracing::debug!(
            provider = %key.0,
            task = task_id,
            phone = %crate::contacts::mask_phone(&contact.phone),
            "contact added"
        );
        Ok(())
    }

    /// Removes a contact and audits it under `op`.
    pub fn remove_contact(
        &mut self,
        key: &AccountKey,
        task_id: &str,
        seq: u64,
        op: AuditOp,
    ) -> Option<Contact> {
        let removed = self.task_mut(key, task_id)?.remove(seq)?;
        self.audit_item(
            key,
            task_id,
            op,
            &removed.phone,
            removed.remote_id.as_deref(),
            AuditOutcome::Applied,
            None,
        );
        tracing::debug!(
            provider = %key.0,
            task = task_id,
            phone = %crate::contacts::mask_phone(&removed.phone),
            "contact removed"
        );
        Some(removed)
    }

    #[allow(clippy::too_many_arguments)] // one audit row has this many columns
    pub fn audit_item(
        &mut self,
        key: &AccountKey,
        task: &str,
        operation: AuditOp,
        phone: &str,
        remote_id: Option<&str>,
        outcome: AuditOutcome,
        detail: Option<&str>,
    ) {
        self.audit.push(AuditEntry {
            seq: 0,
            at_ms: now_ms(),
            provider: key.0,
            account: key.1.clone(),
            task: task.to_owned(),
            operation,
            phone: (!phone.is_empty()).then(|| phone.to_owned()),
            remote_id: remote_id.map(str::to_owned),
            outcome,
            detail: detail.map(str::to_owned),
        });
    }

    /// The faults in force for an account (its own, else the simulator-wide ones).
    pub fn faults_for(&self, key: Option<&AccountKey>) -> FaultConfig {
        key.and_then(|k| self.accounts.get(k))
            .and_then(|a| a.faults)
            .unwrap_or(self.faults)
    }

    /// Takes one token from the account's bucket; false = over the limit. Unknown accounts are
    /// not limited (authentication refuses them anyway).
    pub fn take_token(&mut self, key: &AccountKey, now: Instant) -> bool {
        let global = self.rate_limit;
        let Some(account) = self.accounts.get_mut(key) else {
            return true;
        };
        let Some(limit) = account.rate_limit.or(global) else {
            account.bucket = None;
            return true;
        };
        match &mut account.bucket {
            Some((built_for, bucket)) if *built_for == limit => bucket.try_take(now),
            slot => {
                let mut bucket = TokenBucket::new(limit, now);
                let ok = bucket.try_take(now);
                *slot = Some((limit, bucket));
                ok
            }
        }
    }

    /// Remembers a Callbot `requestID` for as long as its `createTs` would be accepted; false
    /// when the account used it already in that time (a replay).
    pub fn remember_request_id(
        &mut self,
        uuid: &str,
        request_id: &str,
        now_secs: i64,
        window_secs: i64,
    ) -> bool {
        if self.seen_request_ids.len() >= self.prune_request_ids_at {
            self.seen_request_ids.retain(|_, until| *until >= now_secs);
            self.prune_request_ids_at = (self.seen_request_ids.len() * 2).max(1024);
        }
        let key = (uuid.to_owned(), request_id.to_owned());
        match self.seen_request_ids.get(&key) {
            Some(until) if *until >= now_secs => false,
            _ => {
                self.seen_request_ids
                    .insert(key, now_secs.saturating_add(window_secs.saturating_mul(2)));
                true
            }
        }
    }

    pub fn count(&mut self, endpoint: &str) -> &mut EndpointCounter {
        self.counters.entry(endpoint.to_owned()).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> SimState {
        let mut config = SimulatorConfig::demo();
        config.rate_limit = Some(RateLimitConfig {
            requests_per_second: 1.0,
            burst: 2,
        });
        match SimState::new(&config) {
            Ok(state) => state,
            Err(err) => panic!("demo config must load: {err}"),
        }
    }

    #[test]
    fn duplicate_phone_and_reused_ids_are_refused() {
        let state = state();
        let mut inner = state.lock();
        let key = (ProviderKind::Nxlink, "AK-demo-nxlink".to_owned());
        let contact = NewContact {
            phone: "8613000000001".into(),
            remote_id: Some("c-1".into()),
            ..NewContact::default()
        };
        assert_eq!(
            inner.add_contact(&key, "demo-nxlink-task", contact.clone()),
            Ok(())
        );
        let again = NewContact {
            remote_id: Some("c-2".into()),
            ..contact.clone()
        };
        assert_eq!(
            inner.add_contact(&key, "demo-nxlink-task", again),
            Err(AddReject::DuplicatePhone)
        );
        let seq = inner
            .task_mut(&key, "demo-nxlink-task")
            .and_then(|t| t.by_phone.get("8613000000001").copied());
        assert!(seq.is_some());
        inner.remove_contact(&key, "demo-nxlink-task", seq.unwrap_or(0), AuditOp::Remove);
        // the id stays used after the contact is gone
        assert_eq!(
            inner.add_contact(&key, "demo-nxlink-task", contact),
            Err(AddReject::DuplicateRemoteId)
        );
        let applied = inner
            .audit
            .entries_since(0)
            .filter(|e| e.outcome == AuditOutcome::Applied)
            .count();
        assert_eq!(applied, 2);
    }

    #[test]
    fn rate_limit_is_per_account() {
        let state = state();
        let mut inner = state.lock();
        let now = Instant::now();
        let cb = (ProviderKind::Callbot, "demo-callbot-uuid".to_owned());
        let nx = (ProviderKind::Nxlink, "AK-demo-nxlink".to_owned());
        assert!(inner.take_token(&cb, now));
        assert!(inner.take_token(&cb, now));
        assert!(!inner.take_token(&cb, now));
        assert!(inner.take_token(&nx, now));
        assert!(inner.take_token(&cb, now + Duration::from_millis(1_100)));
    }
}
