//! The checks the API server makes on a callsync object, made offline from the same CRD
//! schemas (`api::all_crds`): types, unknown fields, required fields, enums, ranges, lengths,
//! patterns, item counts — and the CEL rules, evaluated by hand (a test fails when the CRDs
//! gain a rule this module does not know). `tests/cli_validate.rs` checks that the API server
//! agrees on the examples and the broken fixtures.
use std::collections::BTreeMap;
use std::sync::OnceLock;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::{Map, Value};

/// One schema violation: the field path and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub message: String,
}

fn schemas() -> &'static BTreeMap<String, JSONSchemaProps> {
    static SCHEMAS: OnceLock<BTreeMap<String, JSONSchemaProps>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        crate::api::all_crds()
            .into_iter()
            .filter_map(|crd| {
                let kind = crd.spec.names.kind.clone();
                let schema = crd
                    .spec
                    .versions
                    .into_iter()
                    .next()?
                    .schema?
                    .open_api_v3_schema?;
                Some((kind, schema))
            })
            .collect()
    })
}

/// Checks a whole object of `kind` (one of the three callsync kinds) against its CRD schema.
pub fn check(kind: &str, object: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(schema) = schemas().get(kind) {
        walk(object, schema, "", &mut out);
    }
    out
}

/// The CEL rules of the CRDs and their meaning here. `None`: a transition rule, which only an
/// update can break, never a file.
pub const KNOWN_RULES: [&str; 8] = [
    "[has(self.longlonglong), has(self.callbot), has(self.nxlink)].filter(x, x).size() == 1",
    "has(self.region) || has(self.endpoint)",
    "has(self.selector) || (has(self.names) && size(self.names) > 0)",
    "!(has(self.contacts) && size(self.contacts) > 0 && has(self.source))",
    "has(self.secretRef) != has(self.configMapRef)",
    "self == oldSelf",
    "duration(self) >= duration('1s') && duration(self) <= duration('168h')",
    "!has(self.phoneFormat) || self.phoneFormat == 'InternationalDigits'",
];

fn has(object: &Map<String, Value>, field: &str) -> bool {
    object.get(field).is_some_and(|v| !v.is_null())
}

fn size(object: &Map<String, Value>, field: &str) -> usize {
    match object.get(field) {
        Some(Value::Array(items)) => items.len(),
        Some(Value::Object(map)) => map.len(),
        Some(Value::String(s)) => s.chars().count(),
        _ => 0,
    }
}

/// Whether `value` satisfies `rule`; `None` when the rule cannot be judged from a file.
fn eval_rule(rule: &str, value: &Value) -> Option<bool> {
    if rule == KNOWN_RULES[6] {
        let text = value.as_str()?;
        // A text the pattern refuses is reported by the pattern check; only judge the range.
        let well_formed = regex::Regex::new(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
            .is_ok_and(|re| re.is_match(text));
        if !well_formed {
            return None;
        }
        // A well-formed text without a duration is zero or too large to represent: out of range.
        return Some(crate::api::parse_duration(text).is_some_and(|interval| {
            (std::time::Duration::from_secs(1)..=std::time::Duration::from_secs(168 * 3600))
                .contains(&interval)
        }));
    }
    let object = value.as_object()?;
    let holds = match rule {
        r if r == KNOWN_RULES[0] => {
            ["longlonglong", "callbot", "nxlink"]
                .iter()
                .filter(|f| has(object, f))
                .count()
                == 1
        }
        r if r == KNOWN_RULES[1] => has(object, "region") || has(object, "endpoint"),
        r if r == KNOWN_RULES[2] => {
            has(object, "selector") || (has(object, "names") && size(object, "names") > 0)
        }
        r if r == KNOWN_RULES[3] => {
            !(has(object, "contacts") && size(object, "contacts") > 0 && has(object, "source"))
        }
        r if r == KNOWN_RULES[4] => has(object, "secretRef") != has(object, "configMapRef"),
        r if r == KNOWN_RULES[7] => object
            .get("phoneFormat")
            .is_none_or(|f| f.is_null() || f == "InternationalDigits"),
        _ => return None,
    };
    Some(holds)
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "number" => value.is_number(),
        other => type_name(value) == other,
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn walk(value: &Value, schema: &JSONSchemaProps, path: &str, out: &mut Vec<Violation>) {
    let mut violation = |message: String| {
        out.push(Violation {
            path: path.to_owned(),
            message,
        })
    };
    // The API server drops nulls of fields that are not nullable; either way nothing to check.
    if value.is_null() {
        return;
    }
    if let Some(expected) = schema.type_.as_deref()
        && !type_matches(expected, value)
    {
        violation(format!(
            "wrong type: expected {expected}, found {} {}",
            type_name(value),
            show(value)
        ));
        return;
    }
    if let Some(allowed) = &schema.enum_
        && !allowed.iter().any(|a| a.0 == *value)
    {
        let names: Vec<String> = allowed.iter().map(|a| show(&a.0)).collect();
        violation(format!(
            "{} is not allowed; use one of {}",
            show(value),
            names.join(", ")
        ));
    }
    match value {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or_default();
            if let Some(min) = schema.minimum
                && x < min
            {
                violation(format!("{n} is less than the minimum {min}"));
            }
            if let Some(max) = schema.maximum
                && x > max
            {
                violation(format!("{n} is more than the maximum {max}"));
            }
        }
        Value::String(s) => {
            let length = s.chars().count() as i64;
            if let Some(min) = schema.min_length
                && length < min
            {
                violation(if min == 1 {
                    "must not be empty".to_owned()
                } else {
                    format!("{length} characters, fewer than the minimum {min}")
                });
            }
            if let Some(max) = schema.max_length
                && length > max
            {
                violation(format!("{length} characters, more than the maximum {max}"));
            }
            if let Some(pattern) = &schema.pattern
                && regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(s))
            {
                violation(format!(
                    "{} does not match the pattern {pattern}",
                    show(value)
                ));
            }
        }
        Value::Array(items) => {
            let count = items.len() as i64;
            if let Some(max) = schema.max_items
                && count > max
            {
                violation(format!("{count} items, more than the maximum {max}"));
            }
            if let Some(min) = schema.min_items
                && count < min
            {
                violation(format!("{count} items, fewer than the minimum {min}"));
            }
            if let Some(JSONSchemaPropsOrArray::Schema(item_schema)) = &schema.items {
                for (i, item) in items.iter().enumerate() {
                    walk(item, item_schema, &format!("{path}[{i}]"), out);
                }
            }
        }
        Value::Object(object) => walk_object(object, schema, path, out),
        Value::Bool(_) | Value::Null => {}
    }
    // CEL rules sit on objects (provider blocks, selections) and on scalars (durations).
    for rule in schema.x_kubernetes_validations.iter().flatten() {
        if eval_rule(&rule.rule, value) == Some(false) {
            out.push(Violation {
                path: path.to_owned(),
                message: rule.message.clone().unwrap_or_else(|| rule.rule.clone()),
            });
        }
    }
}

