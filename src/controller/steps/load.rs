//! Load: everything a sync of one CallTask reads from Kubernetes — its CallProvider, the
//! ContactLists it selects (with their CSV sources), and its ledger. Stores, not LIST calls:
//! only CSV sources, the ledger and lists whose parsed contacts are not kept (the store holds
//! lists without their contacts) are read from the API server.
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use super::report::Phase;
use crate::api::selection::{list_selector, missing_named_lists, task_selects_list};
use crate::api::{CallProvider, CallTask, ContactList, reasons};
use crate::contacts::csv::{CsvData, CsvError, parse_csv, parse_csv_bytes};
use crate::contacts::source_limit::check_csv_source_size;
use crate::controller::context::Context;
use crate::controller::ledger_cache::LedgerCache;
use crate::controller::ledger_store::{LedgerRead, LedgerStore, LedgerStoreError, LedgerVersion};
use crate::controller::loaded_list::list_key;
use crate::controller::metrics::TaskLabels;
use crate::controller::offload;
use crate::controller::store_ready::store_ready;
use crate::ledger::Ledger;
use crate::ledger::identity::owner_uid;
use crate::providers::remote_task::{account_id, account_scope, needs_credentials};
use crate::providers::{CredentialSource, Credentials, SecretCredentials};

/// Why a CallTask cannot be loaded. Each variant is a condition reason a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("CallProvider {0} not found in this namespace")]
    ProviderNotFound(String),
    #[error(
        "CallProvider {0} is invalid: exactly one of longlonglong, callbot or nxlink must be set"
    )]
    ProviderInvalid(String),
    #[error("{0}")]
    InvalidSelector(String),
    #[error(
        "remote task {task_id} of CallProvider {provider}'s account is already managed by CallTask {owner}; a remote task has one owner"
    )]
    DuplicateTask {
        task_id: String,
        provider: String,
        owner: String,
    },
    #[error(
        "ContactList {} named in spec.contactLists.names not found in this namespace; nothing is removed until it exists again or is taken out of names (a sync without it would remove its contacts)",
        .0.join(", ")
    )]
    ContactListNotFound(Vec<String>),
    #[error("ContactList {list}: {detail}")]
    SourceUnreadable { list: String, detail: String },
    #[error("cannot read source of ContactList {list}: {source}")]
    SourceFetch {
        list: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot read ContactList {list}: {source}")]
    ListFetch {
        list: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "ContactList {0} was deleted after the controller's cache listed it; waiting for the cache to catch up"
    )]
    ListGone(String),
    #[error("the controller's caches stopped before they were filled")]
    CachesClosed,
    #[error(transparent)]
    Ledger(#[from] LedgerStoreError),
    #[error("the ledger of CallTask {task} cannot be decoded: {detail}")]
    LedgerDecode { task: String, detail: String },
    #[error(
        "the ledger Secret {secret} that status.ledger records is gone (deleted by hand, or \
         left out of a restore?); callsync does not start a new ledger on its own: it would know \
         nothing of the contacts callsync added"
    )]
    LedgerMissing { secret: String },
}

