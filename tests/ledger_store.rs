//! The ledger's Secret store against a real kube-apiserver: round trips, sharding, journals,
//! optimistic concurrency, damage detection and cleanup.
mod support;

use callsync::api::CallTask;
use callsync::controller::ledger_store::{
    INLINE_SNAPSHOT_MAX, LEDGER_OWNER_LABEL, LEDGER_SECRET_TYPE, LedgerStore, LedgerStoreError,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client, Resource};
use serde_json::json;

async fn owner_task(client: &Client, ns: &str, name: &str) -> OwnerReference {
    let tasks: Api<CallTask> = Api::namespaced(client.clone(), ns);
    let task: CallTask = serde_json::from_value(json!({
        "apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
        "metadata": {"name": name},
        "spec": {"providerRef": {"name": "p"}, "taskId": "1", "contactLists": {"names": ["a"]}}
    }))
    .expect("task");
    let created = tasks
        .create(&PostParams::default(), &task)
        .await
        .expect("create task");
    created.controller_owner_ref(&()).expect("owner reference")
}

/// Bytes that do not compress or repeat, like a gzip stream.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

async fn ledger_secrets(client: &Client, ns: &str, owner: &OwnerReference) -> Vec<Secret> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    secrets
        .list(&ListParams::default().labels(&format!("{LEDGER_OWNER_LABEL}={}", owner.uid)))
        .await
        .expect("list")
        .items
}

#[tokio::test]
async fn small_ledger_round_trips_in_one_secret() {
    let (client, ns) = support::control_plane()
        .test_namespace("ledger-small")
        .await;
    let owner = owner_task(&client, &ns, "campaign").await;
    let store = LedgerStore::new(client.clone(), &ns, owner.clone());

    assert!(store.load().await.expect("load").is_none(), "no ledger yet");
    let v1 = store.save(b"first", None).await.expect("first save");
    let loaded = store.load().await.expect("load").expect("ledger");
    assert_eq!(loaded.bytes, b"first");
    assert_eq!(loaded.version, v1);

    let v2 = store.save(b"second", Some(&v1)).await.expect("second save");
    assert_eq!(v2.generation, 2);
    assert_eq!(
        store.load().await.expect("load").expect("ledger").bytes,
        b"second"
    );

    let secrets = ledger_secrets(&client, &ns, &owner).await;
    assert_eq!(secrets.len(), 1);
    let head = &secrets[0];
    assert_eq!(head.metadata.name.as_deref(), Some("campaign-ledger"));
    assert_eq!(head.type_.as_deref(), Some(LEDGER_SECRET_TYPE));
    let refs = head.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(refs.len(), 1);
    assert_eq!(
        (refs[0].uid.as_str(), refs[0].controller),
        (owner.uid.as_str(), Some(true))
    );
}

#[tokio::test]
async fn large_ledger_is_sharded_and_old_shards_are_removed() {
    let (client, ns) = support::control_plane()
        .test_namespace("ledger-shards")
        .await;
    let owner = owner_task(&client, &ns, "big").await;
    let store = LedgerStore::new(client.clone(), &ns, owner.clone()).with_max_shard_bytes(1000);

    let big = noise(5500, 1);
    let v1 = store.save(&big, None).await.expect("save 6 shards");
    assert_eq!(ledger_secrets(&client, &ns, &owner).await.len(), 6);
    assert_eq!(
        store.load().await.expect("load").expect("ledger").bytes,
        big
    );

    let smaller = noise(1500, 2);
    store
        .save(&smaller, Some(&v1))
        .await
        .expect("save 2 shards");
    let names: Vec<String> = ledger_secrets(&client, &ns, &owner)
        .await
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .collect();
    assert_eq!(
        names.len(),
        2,
        "generation 1 shards must be gone: {names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("big-ledger-g2-") && n.ends_with("-1")),
        "{names:?}"
    );
    assert_eq!(
        store.load().await.expect("load").expect("ledger").bytes,
        smaller
    );

    // A real-sized ledger: 2 MiB spans three default-sized shards.
    let real = noise(2 * 1024 * 1024, 3);
    let store = LedgerStore::new(client.clone(), &ns, owner_task(&client, &ns, "real").await);
    store.save(&real, None).await.expect("save 2 MiB");
    assert_eq!(
        store.load().await.expect("load").expect("ledger").bytes,
        real
    );
}