fn walk_object(
    object: &Map<String, Value>,
    schema: &JSONSchemaProps,
    path: &str,
    out: &mut Vec<Violation>,
) {
    for field in schema.required.iter().flatten() {
        if !has(object, field) {
            out.push(Violation {
                path: join(path, field),
                message: "required field is missing".into(),
            });
        }
    }
    let preserve = schema.x_kubernetes_preserve_unknown_fields == Some(true);
    let additional = match &schema.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(s)) => Some(s.as_ref()),
        _ => None,
    };
    for (field, child) in object {
        // Every object has these; the API server checks them itself, the CRD schema omits them.
        if path.is_empty() && matches!(field.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let child_path = join(path, field);
        match schema.properties.as_ref().and_then(|p| p.get(field)) {
            Some(child_schema) => walk(child, child_schema, &child_path, out),
            None => match additional {
                Some(item_schema) => walk(child, item_schema, &child_path, out),
                // `metadata` and other objects without declared properties take anything.
                None if preserve || schema.properties.is_none() => {}
                None => out.push(Violation {
                    path: child_path,
                    message: format!(
                        "unknown field {field:?}; known fields: {}",
                        schema
                            .properties
                            .iter()
                            .flat_map(|p| p.keys())
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(schema: &JSONSchemaProps, out: &mut Vec<String>) {
        for rule in schema.x_kubernetes_validations.iter().flatten() {
            out.push(rule.rule.clone());
        }
        for child in schema.properties.iter().flat_map(|p| p.values()) {
            rules(child, out);
        }
        if let Some(JSONSchemaPropsOrArray::Schema(items)) = &schema.items {
            rules(items, out);
        }
        if let Some(JSONSchemaPropsOrBool::Schema(extra)) = &schema.additional_properties {
            rules(extra, out);
        }
    }

    #[test]
    fn every_cel_rule_of_the_crds_is_known() {
        let mut found = Vec::new();
        for schema in schemas().values() {
            rules(schema, &mut found);
        }
        let distinct: std::collections::BTreeSet<&String> = found.iter().collect();
        assert_eq!(distinct.len(), KNOWN_RULES.len(), "{found:?}");
        for rule in found {
            assert!(
                KNOWN_RULES.contains(&rule.as_str()),
                "unknown CEL rule {rule}"
            );
        }
    }

    #[test]
    fn finds_types_unknown_fields_enums_ranges_and_rules() {
        let provider = json!({
            "apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
            "metadata": {"name": "p"},
            "spec": {
                "callbot": {"credentialsSecretRef": {"name": "s"}, "algorithm": "md5",
                            "orderCallbackUrl": "https://a", "callCallbackUrl": "https://b"},
                "nxlink": {"credentialsSecretRef": {"name": "s"}},
                "timeoutSeconds": "30",
                "rateLimit": {"requestsPerSecond": 0},
                "colour": "blue"
            }
        });
        let found: Vec<String> = check("CallProvider", &provider)
            .into_iter()
            .map(|v| format!("{}: {}", v.path, v.message))
            .collect();
        let expect = [
            "spec.callbot.algorithm: \"md5\" is not allowed; use one of \"MD5\", \"SHA256\"",
            "spec.nxlink: set region (HK, AMER or IDN) or endpoint",
            "spec.timeoutSeconds: wrong type: expected integer, found string \"30\"",
            "spec.rateLimit.requestsPerSecond: 0 is less than the minimum 1",
            "spec.colour: unknown field \"colour\"",
            "spec: exactly one of longlonglong, callbot or nxlink must be set",
        ];
        for e in expect {
            assert!(
                found.iter().any(|f| f.starts_with(e)),
                "missing {e:?} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
    }
}