impl LoadError {
    /// The Ready reason (one of [`reasons::CALL_TASK`]).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ProviderNotFound(_) => reasons::PROVIDER_NOT_FOUND,
            Self::ProviderInvalid(_) => reasons::PROVIDER_INVALID,
            Self::InvalidSelector(_) => reasons::INVALID_SELECTOR,
            Self::DuplicateTask { .. } => reasons::DUPLICATE_TASK,
            Self::ContactListNotFound(_) => reasons::CONTACT_LIST_NOT_FOUND,
            Self::SourceUnreadable { .. } | Self::SourceFetch { .. } | Self::ListFetch { .. } => {
                reasons::CONTACT_LIST_UNREADABLE
            }
            Self::CachesClosed | Self::ListGone(_) => reasons::CACHES_NOT_READY,
            Self::Ledger(e) => e.reason(),
            Self::LedgerDecode { .. } => reasons::LEDGER_CORRUPT,
            Self::LedgerMissing { .. } => reasons::LEDGER_MISSING,
        }
    }

    /// The condition message: the error, and for a damaged or missing ledger what a person can
    /// do.
    pub fn message(&self) -> String {
        if self.reason() == reasons::LEDGER_MISSING {
            return format!(
                "{self}. Restore the Secret if you can; else request a sync (`callsync sync`, or \
                 annotate callsync.io/requestedAt): callsync then starts a new ledger whose first \
                 sync lists the remote task; what it finds there is kept as contacts callsync \
                 did not add (never added again, never removed by cleanup). NXLink cannot list: \
                 check the task in its console first"
            );
        }
        if self.reason() == reasons::LEDGER_CORRUPT {
            return format!(
                "{self}. To rebuild it from the provider's listing, request a sync \
                 (`callsync sync`, or annotate callsync.io/requestedAt): callsync then deletes \
                 the damaged ledger and starts a new one whose first sync lists the remote \
                 task; what it finds there is kept as contacts callsync did not add (never \
                 added again, never removed by cleanup)"
            );
        }
        self.to_string()
    }

    /// Whether waiting may fix it without a change by a person (API server hiccups).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::SourceFetch { .. }
                | Self::ListFetch { .. }
                | Self::ListGone(_)
                | Self::CachesClosed
                | Self::Ledger(LedgerStoreError::Kube { .. } | LedgerStoreError::Conflict { .. })
        )
    }

    /// The phase it leaves the task in: Progressing (retried) when waiting may fix it, else
    /// Stalled until a person acts.
    pub fn phase(&self) -> Phase {
        let (reason, message) = (self.reason(), self.message());
        if self.is_transient() {
            Phase::Progressing { reason, message }
        } else {
            Phase::Stalled { reason, message }
        }
    }
}

pub use crate::controller::loaded_list::LoadedList;

/// What a sync works from.
pub struct Loaded {
    pub provider: Arc<CallProvider>,
    pub lists: Vec<LoadedList>,
    pub ledger: Ledger,
    pub ledger_version: Option<LedgerVersion>,
    pub ledger_store: LedgerStore,
}

/// Waits until the ContactList and CallProvider stores hold their first full listing. Before
/// that a sync would see no ContactLists — an empty desired set, a plan to remove every contact —
/// and a cleanup would see no CallProvider.
pub async fn stores_ready(ctx: &Context) -> Result<(), LoadError> {
    // Not `wait_until_ready`: it wakes only one of several waiting reconciles (see store_ready).
    store_ready(&ctx.lists)
        .await
        .map_err(|_| LoadError::CachesClosed)?;
    store_ready(&ctx.providers)
        .await
        .map_err(|_| LoadError::CachesClosed)
}

/// The CallProvider a task names, from the store.
pub fn provider_of(task: &CallTask, ctx: &Context) -> Result<Arc<CallProvider>, LoadError> {
    let namespace = task.namespace().unwrap_or_default();
    let name = &task.spec.provider_ref.name;
    let provider = ctx
        .providers
        .get(&ObjectRef::new(name).within(&namespace))
        .ok_or_else(|| LoadError::ProviderNotFound(name.clone()))?;
    if provider.spec.provider_type().is_none() {
        return Err(LoadError::ProviderInvalid(name.clone()));
    }
    Ok(provider)
}

/// Refuses a CallTask when an older one, in any namespace the controller watches, claims the
/// same remote task at the same account (`ownership`): by account, not by CallProvider name,
/// since two CallProviders can reach one account. Older = earlier creationTimestamp, then
/// namespace/name: the first owner keeps it.
async fn check_unique(
    task: &CallTask,
    provider: &CallProvider,
    ctx: &Context,
) -> Result<(), LoadError> {
    let order = |t: &CallTask| {
        (
            t.metadata.creation_timestamp.clone().map(|c| c.0),
            t.namespace(),
            t.name_any(),
        )
    };
    let Some(scope) = account_scope(&provider.spec) else {
        return Ok(());
    };
    if !ctx.watched.ready().await {
        return Err(LoadError::CachesClosed);
    }
    // Cheap first: same task id, a provider of the same type, endpoint (and spec account).
    let mut older: Vec<(Arc<CallTask>, Arc<CallProvider>)> = ctx
        .watched
        .tasks_with_providers()
        .into_iter()
        .filter(|(other, _)| {
            other.uid() != task.uid()
                && other.spec.task_id.trim() == task.spec.task_id.trim()
                && other.metadata.deletion_timestamp.is_none()
                && order(other) < order(task)
        })
        .filter_map(|(other, theirs)| {
            let theirs = theirs?;
            (account_scope(&theirs.spec).as_ref() == Some(&scope)).then_some((other, theirs))
        })
        .collect();
    older.sort_by_key(|(other, _)| order(other));
    if older.is_empty() {
        return Ok(());
    }
    // Callbot and NXLink name the account in the credentials Secret: read the few candidates'.
    let mine = if needs_credentials(&scope) {
        match account_credentials(provider, ctx).await {
            Some(credentials) => account_id(&scope, Some(&credentials)),
            // Without our own credentials the sync stops at the provider step anyway, with a
            // condition that says why.
            None => return Ok(()),
        }
    } else {
        account_id(&scope, None)
    };
    for (other, theirs) in older {
        let same = if needs_credentials(&scope) {
            // An account whose credentials cannot be read cannot write the remote task either.
            match account_credentials(&theirs, ctx).await {
                Some(credentials) => account_id(&scope, Some(&credentials)) == mine,
                None => false,
            }
        } else {
            true
        };
        if same {
            return Err(LoadError::DuplicateTask {
                task_id: task.spec.task_id.clone(),
                provider: provider.name_any(),
                owner: format!(
                    "{}/{} (through CallProvider {})",
                    other.namespace().unwrap_or_default(),
                    other.name_any(),
                    theirs.name_any()
                ),
            });
        }
    }
    Ok(())
}

