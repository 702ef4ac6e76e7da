//! Request authentication of the three providers, as their docs define it. Signatures are
//! checked with `crate::signing`, the same functions the provider clients sign with; the tests
//! in `tests/simulator_signatures.rs` check the simulator against an independent implementation.
use std::io::Read;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};

use super::config::ProviderKind;
use super::state::{AccountKey, SimState, now_ms};
use crate::api::SignatureAlgorithm;
use crate::signing::{callbot_sign, nxlink_sign, signatures_equal};

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// longlonglong: `Authorization: Bearer <token>`; the token must belong to the path's user_id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LllAuthError {
    /// No or unknown token (HTTP 401).
    Unauthenticated,
    /// The token belongs to another user_id (HTTP 403).
    Forbidden,
}

pub fn lll_token(headers: &HeaderMap) -> Option<&str> {
    header(headers, AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

pub fn lll_verify(
    sim: &SimState,
    headers: &HeaderMap,
    user_id: Option<&str>,
) -> Result<AccountKey, LllAuthError> {
    let token = lll_token(headers).ok_or(LllAuthError::Unauthenticated)?;
    let inner = sim.lock();
    let owner = inner
        .lll_tokens
        .get(token)
        .ok_or(LllAuthError::Unauthenticated)?;
    match user_id {
        Some(user) if user != owner => Err(LllAuthError::Forbidden),
        _ => Ok((ProviderKind::Longlonglong, owner.clone())),
    }
}

/// A Callbot request that passed authentication.
#[derive(Debug, Clone)]
pub struct CallbotCaller {
    pub key: AccountKey,
    pub secret: String,
    pub algorithm: SignatureAlgorithm,
    pub request_id: String,
    /// The body as signed: gunzipped when it came with `Content-Encoding: gzip`.
    pub body: Bytes,
}

/// A refused Callbot request: `retCode` and `retMsg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbotAuthError {
    pub ret_code: i64,
    pub ret_msg: String,
    /// Echoed `requestID`, when there was one.
    pub request_id: Option<String>,
}

pub fn callbot_verify(
    sim: &SimState,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<CallbotCaller, CallbotAuthError> {
    let request_id = header(headers, "requestID").map(str::to_owned);
    let fail = |ret_code: i64, ret_msg: &str| CallbotAuthError {
        ret_code,
        ret_msg: ret_msg.to_owned(),
        request_id: request_id.clone(),
    };
    let body = match header(headers, CONTENT_ENCODING.as_str()) {
        None | Some("identity") => body,
        Some(enc) if enc.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .map_err(|_| fail(3, "参数格式错误: body is not valid gzip"))?;
            Bytes::from(out)
        }
        Some(_) => return Err(fail(3, "参数格式错误: unsupported Content-Encoding")),
    };
    let (Some(uuid), Some(create_ts), Some(sign), Some(req_id)) = (
        header(headers, "uuid"),
        header(headers, "createTs"),
        header(headers, "sign"),
        request_id.as_deref(),
    ) else {
        return Err(fail(
            6001,
            "签名错误丢失: headers requestID, uuid, createTs and sign are required",
        ));
    };
    let algorithm = match header(headers, "algorithm") {
        None | Some("MD5") => SignatureAlgorithm::Md5,
        Some("SHA256") => SignatureAlgorithm::Sha256,
        Some(_) => return Err(fail(4, "参数值错误: algorithm must be MD5 or SHA256")),
    };
    let secret = {
        let inner = sim.lock();
        inner
            .account(&(ProviderKind::Callbot, uuid.to_owned()))
            .map(|a| a.secret.clone())
            .ok_or_else(|| fail(6002, "账号不存在"))?
    };
    let ts: i64 = create_ts
        .parse()
        .map_err(|_| fail(6, "签名不正确: createTs must be seconds"))?;
    // abs_diff: a hostile createTs cannot overflow the subtraction.
    if (now_ms() / 1000).abs_diff(ts) > sim.timing.callbot_ts_window_secs.unsigned_abs() {
        return Err(fail(6, "签名不正确: createTs outside the allowed window"));
    }
    let expected = callbot_sign(algorithm, &secret, &body, create_ts, req_id, uuid);
    if !signatures_equal(&expected, sign) {
        return Err(fail(6, "签名不正确"));
    }
    // requestID is "unique per request": a signed request sent again is refused.
    let fresh = sim.lock().remember_request_id(
        uuid,
        req_id,
        now_ms() / 1000,
        sim.timing.callbot_ts_window_secs,
    );
    if !fresh {
        return Err(fail(4, "参数值错误: requestID already used"));
    }
    Ok(CallbotCaller {
        key: (ProviderKind::Callbot, uuid.to_owned()),
        secret,
        algorithm,
        request_id: req_id.to_owned(),
        body,
    })
}

/// A refused NXLink request: `code` and `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NxlinkAuthError {
    pub code: i64,
    pub message: &'static str,
}

/// The fixed AI Agent values of `bizType` and `action`.
pub const NXLINK_BIZ_TYPE: &str = "100";
pub const NXLINK_ACTION: &str = "nxai";

