//! `contentChange: Replace` against the simulator (real HTTP, real signatures), through the
//! sync the controller and `callsync apply` share (`sync::TaskSync`: observe and plan, settle
//! then execute): the add of a replacement follows only a removal the provider confirmed.

mod support;

use std::collections::BTreeMap;
use support::sim;

use callsync::api::{Contact, ContentChangePolicy, ManagementPolicy};
use callsync::contacts::{DesiredSet, ListContacts, ListInput};
use callsync::ledger::Ledger;
use callsync::plan::{ContentAction, PlanPolicy};
use callsync::providers::{RateLimiters, TaskRef};
use callsync::simulator::{ProviderKind, TaskConfig};
use callsync::sync::{ListingSchedule, SinkError, SyncSink, TaskSync, WireFormat};
use serde_json::json;

/// Keeps nothing: this test looks at the ledger in memory.
struct MemorySink;

impl SyncSink for MemorySink {
    async fn save_ledger(&mut self, _ledger: &mut Ledger) -> Result<(), SinkError> {
        Ok(())
    }

    async fn progress(&mut self, _pending_add: u64, _pending_remove: u64) {}
}

fn desired(name: &str) -> DesiredSet {
    let contacts = [Contact {
        phone: "13600000001".into(),
        name: Some(name.into()),
        company: None,
        email: None,
        variables: BTreeMap::new(),
        extra: None,
    }];
    DesiredSet::build(&[ListInput {
        name: "list",
        default_region: Some("CN"),
        contacts: ListContacts::Inline(&contacts),
    }])
}

/// A finished NXLink contact whose content changed: its delete is refused, and the append of
/// the new content used to be sent anyway — a provider that accepts it calls the person twice.
#[tokio::test]
async fn a_refused_removal_leaves_the_old_contact_and_adds_nothing() {
    sim::bounded(async {
        let simulator = sim::start(vec![sim::account(
            ProviderKind::Nxlink,
            sim::NX_KEY,
            sim::NX_SECRET,
            vec![TaskConfig::new("task-1")],
        )])
        .await;
        let admin = sim::Admin::new(&simulator);
        let spec = sim::nxlink_spec(&simulator);
        let client = sim::build(
            &spec,
            None,
            sim::nx_creds(sim::NX_KEY, sim::NX_SECRET),
            &RateLimiters::new(),
            &sim::key("nx"),
        );
        let wire = WireFormat::of(&spec);
        let task = TaskRef::new("task-1");
        let policy = PlanPolicy {
            management: ManagementPolicy::Full,
            max_delete_percent: 100,
            content_change: ContentChangePolicy::Replace,
        };
        let mut ledger = Ledger::fresh(Some("uid-replace"));
        let sync_once = |set: DesiredSet, mut ledger: Ledger| {
            let (client, wire, task, policy) = (&client, &wire, &task, &policy);
            async move {
                let run = TaskSync {
                    provider: client,
                    task,
                    wire,
                    desired: &set,
                    policy,
                    listing: ListingSchedule::always(callsync::sync::now_unix()),
                };
                let planned = run
                    .observe_and_plan(&mut ledger)
                    .await
                    .expect("observe and plan");
                let report = run
                    .settle_then_execute(planned, &mut ledger, &mut MemorySink)
                    .await
                    .expect("execute");
                (report.plan, report.executed, ledger)
            }
        };

        let (_, report, next) = sync_once(desired("Alice"), ledger).await;
        ledger = next;
        assert_eq!(report.added, 1);
        let marked = admin
            .mark(
                "nxlink",
                sim::NX_KEY,
                "task-1",
                json!({"phones": ["8613600000001"], "state": "finished"}),
            )
            .await;
        assert_eq!(marked["marked"], 1, "{marked}");
        let appends_before = admin.calls("/call/append").await;

        let (plan, report, next) = sync_once(desired("Alice Wang"), ledger).await;
        ledger = next;
        assert_eq!(
            plan.content_changes.first().map(|c| c.action),
            Some(ContentAction::Replaced)
        );
        assert_eq!(report.removed, 0);
        assert_eq!(report.added, 0, "{report:?}");
        assert_eq!(report.replacements_not_applied, 1);
        assert_eq!(report.failed, 1);
        assert!(
            report.failures[0]
                .reason
                .contains("the replacement is not applied, the old contact stays"),
            "{:?}",
            report.failures
        );
        assert_eq!(
            admin.calls("/call/append").await,
            appends_before,
            "no append may follow a refused removal"
        );
        let held = admin.contacts("nxlink", sim::NX_KEY, "task-1").await;
        assert_eq!(held.len(), 1, "{held:?}");
        assert_eq!(held[0]["name"], "Alice");

        // Next sync: the old contact is known not removable; the change stays blocked.
        let (plan, report, _) = sync_once(desired("Alice Wang"), ledger).await;
        assert!(plan.is_empty(), "{plan:?}");
        assert_eq!(
            plan.content_changes.first().map(|c| c.action),
            Some(ContentAction::Blocked)
        );
        assert_eq!((report.added, report.failed), (0, 0));
    })
    .await;
}