/// The credentials of a CallProvider, read from its Secret; `None` when they cannot be read.
async fn account_credentials(provider: &CallProvider, ctx: &Context) -> Option<Credentials> {
    let namespace = provider.namespace().unwrap_or_default();
    let source = SecretCredentials::for_provider(ctx.client.clone(), &namespace, &provider.spec);
    match source {
        Ok(source) => source.get().await.ok(),
        Err(_) => None,
    }
}

/// The ledger store of a task.
pub fn ledger_store(task: &CallTask, ctx: &Context) -> LedgerStore {
    let owner = task.controller_owner_ref(&()).unwrap_or_else(|| {
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "callsync.io/v1alpha1".into(),
            kind: "CallTask".into(),
            name: task.name_any(),
            uid: task.uid().unwrap_or_default(),
            ..Default::default()
        }
    });
    LedgerStore::new(
        ctx.client.clone(),
        &task.namespace().unwrap_or_default(),
        owner,
    )
}

/// Reads the ledger, or starts an empty one with a fresh identity (`ledger::identity`): a task
/// that had a ledger before may get here too, and its remote ids must not repeat. With `cache`,
/// a ledger kept there since the last reconcile is used when the store still holds that version
/// (`ledger_cache`).
pub async fn load_ledger(
    task: &CallTask,
    store: &LedgerStore,
    cache: Option<&LedgerCache>,
) -> Result<(Ledger, Option<LedgerVersion>), LoadError> {
    let kept = cache.and_then(|c| c.take(&task.uid().unwrap_or_default()));
    match store.load_since(kept.as_ref().map(|(_, v)| v)).await? {
        LedgerRead::Unchanged => {
            let (ledger, version) = kept.expect("unchanged only against a kept version");
            Ok((ledger, Some(version)))
        }
        LedgerRead::Stored(stored) => {
            let head = store.head_name();
            let undecodable = |detail: String| LoadError::LedgerDecode {
                task: task.name_any(),
                detail,
            };
            // Decoding a large ledger takes seconds of CPU: off the async workers, so the
            // lease renewal and the other reconciles keep running.
            let ledger = crate::controller::offload::cpu_heavy(|| stored.decode())
                .map_err(|e| undecodable(format!("Secret {}: {e}", stored.secret_of(&e, &head))))?;
            check_identity(task, &ledger)
                .map_err(|e| undecodable(format!("Secret {head}: {e}")))?;
            Ok((ledger, Some(stored.version)))
        }
        LedgerRead::None if ledger_recorded(task) && !rebuild_requested(task) => {
            Err(LoadError::LedgerMissing {
                secret: store.head_name(),
            })
        }
        LedgerRead::None => Ok((Ledger::fresh(task.uid().as_deref()), None)),
    }
}

/// Whether the status records a saved ledger (`status.ledger`): its head Secret missing then is
/// a loss, not a task that never had one.
pub fn ledger_recorded(task: &CallTask) -> bool {
    task.status.as_ref().is_some_and(|s| s.ledger.is_some())
}