#[tokio::test]
async fn a_stale_writer_gets_a_conflict_and_changes_nothing() {
    let (client, ns) = support::control_plane()
        .test_namespace("ledger-conflict")
        .await;
    let owner = owner_task(&client, &ns, "shared").await;
    let store = LedgerStore::new(client.clone(), &ns, owner.clone()).with_max_shard_bytes(100);

    let v1 = store.save(&noise(250, 4), None).await.expect("save");
    let winner = noise(300, 5);
    store
        .save(&winner, Some(&v1))
        .await
        .expect("first writer wins");
    let loser = store.save(&noise(400, 6), Some(&v1)).await;
    assert!(
        matches!(loser, Err(LedgerStoreError::Conflict { .. })),
        "{loser:?}"
    );
    let created_twice = store.save(b"x", None).await;
    assert!(
        matches!(created_twice, Err(LedgerStoreError::Conflict { .. })),
        "{created_twice:?}"
    );
    assert_eq!(
        store.load().await.expect("load").expect("ledger").bytes,
        winner
    );
}

#[tokio::test]
async fn damage_is_detected_and_delete_removes_everything() {
    let (client, ns) = support::control_plane()
        .test_namespace("ledger-damage")
        .await;
    let owner = owner_task(&client, &ns, "damaged").await;
    let store = LedgerStore::new(client.clone(), &ns, owner.clone()).with_max_shard_bytes(100);
    store.save(&noise(350, 7), None).await.expect("save");

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let shard_names: Vec<String> = ledger_secrets(&client, &ns, &owner)
        .await
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .filter(|n| n != "damaged-ledger")
        .collect();
    let shard_name = |i: usize| {
        shard_names
            .iter()
            .find(|n| n.ends_with(&format!("-{i}")))
            .cloned()
            .expect("shard exists")
    };
    let mut shard = secrets.get(&shard_name(2)).await.expect("shard");
    shard
        .data
        .get_or_insert_default()
        .insert("ledger".into(), ByteString(vec![0; 100]));
    secrets
        .replace(&shard_name(2), &PostParams::default(), &shard)
        .await
        .expect("tamper");
    let err = store.load().await.expect_err("damage must be detected");
    assert!(matches!(err, LedgerStoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("does not match the digest"),
        "{err}"
    );

    // Removed by hand, finalizer and all (the finalizer keeps a merely deleted shard readable).
    secrets
        .patch(
            &shard_name(1),
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("drop the shard's finalizer");
    secrets
        .delete(&shard_name(1), &Default::default())
        .await
        .expect("remove a shard");
    let err = store
        .load()
        .await
        .expect_err("a missing shard must be detected");
    assert!(
        err.to_string()
            .contains(&format!("{} is missing", shard_name(1))),
        "{err}"
    );

    store.delete().await.expect("delete");
    assert!(ledger_secrets(&client, &ns, &owner).await.is_empty());
    assert!(store.load().await.expect("load").is_none());
}

/// A small snapshot is detached when the caller asks (a ledger of many entries that compresses
/// small): it loads as written, and the head then takes journals.
#[tokio::test]
async fn a_small_snapshot_is_detached_when_asked_and_takes_journals() {
    let (client, ns) = support::control_plane()
        .test_namespace("ledger-detach")
        .await;
    let owner = owner_task(&client, &ns, "compressible").await;
    let store = LedgerStore::new(client.clone(), &ns, owner.clone());
    let snapshot = noise(1000, 17);
    let inline = store.save(&snapshot, None).await.expect("inline");
    assert!(!inline.detached, "small and not asked: inline");
    let v1 = store
        .save_snapshot(&snapshot, Some(&inline), true)
        .await
        .expect("detached");
    assert!(v1.detached);
    let v2 = store.save_journal(b"journal", &v1).await.expect("journal");
    let loaded = store.load().await.expect("load").expect("ledger");
    assert_eq!(loaded.bytes, snapshot);
    assert_eq!(loaded.journal.as_deref(), Some(&b"journal"[..]));
    assert!(loaded.version.detached && loaded.version.generation == v2.generation);
}

/// A snapshot past `INLINE_SNAPSHOT_MAX` is detached: its shards are Secrets of their own and
/// the head holds only a journal, which saves replace (conditionally, as snapshots) without
/// touching the shards; a snapshot compacts, and damage to the journal is named.
#[tokio::test]
async fn a_detached_snapshot_takes_journals_in_the_head() {
    let (client, ns) = support::control_plane()
        .test_namespace("ledger-journal")
        .await;
    let owner = owner_task(&client, &ns, "journaled").await;
    let store = LedgerStore::new(client.clone(), &ns, owner.clone());
    let snapshot = noise(INLINE_SNAPSHOT_MAX + 1000, 11);
    let v1 = store.save(&snapshot, None).await.expect("snapshot");
    assert!(v1.detached);
    let shard_versions = |secrets: Vec<Secret>| -> Vec<(String, String)> {
        secrets
            .into_iter()
            .filter(|s| s.metadata.name.as_deref() != Some("journaled-ledger"))
            .map(|s| {
                (
                    s.metadata.name.unwrap_or_default(),
                    s.metadata.resource_version.unwrap_or_default(),
                )
            })
            .collect()
    };
    let shards = shard_versions(ledger_secrets(&client, &ns, &owner).await);
    assert_eq!(shards.len(), 1, "{shards:?}");
    assert!(shards[0].0.ends_with("-0"), "{shards:?}");
    let loaded = store.load().await.expect("load").expect("ledger");
    assert_eq!((loaded.bytes.len(), loaded.journal), (snapshot.len(), None));

    let v2 = store
        .save_journal(b"journal one", &v1)
        .await
        .expect("journal");
    assert_eq!(
        v2.generation, v1.generation,
        "a journal is not a new snapshot"
    );
    let loaded = store.load().await.expect("load").expect("ledger");
    assert_eq!(loaded.bytes, snapshot);
    assert_eq!(loaded.journal.as_deref(), Some(&b"journal one"[..]));
    assert_eq!(loaded.version, v2);
    assert_eq!(
        shard_versions(ledger_secrets(&client, &ns, &owner).await),
        shards,
        "a journal save leaves the shards alone"
    );

    // Every write goes through the head: a writer still at v1 loses, journal or snapshot.
    let stale = store.save_journal(b"stale", &v1).await;
    assert!(
        matches!(stale, Err(LedgerStoreError::Conflict { .. })),
        "{stale:?}"
    );
    let stale = store.save(&noise(10, 12), Some(&v1)).await;
    assert!(
        matches!(stale, Err(LedgerStoreError::Conflict { .. })),
        "{stale:?}"
    );
    store
        .save_journal(b"journal two", &v2)
        .await
        .expect("journal");
    assert_eq!(
        store
            .load()
            .await
            .expect("load")
            .expect("ledger")
            .journal
            .as_deref(),
        Some(&b"journal two"[..])
    );

    // A damaged journal is named; the snapshot is not blamed.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let set_journal = |bytes: &'static [u8]| {
        let secrets = secrets.clone();
        async move {
            let mut head = secrets.get("journaled-ledger").await.expect("head");
            head.data
                .get_or_insert_default()
                .insert("journal".into(), ByteString(bytes.to_vec()));
            secrets
                .replace("journaled-ledger", &PostParams::default(), &head)
                .await
                .expect("replace the head");
        }
    };
    set_journal(b"journal tww").await;
    let err = store.load().await.expect_err("damage must be detected");
    assert!(matches!(err, LedgerStoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("the journal in head Secret journaled-ledger does not match its digest"),
        "{err}"
    );

    // Compaction: a new snapshot replaces the shards and empties the journal; a small one goes
    // back into the head.
    set_journal(b"journal two").await;
    let current = store.load().await.expect("load").expect("ledger").version;
    let compacted = noise(INLINE_SNAPSHOT_MAX * 2, 13);
    let v4 = store
        .save(&compacted, Some(&current))
        .await
        .expect("compact");
    let loaded = store.load().await.expect("load").expect("ledger");
    assert_eq!((loaded.bytes, loaded.journal), (compacted, None));
    let names: Vec<String> = ledger_secrets(&client, &ns, &owner)
        .await
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .collect();
    assert_eq!(
        names.len(),
        2,
        "the old snapshot's shard is gone: {names:?}"
    );
    let v5 = store.save(b"small again", Some(&v4)).await.expect("inline");
    assert!(!v5.detached);
    let journal_next_to_inline = store.save_journal(b"x", &v5).await;
    assert!(journal_next_to_inline.is_err());
    assert_eq!(ledger_secrets(&client, &ns, &owner).await.len(), 1);
    assert_eq!(
        store.load().await.expect("load").expect("ledger").bytes,
        b"small again"
    );
}

/// Seals: a journal written once as a Secret of its own, listed by the head in order after the
/// earlier ones, with the live journal emptied. A stale writer's seal loses and leaves no
/// Secret; a missing or damaged sealed journal is named; a snapshot deletes them all.
#[tokio::test]
async fn sealed_journals_are_listed_in_order_and_go_with_their_snapshot() {
    let (client, ns) = support::control_plane().test_namespace("ledger-seal").await;
    let owner = owner_task(&client, &ns, "sealing").await;
    let store = LedgerStore::new(client.clone(), &ns, owner.clone());
    let names = || async {
        let mut names: Vec<String> = ledger_secrets(&client, &ns, &owner)
            .await
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .collect();
        names.sort();
        names
    };
    let snapshot = noise(1000, 21);
    let inline = store.save(&snapshot, None).await.expect("inline");
    let refused = store.save_seal(b"seal", &inline).await;
    assert!(
        matches!(refused, Err(LedgerStoreError::Corrupt { .. })),
        "no seal next to an inline snapshot: {refused:?}"
    );
    let v1 = store
        .save_snapshot(&snapshot, Some(&inline), true)
        .await
        .expect("detached");
    let v2 = store.save_journal(b"live one", &v1).await.expect("journal");
    let v3 = store.save_seal(b"sealed one", &v2).await.expect("seal");
    assert_eq!((v3.generation, v3.sealed()), (v1.generation, 1));
    let loaded = store.load().await.expect("load").expect("ledger");
    assert_eq!(loaded.sealed, vec![b"sealed one".to_vec()]);
    assert_eq!(loaded.journal, None, "a seal empties the live journal");
    assert_eq!(loaded.version, v3);
    // A layout of its own: a callsync from before seals refuses the head as unknown instead
    // of reading the ledger without its sealed journals.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let layout = |head: &Secret| {
        head.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("callsync.io/ledger-layout").cloned())
    };
    let head = secrets.get("sealing-ledger").await.expect("head");
    assert_eq!(layout(&head).as_deref(), Some("detached-sealed"));

    let v4 = store.save_journal(b"live two", &v3).await.expect("journal");
    let v5 = store.save_seal(b"sealed two", &v4).await.expect("seal");
    let v6 = store
        .save_journal(b"live three", &v5)
        .await
        .expect("journal");
    let loaded = store.load().await.expect("load").expect("ledger");
    assert_eq!(
        loaded.sealed,
        vec![b"sealed one".to_vec(), b"sealed two".to_vec()]
    );
    assert_eq!(loaded.journal.as_deref(), Some(&b"live three"[..]));
    assert_eq!((loaded.version.sealed(), &loaded.version), (2, &v6));
    let held = names().await;
    assert_eq!(held.len(), 4, "head, shard, two sealed journals: {held:?}");
    let sealed_names: Vec<String> = held
        .iter()
        .filter(|n| n.contains(&format!("-ledger-g{}-", v1.generation)) && n.contains("-s"))
        .cloned()
        .collect();
    assert_eq!(sealed_names.len(), 2, "{held:?}");

    // A writer still at v5 loses, and its sealed journal does not stay behind.
    let stale = store.save_seal(b"stale seal", &v5).await;
    assert!(
        matches!(stale, Err(LedgerStoreError::Conflict { .. })),
        "{stale:?}"
    );
    assert_eq!(names().await, held, "the losing seal's Secret is deleted");

    // A damaged or missing sealed journal is named.
    let victim = &sealed_names[0];
    let mut sealed = secrets.get(victim).await.expect("sealed journal");
    let original = sealed.clone();
    sealed
        .data
        .get_or_insert_default()
        .insert("journal".into(), ByteString(b"sealed 0ne".to_vec()));
    secrets
        .replace(victim, &PostParams::default(), &sealed)
        .await
        .expect("damage it");
    let err = store.load().await.expect_err("damage must be detected");
    assert!(matches!(err, LedgerStoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!(
            "sealed journal Secret {victim} does not match its digest"
        )),
        "{err}"
    );
    let mut finalizers_gone = secrets.get(victim).await.expect("sealed journal");
    finalizers_gone.metadata.finalizers = None;
    secrets
        .replace(victim, &PostParams::default(), &finalizers_gone)
        .await
        .expect("release it");
    secrets
        .delete(victim, &Default::default())
        .await
        .expect("delete it");
    let err = store
        .load()
        .await
        .expect_err("a missing one must be detected");
    assert!(
        err.to_string()
            .contains(&format!("sealed journal Secret {victim} is missing")),
        "{err}"
    );
    let mut restored = original;
    restored.metadata.resource_version = None;
    restored.metadata.uid = None;
    restored.metadata.creation_timestamp = None;
    secrets
        .create(&PostParams::default(), &restored)
        .await
        .expect("put it back");
    let current = store.load().await.expect("load").expect("ledger").version;
    assert_eq!(current.sealed(), 2);

    // A snapshot compacts: the sealed journals go with the old generation.
    let compacted = noise(INLINE_SNAPSHOT_MAX * 2, 23);
    store
        .save(&compacted, Some(&current))
        .await
        .expect("compact");
    let loaded = store.load().await.expect("load").expect("ledger");
    assert_eq!((loaded.sealed.len(), loaded.journal), (0, None));
    let left = names().await;
    assert_eq!(left.len(), 2, "head and the new shard: {left:?}");
    let head = secrets.get("sealing-ledger").await.expect("head");
    assert_eq!(layout(&head).as_deref(), Some("detached"));
}
