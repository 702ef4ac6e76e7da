//! Reading the parts of NXLink's answers the client relies on, strictly: an answer that is not
//! JSON, is cut short, or has another type where the client reads a field is an error naming the
//! field and the type it had (never its value: it may hold a phone), so that nothing is counted
//! done on an answer the client did not understand. Fields the client does not read are
//! ignored, whatever their type.
use serde_json::Value;

/// The JSON type of a value, for error messages (never the value: it may be a phone).
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Why a body is not JSON, in words: cut short, or something else.
pub(super) fn not_json(error: &serde_json::Error) -> String {
    if error.is_eof() {
        format!("not JSON: the answer is cut short ({error})")
    } else {
        format!("not JSON ({error})")
    }
}

/// A count: a number, or text holding one (NXLink is loose about numbers). `None` when absent
/// or null; an error when it is there and is no count.
pub(super) fn count(parent: &Value, field: &str, path: &str) -> Result<Option<u64>, String> {
    match parent.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{path} is a number that is no count")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{path} is text that is no count")),
        Some(other) => Err(format!("{path} is {}, not a count", kind(other))),
    }
}

/// `data` of a successful answer as an object (absent or null reads as empty).
pub(super) fn data_object(data: &Value) -> Result<Option<&serde_json::Map<String, Value>>, String> {
    match data {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        other => Err(format!("data is {}, not an object", kind(other))),
    }
}

/// A field that must be a list when it is there.
pub(super) fn list<'a>(
    parent: &'a Value,
    field: &str,
    path: &str,
) -> Result<Option<&'a Vec<Value>>, String> {
    match parent.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(format!("{path} is {}, not a list", kind(other))),
    }
}

/// A field that must be text when it is there.
pub(super) fn text<'a>(parent: &'a Value, field: &str) -> Result<Option<&'a str>, String> {
    match parent.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("{field} is {}, not text", kind(other))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wrong_types_are_named_and_values_never_shown() {
        let v = json!({"n": 3, "s": "4", "bad": "13012121211x", "o": {"p": "8613012121211"}});
        assert_eq!(count(&v, "n", "n"), Ok(Some(3)));
        assert_eq!(count(&v, "s", "s"), Ok(Some(4)));
        assert_eq!(count(&v, "none", "none"), Ok(None));
        let err = count(&v, "bad", "bad").expect_err("no count");
        assert!(err.contains("text") && !err.contains("1301212"), "{err}");
        let err = count(&v, "o", "o").expect_err("an object");
        assert_eq!(err, "o is an object, not a count");
        assert_eq!(
            list(&v, "o", "data.o").expect_err("no list"),
            "data.o is an object, not a list"
        );
        assert_eq!(
            data_object(&json!([1])).expect_err("a list"),
            "data is a list, not an object"
        );
        let cut = serde_json::from_str::<Value>(r#"{"code":0,"da"#).expect_err("cut");
        assert!(not_json(&cut).contains("cut short"));
    }
}