/// Whether a person asked for the damaged or missing ledger of `task` to be rebuilt: the task
/// stopped `LedgerCorrupt` or `LedgerMissing` (so the person has seen why) and a sync was
/// requested since. The rebuild starts a new ledger, whose first sync lists the remote task
/// (`sync::listing`).
pub fn rebuild_requested(task: &CallTask) -> bool {
    let stalled_on_ledger = task
        .status
        .as_ref()
        .and_then(|s| crate::api::find_condition(&s.conditions, crate::api::ConditionType::Ready))
        .is_some_and(|c| {
            [reasons::LEDGER_CORRUPT, reasons::LEDGER_MISSING].contains(&c.reason.as_str())
        });
    stalled_on_ledger && super::listing::unhandled_sync_request(task)
}

/// Refuses the ledger of another CallTask: its identity (`ledger::identity`) starts with the
/// UID of the CallTask it was made for. Planned against, another task's ledger would claim that
/// task's contacts as this one's — and remove them. A ledger made without a UID (none in
/// Kubernetes does) is taken as it is.
fn check_identity(task: &CallTask, ledger: &Ledger) -> Result<(), String> {
    let (Some(uid), Some(owner)) = (task.uid(), owner_uid(ledger.task_uid())) else {
        return Ok(());
    };
    if owner == uid {
        return Ok(());
    }
    Err(format!(
        "it holds the ledger of the CallTask with UID {owner}, not of this one ({uid}); copied \
         or restored from another task?"
    ))
}

/// A source as stored: a ConfigMap's `data` is text, a Secret's `data` and a ConfigMap's
/// `binaryData` are bytes.
enum Stored {
    Text(String),
    Bytes(Vec<u8>),
}

impl Stored {
    /// The CSV it holds. Pure. Bytes are decoded as `callsync import` decodes a file (a BOM
    /// decides, else UTF-8, else GB18030), so a file that imports also reads as a source.
    fn parse(&self) -> Result<CsvData, CsvError> {
        match self {
            Stored::Text(text) => parse_csv(text),
            Stored::Bytes(bytes) => parse_csv_bytes(bytes),
        }
    }
}

/// The parsed CSV source of `list` and the source object's resourceVersion.
type Source = (CsvData, Option<String>);

async fn read_source(list: &ContactList, ctx: &Context) -> Result<Option<Source>, LoadError> {
    let Some(source) = &list.spec.source else {
        return Ok(None);
    };
    let namespace = list.namespace().unwrap_or_default();
    let list_name = list.name_any();
    let fetch_err = |source| LoadError::SourceFetch {
        list: list_name.clone(),
        source,
    };
    let unreadable = |detail: String| LoadError::SourceUnreadable {
        list: list_name.clone(),
        detail,
    };
    let (text, version) = if let Some(r) = &source.secret_ref {
        let secret = Api::<Secret>::namespaced(ctx.client.clone(), &namespace)
            .get_opt(&r.name)
            .await
            .map_err(fetch_err)?
            .ok_or_else(|| unreadable(format!("Secret {} not found", r.name)))?;
        crate::api::SecretUse::Contacts
            .check(&namespace, &r.name, secret.metadata.labels.as_ref())
            .map_err(|e| unreadable(e.to_string()))?;
        let version = secret.metadata.resource_version.clone();
        let bytes = secret
            .data
            .and_then(|mut d| d.remove(&r.key))
            .ok_or_else(|| unreadable(format!("Secret {} has no key {}", r.name, r.key)))?;
        check_csv_source_size(&format!("Secret {} key {}", r.name, r.key), bytes.0.len())
            .map_err(unreadable)?;
        (Stored::Bytes(bytes.0), version)
    } else if let Some(r) = &source.config_map_ref {
        let map = Api::<ConfigMap>::namespaced(ctx.client.clone(), &namespace)
            .get_opt(&r.name)
            .await
            .map_err(fetch_err)?
            .ok_or_else(|| unreadable(format!("ConfigMap {} not found", r.name)))?;
        let version = map.metadata.resource_version.clone();
        // A file that is not UTF-8 lands in binaryData (kubectl create configmap --from-file
        // puts it there).
        let what = format!("ConfigMap {} key {}", r.name, r.key);
        let text = match map.data.and_then(|mut d| d.remove(&r.key)) {
            Some(text) => {
                check_csv_source_size(&what, text.len()).map_err(unreadable)?;
                Stored::Text(text)
            }
            None => {
                let bytes = map
                    .binary_data
                    .and_then(|mut d| d.remove(&r.key))
                    .ok_or_else(|| {
                        unreadable(format!("ConfigMap {} has no key {}", r.name, r.key))
                    })?;
                check_csv_source_size(&what, bytes.0.len()).map_err(unreadable)?;
                Stored::Bytes(bytes.0)
            }
        };
        (text, version)
    } else {
        return Err(unreadable(
            "source names neither a Secret nor a ConfigMap".into(),
        ));
    };
    text.parse()
        .map(|csv| Some((csv, version)))
        .map_err(|e| unreadable(e.to_string()))
}

