//! Credentials from Kubernetes Secrets, read at call time, on a real kube-apiserver; and a
//! rotated Secret taking effect on a running client against the simulator.
mod providers_support;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use callsync::api::SignatureAlgorithm;
use callsync::providers::{
    CredentialSource, Provider, ProviderError, RateLimiters, SecretCredentials, TaskRef,
};
use callsync::simulator::{ProviderKind, TaskConfig};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use providers_support::*;

fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        string_data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Secret::default()
    }
}

async fn put(api: &Api<Secret>, value: Secret) {
    let name = value.metadata.name.clone().expect("named");
    if api.get_opt(&name).await.expect("get").is_some() {
        api.replace(&name, &PostParams::default(), &value)
            .await
            .expect("replace secret");
    } else {
        api.create(&PostParams::default(), &value)
            .await
            .expect("create secret");
    }
}

#[tokio::test]
async fn secrets_are_read_at_call_time_and_missing_keys_are_named() {
    bounded(async {
        let (client, ns) = support::control_plane().test_namespace("creds").await;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let sim = start(vec![]).await;

        // Callbot: uuid + secretKey
        put(
            &secrets,
            secret("cb", &[("uuid", "u-1"), ("secretKey", "s-1\n")]),
        )
        .await;
        let spec = callbot_spec(&sim, SignatureAlgorithm::Md5, false);
        let source = SecretCredentials::for_provider(client.clone(), &ns, &spec).expect("source");
        assert_eq!(
            source.get().await.expect("read"),
            cb_creds("u-1", "s-1"),
            "trailing newline trimmed"
        );
        put(
            &secrets,
            secret("cb", &[("uuid", "u-1"), ("secretKey", "s-2")]),
        )
        .await;
        assert_eq!(source.get().await.expect("read"), cb_creds("u-1", "s-2"));

        // a missing key: terminal, names Secret and key, never a value
        put(&secrets, secret("cb", &[("uuid", "u-1")])).await;
        let err = source.get().await.expect_err("no secretKey");
        assert!(
            matches!(&err, ProviderError::CredentialsMissing { key, .. } if key == "secretKey"),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("{ns}/cb")), "{err}");
        assert!(!err.to_string().contains("u-1"), "{err}");

        // NXLink: accessKey + accessSecret; a missing Secret
        let spec = nxlink_spec(&sim);
        let source = SecretCredentials::for_provider(client.clone(), &ns, &spec).expect("source");
        let err = source.get().await.expect_err("no Secret");
        assert_eq!(err.reason(), "CredentialsMissing");
        put(
            &secrets,
            secret("nx", &[("accessKey", "AK-9"), ("accessSecret", "x")]),
        )
        .await;
        assert_eq!(source.get().await.expect("read"), nx_creds("AK-9", "x"));

        // longlonglong: the key named by tokenSecretRef
        let spec = lll_spec(&sim);
        put(&secrets, secret("lll", &[("token", "t-1")])).await;
        let source = SecretCredentials::for_provider(client.clone(), &ns, &spec).expect("source");
        assert_eq!(source.get().await.expect("read"), lll_creds("t-1"));
    })
    .await;
}

#[tokio::test]
async fn a_rotated_token_works_without_rebuilding_the_client() {
    bounded(async {
        let (client, ns) = support::control_plane().test_namespace("rotate").await;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let sim = start(vec![account(
            ProviderKind::Longlonglong,
            LLL_USER,
            LLL_TOKEN,
            vec![TaskConfig {
                id: "t1".into(),
                ..TaskConfig::default()
            }],
        )])
        .await;
        put(&secrets, secret("lll", &[("token", "expired-token")])).await;
        let spec = lll_spec(&sim);
        let source = SecretCredentials::for_provider(client.clone(), &ns, &spec).expect("source");
        let provider = callsync::providers::build_provider(
            &key("lll"),
            &spec,
            None,
            Arc::new(source),
            &RateLimiters::new(),
        )
        .expect("build");
        let err = provider.check_credentials().await.expect_err("old token");
        assert_eq!(err.reason(), "CredentialsRejected");
        put(&secrets, secret("lll", &[("token", LLL_TOKEN)])).await;
        provider.check_credentials().await.expect("rotated token");
        let listed = provider.list(&TaskRef::new("t1")).await.expect("list");
        assert_eq!(listed.map(|l| l.len()), Some(0));
    })
    .await;
}
