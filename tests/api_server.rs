//! The CRDs against a real kube-apiserver: they install, the examples are accepted, invalid
//! objects are refused with a message a person understands, and status written by server-side
//! apply round-trips.
mod support;

use callsync::api::{
    CallProvider, CallTask, CallTaskStatus, Condition, ConditionStatus, ConditionType,
    ContactCounts, ContactList, FIELD_MANAGER, LastSync,
};
use kube::Api;
use kube::api::{DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::pinned_kind;
use serde_json::json;

fn examples() -> Vec<(String, serde_yaml::Value)> {
    let dir = support::repo_root().join("examples");
    let mut docs = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("read examples/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 3,
        "one example per provider expected in examples/"
    );
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("read example");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_yaml::Value::deserialize(doc).expect("example is YAML");
            if !value.is_null() {
                docs.push((path.display().to_string(), value));
            }
        }
    }
    docs
}

use serde::Deserialize;

#[test]
fn examples_parse_into_the_rust_types() {
    let mut kinds = Vec::new();
    for (file, doc) in examples() {
        let kind = doc["kind"].as_str().expect("kind").to_string();
        let parsed = match kind.as_str() {
            "CallProvider" => serde_yaml::from_value::<CallProvider>(doc).map(|_| ()),
            "CallTask" => serde_yaml::from_value::<CallTask>(doc).map(|_| ()),
            "ContactList" => serde_yaml::from_value::<ContactList>(doc).map(|_| ()),
            _ => Ok(()),
        };
        parsed.unwrap_or_else(|e| panic!("{file}: {kind} does not parse: {e}"));
        kinds.push(kind);
    }
    for kind in ["Secret", "CallProvider", "CallTask", "ContactList"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in examples/");
    }
}

#[tokio::test]
async fn crds_install_and_examples_are_accepted() {
    let (client, ns) = support::control_plane().test_namespace("examples").await;
    let mut applied = 0;
    for (file, doc) in examples() {
        let mut object: DynamicObject =
            serde_yaml::from_value(doc).unwrap_or_else(|e| panic!("{file}: {e}"));
        let types = object.types.clone().expect("apiVersion and kind");
        let (group, version) = types
            .api_version
            .split_once('/')
            .unwrap_or(("", types.api_version.as_str()));
        let gvk = GroupVersionKind::gvk(group, version, &types.kind);
        let (resource, _) = pinned_kind(&client, &gvk).await.expect("kind is served");
        object.metadata.namespace = Some(ns.clone());
        let name = object.metadata.name.clone().expect("name");
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
        api.patch(
            &name,
            &PatchParams::apply("callsync-tests"),
            &Patch::Apply(&object),
        )
        .await
        .unwrap_or_else(|e| panic!("{file}: {} {name} refused: {e}", types.kind));
        applied += 1;
    }
    assert!(
        applied >= 15,
        "expected every example object applied, got {applied}"
    );

    // Defaults were filled in by the server from the schema.
    let tasks: Api<CallTask> = Api::namespaced(client.clone(), &ns);
    let task = tasks
        .get("renewal-reminders")
        .await
        .expect("example CallTask");
    assert_eq!(task.spec.resync_interval, "10m");
    assert_eq!(task.spec.policy.max_delete_percent, 20);
    let providers: Api<CallProvider> = Api::namespaced(client, &ns);
    let provider = providers
        .get("nxlink-idn")
        .await
        .expect("example CallProvider");
    let nxlink = provider.spec.nxlink.expect("nxlink block");
    assert_eq!(
        (nxlink.biz_type.as_str(), nxlink.action.as_str()),
        ("100", "nxai")
    );
    assert_eq!(provider.spec.timeout_seconds, 30);
}

