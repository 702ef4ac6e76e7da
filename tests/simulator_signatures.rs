//! The simulator accepts requests signed by an implementation written here from the docs'
//! formulas and worked examples (providers.md §2.2 and §3.2), independent of
//! `callsync::signing`: if both shared a mistake, this test would still catch it.
mod support;

use md5::{Digest, Md5};
use serde_json::json;
use sha2::Sha256;
use support::sim::wire::*;
use support::sim::*;

fn hex(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

/// Callbot: `authRaw = fmt.Sprintf("%s&body=%s&createTs=%s&requestID=%s&uuid=%s", secretKey,
/// body, createTs, requestID, uuid)`, `sign = md5(authRaw).upper()` (or SHA256).
fn callbot_doc_sign(
    sha256: bool,
    secret: &str,
    body: &str,
    create_ts: &str,
    request_id: &str,
    uuid: &str,
) -> String {
    let raw =
        format!("{secret}&body={body}&createTs={create_ts}&requestID={request_id}&uuid={uuid}");
    if sha256 {
        hex(&Sha256::digest(raw.as_bytes()), true)
    } else {
        hex(&Md5::digest(raw.as_bytes()), true)
    }
}

/// NXLink: headers sorted by key, `k=v` joined by `&`, then `&body=<json>`, then
/// `&accessSecret=<secret>`; lowercase hex MD5.
fn nxlink_doc_sign(headers: &[(&str, &str)], body: &str, secret: &str) -> String {
    let mut sorted = headers.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let joined: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let raw = format!("{}&body={body}&accessSecret={secret}", joined.join("&"));
    hex(&Md5::digest(raw.as_bytes()), false)
}

#[test]
fn independent_signers_match_the_worked_examples() {
    let cb = |sha| {
        callbot_doc_sign(
            sha,
            DOCS_CB_SECRET,
            r#"{"data":"ping"}"#,
            "1700000000",
            "0123456789abcdef0123456789abcdef",
            DOCS_CB_UUID,
        )
    };
    assert_eq!(cb(false), "B13974D77A7E6B91FF2952D1938AACCE");
    assert_eq!(
        cb(true),
        "3D3F8D612D5A8AAB93E94328222B944BDE093168B2CE766973E597D373C057AA"
    );
    let nx = |body| {
        nxlink_doc_sign(
            &[
                ("ts", "1655710885431"),
                ("bizType", "1"),
                ("action", "send"),
                ("accessKey", "fme2na3kdi3ki"),
            ],
            body,
            "abciiiko2k3",
        )
    };
    assert_eq!(
        nx(r#"{"name":"牛小信","id":10001}"#),
        "87c3560d3331ae23f1021e2025722354"
    );
    assert_eq!(
        nx(r#"{"id":10001,"name":"牛小信"}"#),
        "7750759da06333f20d0640be09355e34"
    );
    assert_eq!(
        nx(r#"{"id": 10001, "name": "牛小信"}"#),
        "d0c24a9886c629330d7f3f2056c65bc2"
    );
    assert_eq!(
        nxlink_doc_sign(
            &[
                ("accessKey", DOCS_NX_KEY),
                ("action", "nxai"),
                ("bizType", "100"),
                ("ts", "1655710885431")
            ],
            r#"{"userTaskId":"EXT-TASK-202603250001","contactId":"52145b00-abc9-4a87-94c2-ed1e1e42ec1c"}"#,
            DOCS_NX_SECRET,
        ),
        "99df5488e51999be3eed2b67e5567bdd"
    );
}

#[tokio::test]
async fn simulator_accepts_independently_signed_requests() {
    let sim = start_config(config()).await;
    let api = Api::new(&sim);

    // Callbot, both algorithms; the body has spaces and non-ASCII text on purpose.
    for (sha, name) in [(false, "MD5"), (true, "SHA256")] {
        let body = format!(
            r#"{{"productID": "callbot", "userTaskID": "ut-1", "callInfoList": {{"orderCallbackUrl": "http://x/o", "callCallbackUrl": "http://x/c", "callList": [{{"orderID": "ind-{name}", "userPhone": "861300000000{}", "other": "牛小信", "userName": "", "customerName": "", "params": [{{"name": "name", "value": "v"}}]}}]}}}}"#,
            if sha { 2 } else { 1 }
        );
        let ts = now_secs().to_string();
        let request_id = format!("independent-{name}");
        let sign = callbot_doc_sign(sha, DOCS_CB_SECRET, &body, &ts, &request_id, DOCS_CB_UUID);
        let response = api
            .http
            .post(format!("{}/callcentre/api/v3/addBatchCall", api.base))
            .header("Content-Type", "application/json")
            .header("requestId", &request_id) // the sample's casing
            .header("uuid", DOCS_CB_UUID)
            .header("createTs", &ts)
            .header("sign", sign)
            .header("algorithm", name)
            .body(body)
            .send()
            .await
            .expect("send");
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let reply: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(reply["retCode"], 0, "{name}: {reply}");
        assert_eq!(reply["successCount"], 1, "{name}: {reply}");
        // and the response signature verifies with the same formula
        let response_sign = callbot_doc_sign(
            sha,
            DOCS_CB_SECRET,
            &text,
            headers["createTs"].to_str().unwrap_or_default(),
            &request_id,
            DOCS_CB_UUID,
        );
        assert_eq!(headers["sign"].to_str().ok(), Some(response_sign.as_str()));
    }

    // NXLink
    let body = r#"{"taskId": "task-1", "list": [{"contactId": "ind-1", "name": "牛小信", "phoneNumber": "8613000000003"}]}"#;
    let ts = now_ms().to_string();
    let sign = nxlink_doc_sign(
        &[
            ("accessKey", DOCS_NX_KEY),
            ("ts", &ts),
            ("bizType", "100"),
            ("action", "nxai"),
        ],
        body,
        DOCS_NX_SECRET,
    );
    let response = api
        .http
        .post(format!("{}/openapi/aiagent/call/append", api.base))
        .header("Content-Type", "application/json")
        .header("accessKey", DOCS_NX_KEY)
        .header("ts", &ts)
        .header("bizType", "100")
        .header("action", "nxai")
        .header("sign", sign)
        .body(body)
        .send()
        .await
        .expect("send");
    let (_, reply) = json_of(response).await;
    assert_eq!(reply["code"], 0, "{reply}");
    assert_eq!(
        api.phones("nxlink", DOCS_NX_KEY, "task-1").await,
        vec!["8613000000003"]
    );
    assert_eq!(
        api.phones("callbot", DOCS_CB_UUID, "ut-1").await,
        vec!["8613000000001", "8613000000002"]
    );
    let _ = json!(null);
}