/// Whether the store's view of the selected ContactLists is current: one consistent read from
/// the API server, compared by name, uid and generation (status writes change neither, so the
/// controller's own list status writes do not make the cache look stale). Watch streams of
/// different kinds arrive independently, so a CallTask created right after its ContactLists
/// can be reconciled before the lists reach the store (GitOps applies lists a moment before
/// the task); acting on that view would remove contacts still desired — the one way to lose
/// data — or sync part of the set and list the whole provider task again when the rest
/// arrives. One metadata-only read, before any provider call, confirms the cache.
pub async fn lists_are_current(
    task: &CallTask,
    loaded: &[LoadedList],
    ctx: &Context,
) -> Result<bool, kube::Error> {
    let namespace = task.namespace().unwrap_or_default();
    let api: Api<ContactList> = Api::namespaced(ctx.client.clone(), &namespace);
    let fresh = api.list_metadata(&Default::default()).await?;
    let identity = |meta: &kube::api::ObjectMeta| {
        (
            meta.name.clone().unwrap_or_default(),
            meta.uid.clone(),
            meta.generation,
        )
    };
    let mut fresh_selected: Vec<(String, Option<String>, Option<i64>)> = fresh
        .items
        .into_iter()
        .filter(|meta| {
            let probe = ContactList {
                metadata: meta.metadata.clone(),
                spec: Default::default(),
                status: None,
            };
            task_selects_list(task, &probe)
        })
        .map(|meta| identity(&meta.metadata))
        .collect();
    fresh_selected.sort();
    let mut cached: Vec<(String, Option<String>, Option<i64>)> =
        loaded.iter().map(|l| identity(&l.list.metadata)).collect();
    cached.sort();
    Ok(fresh_selected == cached)
}