pub fn nxlink_verify(
    sim: &SimState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<AccountKey, NxlinkAuthError> {
    let fail = |code, message| NxlinkAuthError { code, message };
    let (Some(access_key), Some(ts), Some(biz_type), Some(action), Some(sign)) = (
        header(headers, "accessKey"),
        header(headers, "ts"),
        header(headers, "bizType"),
        header(headers, "action"),
        header(headers, "sign"),
    ) else {
        return Err(fail(
            1001,
            "Authentication failed (missing public parameters: accessKey, ts, bizType, action, sign)",
        ));
    };
    if biz_type != NXLINK_BIZ_TYPE || action != NXLINK_ACTION {
        return Err(fail(
            1002,
            "Authentication failed (parameter error: bizType must be 100 and action nxai)",
        ));
    }
    if header(headers, "algorithm").is_some_and(|a| a != "md5") {
        return Err(fail(
            1002,
            "Authentication failed (parameter error: algorithm must be md5)",
        ));
    }
    let secret = {
        let inner = sim.lock();
        inner
            .account(&(ProviderKind::Nxlink, access_key.to_owned()))
            .map(|a| a.secret.clone())
            .ok_or_else(|| fail(1005, "Authentication failed (insufficient permission)"))?
    };
    let ts_ms: i64 = ts
        .parse()
        .map_err(|_| fail(1004, "Authentication failed (timestamp expired)"))?;
    if now_ms().abs_diff(ts_ms) > sim.timing.nxlink_ts_window_ms.unsigned_abs() {
        return Err(fail(1004, "Authentication failed (timestamp expired)"));
    }
    let json = header(headers, CONTENT_TYPE.as_str())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/json"));
    if !json {
        return Err(fail(
            1003,
            "Authentication failed (invalid signature: Content-Type must be application/json)",
        ));
    }
    let expected = nxlink_sign(access_key, action, biz_type, ts, body, &secret);
    if !signatures_equal(&expected, sign) {
        return Err(fail(1003, "Authentication failed (invalid signature)"));
    }
    Ok((ProviderKind::Nxlink, access_key.to_owned()))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::simulator::config::{AccountConfig, SimulatorConfig};

    /// The worked examples of providers.md §2.2 and §3.2, with their fixed timestamps: the
    /// windows are opened wide so the old timestamps pass.
    fn state() -> SimState {
        let account = |provider, id: &str, secret: &str| AccountConfig {
            provider,
            id: id.into(),
            secret: secret.into(),
            rate_limit: None,
            faults: None,
            variants: Default::default(),
            tasks: vec![],
        };
        let config = SimulatorConfig {
            callbot_ts_window_secs: i64::MAX,
            nxlink_ts_window_ms: i64::MAX,
            accounts: vec![
                account(
                    ProviderKind::Callbot,
                    "Vh71ym3yQwWSYZFpqkFwTskGXUbSxDtR",
                    "u7Mf3zUNOkg4lMV9a0E6cHSgIkK22GSr",
                ),
                account(
                    ProviderKind::Nxlink,
                    "AK-6230339248928541113-2133",
                    "EXAMPLESECRET",
                ),
            ],
            ..SimulatorConfig::default()
        };
        match SimState::new(&config) {
            Ok(state) => state,
            Err(err) => panic!("{err}"),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(value) {
                map.insert(*name, value);
            }
        }
        map
    }

    #[test]
    fn callbot_worked_example_is_accepted_and_tampering_is_not() {
        let state = state();
        let base = [
            ("requestid", "0123456789abcdef0123456789abcdef"),
            ("uuid", "Vh71ym3yQwWSYZFpqkFwTskGXUbSxDtR"),
            ("createts", "1700000000"),
        ];
        let body = Bytes::from_static(br#"{"data":"ping"}"#);
        let with = |sign: &'static str, algorithm: Option<&'static str>| {
            let mut pairs = base.to_vec();
            pairs.push(("sign", sign));
            if let Some(algorithm) = algorithm {
                pairs.push(("algorithm", algorithm));
            }
            headers(&pairs)
        };
        let md5 = with("B13974D77A7E6B91FF2952D1938AACCE", None);
        assert!(callbot_verify(&state, &md5, body.clone()).is_ok());
        assert_eq!(
            callbot_verify(&state, &md5, body.clone())
                .map_err(|e| e.ret_code)
                .err(),
            Some(4),
            "a replayed requestID"
        );
        let sha = with(
            "3D3F8D612D5A8AAB93E94328222B944BDE093168B2CE766973E597D373C057AA",
            Some("SHA256"),
        );
        assert!(callbot_verify(&self::state(), &sha, body.clone()).is_ok());
        let refused = callbot_verify(&state, &md5, Bytes::from_static(br#"{"data":"pong"}"#));
        assert_eq!(refused.map_err(|e| e.ret_code).err(), Some(6));
        let missing = headers(&base);
        assert_eq!(
            callbot_verify(&state, &missing, body)
                .map_err(|e| e.ret_code)
                .err(),
            Some(6001)
        );
    }

    #[test]
    fn nxlink_worked_example_is_accepted_and_tampering_is_not() {
        let state = state();
        let body = br#"{"userTaskId":"EXT-TASK-202603250001","contactId":"52145b00-abc9-4a87-94c2-ed1e1e42ec1c"}"#;
        let with = |sign: &'static str| {
            headers(&[
                ("accesskey", "AK-6230339248928541113-2133"),
                ("ts", "1655710885431"),
                ("biztype", "100"),
                ("action", "nxai"),
                ("sign", sign),
                ("content-type", "application/json"),
            ])
        };
        let good = with("99df5488e51999be3eed2b67e5567bdd");
        assert!(nxlink_verify(&state, &good, body).is_ok());
        let upper = with("99DF5488E51999BE3EED2B67E5567BDD");
        assert_eq!(
            nxlink_verify(&state, &upper, body)
                .map_err(|e| e.code)
                .err(),
            Some(1003)
        );
        assert_eq!(
            nxlink_verify(&state, &good, b"{}")
                .map_err(|e| e.code)
                .err(),
            Some(1003)
        );
    }
}
