//! Variants that change how longlonglong answers look rather than what they do: English
//! messages, extra fields, listings without `meta`, capped pages, listed phones in another
//! format. One middleware rewrites the handlers' JSON, so every handler stays written against
//! the default reading.
use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use crate::simulator::config::ProviderKind;
use crate::simulator::state::SimState;
use crate::simulator::variants::Variant;

/// Rows a page when [`Variant::LllPageSizeCapped`] is on.
pub const CAPPED_PER_PAGE: usize = 20;

/// Answers are small; anything bigger is passed through untouched.
const MAX_BODY: usize = 16 << 20;

/// Applies the account's answer-shaping variants to one request and its answer.
pub async fn shape(State(sim): State<Arc<SimState>>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let variants = path_user(&path)
        .and_then(|user| {
            sim.lock()
                .account(&(ProviderKind::Longlonglong, user.to_owned()))
                .map(|a| a.variants.clone())
        })
        .unwrap_or_default();
    if variants.is_empty() {
        return next.run(request).await;
    }
    let listing =
        request.method() == Method::GET && path.contains("/task/") && path.ends_with("/number");
    if listing && variants.contains(&Variant::LllPageSizeCapped) {
        cap_per_page(request.uri_mut());
    }
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    reshape(&mut value, &variants, listing);
    let bytes = serde_json::to_vec(&value).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

/// The `user_id` of `/agent-api/user/{user_id}/…` and `/agent-api/new/user/{user_id}/…`.
fn path_user(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/agent-api/user/")
        .or_else(|| path.strip_prefix("/agent-api/new/user/"))?;
    rest.split('/').next().filter(|u| !u.is_empty())
}

/// `per_page` above the cap is served as the cap, silently.
fn cap_per_page(uri: &mut Uri) {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .map(|(k, v)| {
            if k == "per_page" && v.parse::<usize>().is_ok_and(|n| n > CAPPED_PER_PAGE) {
                (k, CAPPED_PER_PAGE.to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    if let Ok(capped) = format!("{}?{query}", uri.path()).parse() {
        *uri = capped;
    }
}

fn reshape(value: &mut Value, variants: &BTreeSet<Variant>, listing: bool) {
    if variants.contains(&Variant::LllEnglishMessages) {
        translate(value);
    }
    if listing {
        if variants.contains(&Variant::LllNoPageMeta)
            && let Some(map) = value.as_object_mut()
        {
            map.remove("meta");
        }
        let echo: Option<fn(&str) -> String> = if variants.contains(&Variant::LllListPhoneMasked) {
            Some(provider_masked)
        } else if variants.contains(&Variant::LllListPhoneCountryCode) {
            Some(with_country_code)
        } else {
            None
        };
        if let (Some(echo), Some(rows)) =
            (echo, value.get_mut("data").and_then(Value::as_array_mut))
        {
            for row in rows {
                if let Some(phone) = row.get_mut("phone")
                    && let Some(text) = phone.as_str()
                {
                    *phone = Value::String(echo(text));
                }
            }
        }
    }
    if variants.contains(&Variant::UnknownFields) {
        add_unknown_fields(value);
    }
}

/// `13012121211` → `8613012121211`; a landline's trunk 0 gives way to the country code.
fn with_country_code(phone: &str) -> String {
    format!("86{}", phone.strip_prefix('0').unwrap_or(phone))
}

/// `13012121211` → `130****1211`, as consoles show numbers: the provider's own masking in a
/// listing (`lllListPhoneMasked`), which the client must refuse; not callsync's logging mask.
fn provider_masked(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "****".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// The simulator's Chinese phrases and their English wording, longest first.
const ENGLISH: &[(&str, &str)] = &[
    (
        "号码导入任务信息请在回调中查收",
        "Import accepted; see the callback for the result",
    ),
    (
        "2.0任务启动中,请先停止任务",
        "The 2.0 task is running, please stop the task first",
    ),
    ("批量删除号码成功", "Numbers deleted"),
    ("无权限操作该用户", "No permission for this user"),
    ("回调数据不存在", "Callback data does not exist"),
    ("子账号不存在", "Sub-account does not exist"),
    ("任务暂停成功", "Task paused"),
    ("任务启动成功", "Task started"),
    ("号码格式错误", "Invalid phone number format"),
    ("任务不存在", "Task does not exist"),
    ("号码不存在", "Number does not exist"),
    ("必须是正整数", " must be a positive integer"),
    ("必须是整数", " must be an integer"),
    ("不能为空", " must not be empty"),
    ("导入失败", "import failed"),
    ("导入成功", "Imported"),
    ("重复号码", "Duplicate number"),
    ("参数错误", "Invalid parameters"),
    ("不一致", " disagree"),
    ("未呼叫", "not called"),
    ("呼叫中", "calling"),
    ("已呼叫", "called"),
    ("必须在", " must be between"),
    ("之间", ""),
    ("最多", " at most"),
    ("号码", "number"),
    ("条", " rows"),
    ("到", " and"),
];

fn english(text: &str) -> String {
    ENGLISH
        .iter()
        .fold(text.to_owned(), |acc, (zh, en)| acc.replace(zh, en))
}

/// Rewrites the strings a client may read as text: `message`, `reason`, `status_str`.
fn translate(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item {
                    Value::String(text)
                        if matches!(key.as_str(), "message" | "reason" | "status_str") =>
                    {
                        *text = english(text);
                    }
                    other => translate(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(translate),
        _ => {}
    }
}

/// Fields a newer API version might add: on the envelope, on `data` and `meta`, on every row.
fn add_unknown_fields(value: &mut Value) {
    let Some(envelope) = value.as_object_mut() else {
        return;
    };
    envelope.insert("request_id".into(), json!("sim-7f3a"));
    envelope.insert("timestamp".into(), json!(1_764_547_200));
    if let Some(meta) = envelope.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert(
            "links".into(),
            json!([{"url": null, "label": "1", "active": true}]),
        );
        meta.insert("path".into(), json!("/agent-api/number"));
    }
    match envelope.get_mut("data") {
        Some(Value::Object(data)) => {
            data.insert("trace".into(), json!({"node": "sim", "version": 3}));
        }
        Some(Value::Array(rows)) => {
            for row in rows.iter_mut().filter_map(Value::as_object_mut) {
                row.insert("tags".into(), json!(["vip"]));
                row.insert("call_count".into(), json!(0));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_and_users() {
        assert_eq!(with_country_code("13012121211"), "8613012121211");
        assert_eq!(with_country_code("02112345678"), "862112345678");
        assert_eq!(provider_masked("13012121211"), "130****1211");
        assert_eq!(path_user("/agent-api/user/u-1/task/t/number"), Some("u-1"));
        assert_eq!(
            path_user("/agent-api/new/user/u-2/task_stop/t"),
            Some("u-2")
        );
        assert_eq!(path_user("/agent-api/token"), None);
        assert_eq!(
            english("2.0任务启动中,请先停止任务"),
            "The 2.0 task is running, please stop the task first"
        );
        assert_eq!(english("data 最多 100 条"), "data  at most 100  rows");
    }

    #[test]
    fn caps_per_page() {
        let mut uri: Uri = "/agent-api/user/u/task/t/number?page=2&per_page=100"
            .parse()
            .expect("a URI");
        cap_per_page(&mut uri);
        assert_eq!(uri.query(), Some("page=2&per_page=20"));
    }
}
