//! Request signatures of the two signed provider APIs, exactly as their docs define them.
//!
//! Both sign the exact body bytes that are sent: callers serialise once, sign those bytes and send
//! the same bytes. The simulator verifies with the same functions; an independent implementation
//! in `tests/` checks them against the documented worked examples.
use md5::Md5;
use sha2::Sha256;

use crate::api::SignatureAlgorithm;

/// The Callbot v3 `sign` header:
/// `UPPER(hex(H(secretKey + "&body=" + body + "&createTs=" + ts + "&requestID=" + id + "&uuid=" + uuid)))`
/// with H = MD5 or SHA-256. The secret comes first and carries no label; the order is fixed.
pub fn callbot_sign(
    algorithm: SignatureAlgorithm,
    secret_key: &str,
    body: &[u8],
    create_ts: &str,
    request_id: &str,
    uuid: &str,
) -> String {
    let parts: [&[u8]; 9] = [
        secret_key.as_bytes(),
        b"&body=",
        body,
        b"&createTs=",
        create_ts.as_bytes(),
        b"&requestID=",
        request_id.as_bytes(),
        b"&uuid=",
        uuid.as_bytes(),
    ];
    match algorithm {
        SignatureAlgorithm::Md5 => hex::encode_upper(digest::<Md5>(&parts)),
        SignatureAlgorithm::Sha256 => hex::encode_upper(digest::<Sha256>(&parts)),
    }
}

/// The NXLink `sign` header:
/// `lower(hex(md5("accessKey=…&action=…&bizType=…&ts=…" + "&body=" + body + "&accessSecret=" + secret)))`.
/// The `&body=` part is left out when the body is empty, as the docs say.
pub fn nxlink_sign(
    access_key: &str,
    action: &str,
    biz_type: &str,
    ts: &str,
    body: &[u8],
    access_secret: &str,
) -> String {
    let body_part: [&[u8]; 2] = if body.is_empty() {
        [b"", b""]
    } else {
        [b"&body=", body]
    };
    let parts: [&[u8]; 12] = [
        b"accessKey=",
        access_key.as_bytes(),
        b"&action=",
        action.as_bytes(),
        b"&bizType=",
        biz_type.as_bytes(),
        b"&ts=",
        ts.as_bytes(),
        body_part[0],
        body_part[1],
        b"&accessSecret=",
        access_secret.as_bytes(),
    ];
    hex::encode(digest::<Md5>(&parts))
}

fn digest<D: md5::Digest>(parts: &[&[u8]]) -> Vec<u8> {
    let mut hasher = D::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().to_vec()
}

/// Compares two signatures in time independent of where they differ, so a caller cannot learn a
/// valid signature byte by byte from response times.
pub fn signatures_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // Worked example in providers.md §2.2 (computed from the documented rule).
    const CB_SECRET: &str = "u7Mf3zUNOkg4lMV9a0E6cHSgIkK22GSr";
    const CB_UUID: &str = "Vh71ym3yQwWSYZFpqkFwTskGXUbSxDtR";
    const CB_REQ: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn callbot_md5_worked_example() {
        let sign = callbot_sign(
            SignatureAlgorithm::Md5,
            CB_SECRET,
            br#"{"data":"ping"}"#,
            "1700000000",
            CB_REQ,
            CB_UUID,
        );
        assert_eq!(sign, "B13974D77A7E6B91FF2952D1938AACCE");
    }

    #[test]
    fn callbot_sha256_worked_example() {
        let sign = callbot_sign(
            SignatureAlgorithm::Sha256,
            CB_SECRET,
            br#"{"data":"ping"}"#,
            "1700000000",
            CB_REQ,
            CB_UUID,
        );
        assert_eq!(
            sign,
            "3D3F8D612D5A8AAB93E94328222B944BDE093168B2CE766973E597D373C057AA"
        );
    }

    #[test]
    fn nxlink_docs_worked_examples() {
        let sign = |body: &str| {
            nxlink_sign(
                "fme2na3kdi3ki",
                "send",
                "1",
                "1655710885431",
                body.as_bytes(),
                "abciiiko2k3",
            )
        };
        assert_eq!(
            sign(r#"{"name":"牛小信","id":10001}"#),
            "87c3560d3331ae23f1021e2025722354"
        );
        assert_eq!(
            sign(r#"{"id":10001,"name":"牛小信"}"#),
            "7750759da06333f20d0640be09355e34"
        );
        assert_eq!(
            sign(r#"{"id": 10001, "name": "牛小信"}"#),
            "d0c24a9886c629330d7f3f2056c65bc2"
        );
    }

    #[test]
    fn nxlink_ai_agent_example() {
        let body = r#"{"userTaskId":"EXT-TASK-202603250001","contactId":"52145b00-abc9-4a87-94c2-ed1e1e42ec1c"}"#;
        let sign = nxlink_sign(
            "AK-6230339248928541113-2133",
            "nxai",
            "100",
            "1655710885431",
            body.as_bytes(),
            "EXAMPLESECRET",
        );
        assert_eq!(sign, "99df5488e51999be3eed2b67e5567bdd");
    }

    #[test]
    fn signature_comparison() {
        assert!(signatures_equal("abc", "abc"));
        assert!(!signatures_equal("abc", "abd"));
        assert!(!signatures_equal("abc", "abcd"));
    }
}