/// One selected list with its contacts parsed: the kept parsed form when the list and its CSV
/// source are at a kept version; else the list (whose contacts the store does not hold) read
/// whole from the API server and parsed, off the async workers.
async fn load_list(
    task: &CallTask,
    list: &ContactList,
    ctx: &Context,
) -> Result<LoadedList, LoadError> {
    let source = match read_source(list, ctx).await {
        Ok(source) => source,
        Err(error @ LoadError::SourceUnreadable { .. }) => {
            // Visible on the list itself too, not only on the CallTasks that select it.
            let message = error.to_string();
            if let Err(e) = super::desired::report_unreadable(&ctx.client, list, &message).await {
                tracing::warn!(contactlist = %list.name_any(), error = %e, "cannot write ContactList status");
            }
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    let (csv, source_version) = match source {
        Some((csv, version)) => (Some(csv), version),
        None => (None, None),
    };
    if let Some(parsed) = ctx
        .desired
        .parsed(&list_key(list, source_version.as_deref()))
    {
        return Ok(LoadedList::with_parsed(
            list.clone(),
            parsed,
            source_version,
        ));
    }
    // The store's copy holds no contacts: a CSV source has them, else the list read whole.
    let list = if csv.is_some() {
        list.clone()
    } else {
        let whole = read_whole(list, ctx).await?;
        // Newer than the store's copy, and kept already (a store lagging its own GETs).
        if let Some(parsed) = ctx.desired.parsed(&list_key(&whole, None)) {
            return Ok(LoadedList::with_parsed(whole, parsed, None));
        }
        whole
    };
    ctx.desired.note_parsed();
    ctx.metrics
        .desired_list_parses
        .get_or_create(&TaskLabels::of(task))
        .inc();
    Ok(offload::cpu_heavy(|| {
        LoadedList::parse(list, csv.as_ref(), source_version)
    }))
}

/// `list` with its contacts, as the API server holds it now (its generation may be newer than
/// the store's: the parsed form is then keyed by the newer one, which the check of the store
/// against the API server, `lists_are_current`, then confirms).
async fn read_whole(list: &ContactList, ctx: &Context) -> Result<ContactList, LoadError> {
    let name = list.name_any();
    Api::<ContactList>::namespaced(ctx.client.clone(), &list.namespace().unwrap_or_default())
        .get_opt(&name)
        .await
        .map_err(|source| LoadError::ListFetch {
            list: name.clone(),
            source,
        })?
        .ok_or(LoadError::ListGone(name))
}

/// Loads everything a sync of `task` needs.
pub async fn load(task: &CallTask, ctx: &Context) -> Result<Loaded, LoadError> {
    stores_ready(ctx).await?;
    let provider = provider_of(task, ctx)?;
    check_unique(task, &provider, ctx).await?;
    list_selector(task).map_err(|e| LoadError::InvalidSelector(e.to_string()))?;
    let all_lists = ctx.lists.state();
    let missing = missing_named_lists(task, all_lists.iter().map(|list| list.as_ref()));
    if !missing.is_empty() {
        return Err(LoadError::ContactListNotFound(missing));
    }
    // Sorted by name: the desired set's conflict rule relies on a stable order.
    let mut selected: Vec<Arc<ContactList>> = all_lists
        .into_iter()
        .filter(|list| task_selects_list(task, list))
        .collect();
    selected.sort_by_key(|list| list.name_any());
    let mut lists = Vec::with_capacity(selected.len());
    for list in selected {
        lists.push(load_list(task, &list, ctx).await?);
    }
    ctx.desired
        .keep_loaded(&task.uid().unwrap_or_default(), &lists);
    let ledger_store = ledger_store(task, ctx);
    let (ledger, ledger_version) = load_ledger(task, &ledger_store, Some(&ctx.ledgers)).await?;
    Ok(Loaded {
        provider,
        lists,
        ledger,
        ledger_version,
        ledger_store,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Problems that waiting can fix are retried (Progressing); the others wait for a person
    /// (Stalled), each with the reason and the message the error gives.
    #[test]
    fn load_errors_choose_their_phase_by_whether_waiting_helps() {
        let missing = LoadError::ContactListNotFound(vec!["a".into(), "b".into()]);
        assert_eq!(
            missing.phase(),
            Phase::Stalled {
                reason: reasons::CONTACT_LIST_NOT_FOUND,
                message: missing.to_string(),
            }
        );
        assert!(missing.to_string().contains("ContactList a, b named"));
        // A list deleted between the store and its GET: the store catches up, nothing to fix.
        let gone = LoadError::ListGone("vip".into());
        assert!(gone.is_transient());
        assert_eq!(gone.reason(), reasons::CACHES_NOT_READY);
        assert!(gone.to_string().starts_with("ContactList vip was deleted"));
        let closed = LoadError::CachesClosed;
        assert_eq!(
            closed.phase(),
            Phase::Progressing {
                reason: reasons::CACHES_NOT_READY,
                message: closed.to_string(),
            }
        );
        let corrupt = LoadError::LedgerDecode {
            task: "t".into(),
            detail: "Secret t-ledger: truncated".into(),
        };
        assert!(!corrupt.is_transient());
        assert_eq!(corrupt.reason(), reasons::LEDGER_CORRUPT);
    }

    /// A source stored as bytes in GBK (a Chinese spreadsheet's export) reads as the same
    /// contacts as the same file stored as text; bytes that decode in no encoding are refused
    /// with the line, never their content.
    #[test]
    fn stored_sources_read_alike_as_text_and_as_gbk_bytes() {
        let text = "phone,name\n13900000001,张伟\n13900000002,李娜\n";
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(text);
        assert!(!unmappable);
        let from_text = Stored::Text(text.into()).parse().expect("text");
        let from_bytes = Stored::Bytes(gbk.into_owned()).parse().expect("GBK bytes");
        assert_eq!(from_text, from_bytes);
        assert_eq!(from_text.rows.len(), 2);
        assert_eq!(from_text.rows[0].contact.name.as_deref(), Some("张伟"));

        let broken = Stored::Bytes(vec![b'p', b'h', 0x81, 0xFF, b'\n'])
            .parse()
            .expect_err("undecodable");
        assert!(
            broken
                .to_string()
                .starts_with("CSV line 1: the bytes are not valid"),
            "{broken}"
        );
    }
}
