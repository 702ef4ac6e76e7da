//! Credentials from Kubernetes Secrets, read at call time, on a real kube-apiserver; and a
//! rotated Secret taking effect on a running client against the simulator.
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
use support::sim::*;

fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                "callsync.io/credentials".to_owned(),
                "true".to_owned(),
            )])),
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

/// Total requests the simulator received on its provider endpoints.
fn provider_calls(sim: &callsync::simulator::RunningSimulator) -> u64 {
    sim.state().lock().counters.values().map(|c| c.calls).sum()
}

/// Someone who may edit CallProviders but not read Secrets must not get a Secret's value sent
/// to an endpoint of their choice: an unlabelled Secret is refused before any request, with a
/// message naming the Secret and the label; labelling it (by someone who may write Secrets)
/// lets the same client work.
#[tokio::test]
async fn a_secret_without_the_credentials_label_is_never_sent() {
    bounded(async {
        let (client, ns) = support::control_plane().test_namespace("optin").await;
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
        let mut unlabelled = secret("lll", &[("token", LLL_TOKEN)]);
        unlabelled.metadata.labels = None;
        put(&secrets, unlabelled.clone()).await;
        // A label for the other use does not open this one.
        let mut contacts_only = unlabelled.clone();
        contacts_only.metadata.labels = Some(BTreeMap::from([(
            "callsync.io/contacts".to_owned(),
            "true".to_owned(),
        )]));
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
        for refused in [unlabelled, contacts_only] {
            put(&secrets, refused).await;
            let err = provider
                .check_credentials()
                .await
                .expect_err("not opted in");
            assert_eq!(err.reason(), "SecretNotOptedIn", "{err}");
            assert!(!err.is_retryable(), "{err}");
            let message = err.to_string();
            assert!(message.contains(&format!("{ns}/lll")), "{message}");
            assert!(
                message.contains("callsync.io/credentials=true"),
                "{message}"
            );
            assert!(!message.contains(LLL_TOKEN), "{message}");
            let err = provider
                .list(&TaskRef::new("t1"))
                .await
                .expect_err("no list either");
            assert_eq!(err.reason(), "SecretNotOptedIn", "{err}");
            assert_eq!(provider_calls(&sim), 0, "a request reached the endpoint");
        }

        put(&secrets, secret("lll", &[("token", LLL_TOKEN)])).await;
        provider.check_credentials().await.expect("labelled");
        assert!(provider_calls(&sim) > 0);
    })
    .await;
}

/// An endpoint that answers 307 to another server must not get the request replayed there:
/// a redirect would carry the signing headers and the body (phone numbers) to a host the
/// CallProvider never named. The second server sees nothing; the client reports the answer.
#[tokio::test]
async fn a_redirect_is_never_followed_with_credentials() {
    use std::sync::atomic::{AtomicU64, Ordering};

    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;

    async fn serve(router: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}")
    }

    bounded(async {
        let hits = Arc::new(AtomicU64::new(0));
        let counted = hits.clone();
        let elsewhere = serve(axum::Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { "{}" }
        }))
        .await;
        let redirecting =
            serve(axum::Router::new().fallback(move |uri: axum::http::Uri| {
                let target = format!("{elsewhere}{uri}");
                async move {
                    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response()
                }
            }))
            .await;

        let sim = start(vec![]).await;
        for (name, mut spec, creds) in [
            ("lll", lll_spec(&sim), lll_creds(LLL_TOKEN)),
            (
                "cb",
                callbot_spec(&sim, SignatureAlgorithm::Md5, false),
                cb_creds(CB_UUID, CB_SECRET),
            ),
        ] {
            if let Some(account) = spec.longlonglong.as_mut() {
                account.endpoint = redirecting.clone();
            }
            if let Some(account) = spec.callbot.as_mut() {
                account.endpoint = redirecting.clone();
            }
            let provider = callsync::providers::factory::build_provider_with(
                &key(name),
                &spec,
                None,
                Arc::new(callsync::providers::StaticCredentials(creds)),
                &RateLimiters::new(),
                &settings(),
            )
            .expect("build");
            // How each client words an unexpected 3xx is theirs; it must be an error.
            let err = provider.check_credentials().await.expect_err("a redirect");
            assert!(!err.to_string().is_empty(), "{name}");
        }
        assert_eq!(hits.load(Ordering::SeqCst), 0, "a redirect was followed");
    })
    .await;
}