/// Creates `object` and returns the server's error message, failing when it is accepted.
async fn refusal(client: &kube::Client, ns: &str, object: serde_json::Value) -> String {
    let object: DynamicObject = serde_json::from_value(object).expect("object");
    let kind = object.types.clone().expect("types").kind;
    let gvk = GroupVersionKind::gvk("callsync.io", "v1alpha1", &kind);
    let (resource, _) = pinned_kind(client, &gvk).await.expect("kind is served");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => panic!("the server accepted an invalid {kind}"),
        Err(kube::Error::Api(status)) => {
            assert_eq!(
                status.code, 422,
                "invalid objects are Unprocessable: {status:?}"
            );
            status.message
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

#[tokio::test]
async fn invalid_objects_are_refused_with_a_clear_message() {
    let (client, ns) = support::control_plane().test_namespace("invalid").await;

    let two_blocks = refusal(
        &client,
        &ns,
        json!({
            "apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
            "metadata": {"name": "two-blocks"},
            "spec": {
                "longlonglong": {"userId": "u1", "tokenSecretRef": {"name": "t", "key": "token"}},
                "nxlink": {"region": "HK", "credentialsSecretRef": {"name": "c"}}
            }
        }),
    )
    .await;
    assert!(
        two_blocks.contains("exactly one of longlonglong, callbot or nxlink must be set"),
        "{two_blocks}"
    );

    let no_block = refusal(
        &client,
        &ns,
        json!({
            "apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
            "metadata": {"name": "no-block"}, "spec": {}
        }),
    )
    .await;
    assert!(no_block.contains("exactly one of"), "{no_block}");

    let contacts: Vec<_> = (0..5001)
        .map(|i| json!({"phone": format!("1301{:07}", i)}))
        .collect();
    let oversized = refusal(
        &client,
        &ns,
        json!({
            "apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
            "metadata": {"name": "too-big"},
            "spec": {"defaultRegion": "CN", "contacts": contacts}
        }),
    )
    .await;
    assert!(
        oversized.contains("spec.contacts") && oversized.contains("at most 5000 items"),
        "{oversized}"
    );

    let no_task_id = refusal(
        &client,
        &ns,
        json!({
            "apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
            "metadata": {"name": "no-task-id"},
            "spec": {"providerRef": {"name": "p"}, "contactLists": {"names": ["a"]}}
        }),
    )
    .await;
    assert!(
        no_task_id.contains("spec.taskId: Required value"),
        "{no_task_id}"
    );

    let bad_enum = refusal(
        &client,
        &ns,
        json!({
            "apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
            "metadata": {"name": "bad-policy"},
            "spec": {"providerRef": {"name": "p"}, "taskId": "1",
                     "contactLists": {"names": ["a"]},
                     "policy": {"management": "Sometimes", "maxDeletePercent": 150}}
        }),
    )
    .await;
    assert!(bad_enum.contains("spec.policy.management"), "{bad_enum}");
    assert!(
        bad_enum.contains("spec.policy.maxDeletePercent"),
        "{bad_enum}"
    );

    let both_sources = refusal(
        &client,
        &ns,
        json!({
            "apiVersion": "callsync.io/v1alpha1", "kind": "ContactList",
            "metadata": {"name": "both"},
            "spec": {"contacts": [{"phone": "+8613012121211"}],
                     "source": {"configMapRef": {"name": "c", "key": "k"}}}
        }),
    )
    .await;
    assert!(
        both_sources.contains("set contacts or source, not both"),
        "{both_sources}"
    );
}

#[tokio::test]
async fn task_id_is_immutable() {
    let (client, ns) = support::control_plane().test_namespace("immutable").await;
    let tasks: Api<CallTask> = Api::namespaced(client, &ns);
    let task: CallTask = serde_json::from_value(json!({
        "apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
        "metadata": {"name": "t"},
        "spec": {"providerRef": {"name": "p"}, "taskId": "1", "contactLists": {"names": ["a"]}}
    }))
    .expect("task");
    tasks
        .create(&PostParams::default(), &task)
        .await
        .expect("create");
    let err = tasks
        .patch(
            "t",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"taskId": "2"}})),
        )
        .await
        .expect_err("taskId change must be refused");
    assert!(err.to_string().contains("taskId is immutable"), "{err}");
}

#[tokio::test]
async fn status_written_by_server_side_apply_round_trips() {
    let (client, ns) = support::control_plane().test_namespace("status").await;
    let tasks: Api<CallTask> = Api::namespaced(client, &ns);
    let task: CallTask = serde_json::from_value(json!({
        "apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
        "metadata": {"name": "round-trip"},
        "spec": {"providerRef": {"name": "p"}, "taskId": "42", "contactLists": {"names": ["a"]}}
    }))
    .expect("task");
    let created = tasks
        .create(&PostParams::default(), &task)
        .await
        .expect("create");
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let status = CallTaskStatus {
        observed_generation: created.metadata.generation,
        conditions: vec![Condition {
            type_: ConditionType::Ready,
            status: ConditionStatus::True,
            reason: "InSync".into(),
            message: "5 contacts in sync".into(),
            last_transition_time: now,
            observed_generation: created.metadata.generation,
        }],
        contacts: Some(ContactCounts {
            desired: 5,
            present: 5,
            ..Default::default()
        }),
        failures: vec![],
        last_sync: Some(LastSync {
            time: now,
            added: 5,
            removed: 0,
            api_calls: 1,
            duration_ms: 120,
        }),
        desired_digest: Some("sha256:abc".into()),
        last_handled_sync_request: None,
        last_listing: Some(now),
        ledger: Some("round-trip-ledger".into()),
    };
    let patch = json!({
        "apiVersion": "callsync.io/v1alpha1", "kind": "CallTask",
        "status": status,
    });
    tasks
        .patch_status(
            "round-trip",
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .expect("server-side apply of status");
    let read = tasks.get_status("round-trip").await.expect("read back");
    assert_eq!(read.status, Some(status));
    let managers: Vec<_> = read
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.subresource.as_deref() == Some("status"))
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, vec![FIELD_MANAGER.to_string()]);
}

#[tokio::test]
async fn kubectl_explain_prints_the_doc_comments() {
    let cp = support::control_plane();
    let (_client, _ns) = cp.test_namespace("explain").await;
    let kubectl = cp
        .kubectl()
        .expect("kubectl is built by scripts/build-controlplane.sh");
    // The apiserver publishes a new CRD's OpenAPI a moment after it is Established: poll.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let text = loop {
        let output = std::process::Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&cp.kubeconfig)
            .args(["explain", "calltask.spec.policy"])
            .output()
            .expect("run kubectl");
        if output.status.success() {
            break String::from_utf8_lossy(&output.stdout).into_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "kubectl explain kept failing: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert!(text.contains("maxDeletePercent"), "{text}");
    assert!(
        text.contains("Deletion guard: one sync never removes more"),
        "{text}"
    );
}
