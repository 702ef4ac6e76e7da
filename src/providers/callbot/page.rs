//! A `listOrder` answer read straight from its bytes: only the fields the listing uses are kept
//! (`retCode`/`code`, `retMsg`/`msg`, `totalCount`, the rows' `orderID`, `userPhone`, `finish`,
//! `callStatus`), every other field is skipped without being built. Reading a page into a
//! `serde_json::Value` allocated a map and a string for each of a row's nine or so fields; a
//! full listing reads every contact of the task (BENCHMARKS.md "Listing cost").
//!
//! Same reading as the `Value` path (`answers::parse_answer`, `answers::order_row`): the same
//! errors, in the same order, naming the same JSON kinds; a row's error is kept and raised only
//! when the listing reaches that row.
use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use super::answers::{OrderRow, ret_code_error, row_state};
use crate::providers::http::Response;
use crate::providers::{ProviderError, TaskRef, sanitize};

/// A field as the listing reads it: the scalar, or only the kind of a list or object.
#[derive(Debug, Clone, PartialEq)]
enum Field<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Text(Cow<'a, str>),
    List,
    Object,
}

impl Field<'_> {
    /// As `answers::kind` names it.
    fn kind(&self) -> &'static str {
        match self {
            Field::Null => "null",
            Field::Bool(_) => "a boolean",
            Field::Number(_) => "a number",
            Field::Text(_) => "text",
            Field::List => "a list",
            Field::Object => "an object",
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Field::Number(n) => n.as_i64(),
            _ => None,
        }
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Field<'de>, E> {
        Ok(Field::Null)
    }
    fn visit_none<E>(self) -> Result<Field<'de>, E> {
        Ok(Field::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Field<'de>, E> {
        Ok(Field::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Field<'de>, E> {
        Ok(Field::Number(v.into()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Field<'de>, E> {
        Ok(Field::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Field<'de>, E> {
        // JSON has no NaN or infinity; serde_json's Value would refuse them the same way.
        Number::from_f64(v)
            .map(Field::Number)
            .ok_or_else(|| E::custom("a number JSON cannot hold"))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Field<'de>, E> {
        Ok(Field::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Field<'de>, E> {
        Ok(Field::Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Field<'de>, E> {
        Ok(Field::Text(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::List)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Object)
    }
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

/// A map key, borrowed when the JSON has no escapes in it.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde's own `Cow<str>` always copies; this borrows.
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// One row: the order, or why it is not one (no phone in the message).
type RowRead = Result<OrderRow, String>;

struct Row(RowRead);

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an order")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
                let (mut id, mut phone, mut finish, mut status) = (None, None, None, None);
                while let Some(Key(key)) = map.next_key::<Key>()? {
                    // The last of a repeated key counts, as in a `Value`.
                    let slot = match key.as_ref() {
                        "orderID" => &mut id,
                        "userPhone" => &mut phone,
                        "finish" => &mut finish,
                        "callStatus" => &mut status,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value::<Field>()?);
                }
                Ok(Row(order(id, phone, finish, status)))
            }
            // Not an object: remember its kind for the error.
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Row, A::Error> {
                FieldVisitor.visit_seq(seq).map(not_an_order)
            }
            fn visit_unit<E>(self) -> Result<Row, E> {
                Ok(not_an_order(Field::Null))
            }
            fn visit_none<E>(self) -> Result<Row, E> {
                Ok(not_an_order(Field::Null))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Row, E> {
                Ok(not_an_order(Field::Bool(v)))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Row, E> {
                Ok(not_an_order(Field::Number(0.into())))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Row, E> {
                Ok(not_an_order(Field::Number(0.into())))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Row, E> {
                Ok(not_an_order(Field::Number(0.into())))
            }
            fn visit_str<E>(self, _: &str) -> Result<Row, E> {
                Ok(not_an_order(Field::Text(Cow::Borrowed(""))))
            }
        }
        d.deserialize_any(RowVisitor)
    }
}

fn not_an_order(field: Field<'_>) -> Row {
    Row(Err(format!("a row is {}, not an order", field.kind())))
}

/// `answers::order_row` on the fields read.
fn order(
    id: Option<Field<'_>>,
    phone: Option<Field<'_>>,
    finish: Option<Field<'_>>,
    status: Option<Field<'_>>,
) -> RowRead {
    let phone = match phone {
        Some(Field::Text(s)) if !s.is_empty() => s.into_owned(),
        Some(Field::Number(n)) => n.to_string(),
        Some(other) if !matches!(other, Field::Text(_)) => {
            return Err(format!("userPhone is {}, not a phone", other.kind()));
        }
        _ => return Err("a row has no userPhone".into()),
    };
    let order_id = match id {
        None | Some(Field::Null) => None,
        Some(Field::Text(s)) => Some(s.into_owned()).filter(|id| !id.is_empty()),
        Some(Field::Number(n)) => Some(n.to_string()),
        Some(other) => return Err(format!("orderID is {}, not an id", other.kind())),
    };
    let finish = finish.and_then(|f| match f {
        Field::Bool(b) => Some(b),
        other => other.as_i64().map(|n| n == 1),
    });
    let state = row_state(finish, status.and_then(|s| s.as_i64()));
    Ok(OrderRow {
        order_id,
        phone,
        state,
    })
}

/// The rows field: left out, null, a list of rows, or something else (its kind).
enum Rows {
    Null,
    List(Vec<RowRead>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RowsVisitor;
        impl<'de> Visitor<'de> for RowsVisitor {
            type Value = Rows;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of orders")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Rows, A::Error> {
                let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(Row(row)) = seq.next_element::<Row>()? {
                    rows.push(row);
                }
                Ok(Rows::List(rows))
            }
            fn visit_unit<E>(self) -> Result<Rows, E> {
                Ok(Rows::Null)
            }
            fn visit_none<E>(self) -> Result<Rows, E> {
                Ok(Rows::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Rows, A::Error> {
                FieldVisitor.visit_map(map).map(|f| Rows::Other(f.kind()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Rows, E> {
                Ok(Rows::Other("a boolean"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Rows, E> {
                Ok(Rows::Other("a number"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Rows, E> {
                Ok(Rows::Other("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Rows, E> {
                Ok(Rows::Other("a number"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Rows, E> {
                Ok(Rows::Other("text"))
            }
        }
        d.deserialize_any(RowsVisitor)
    }
}

/// A `listOrder` page whose `retCode` is 0.
#[derive(Debug)]
pub(super) struct Page {
    /// `totalCount`: a count, or the kind of what was there instead; `None` when left out.
    pub(super) total: Option<Result<u64, &'static str>>,
    /// The first of `orderList`, `list`, `data` that is there and not null: its rows, or its
    /// kind when it is no list; `None` when none is.
    pub(super) rows: Option<Result<Vec<RowRead>, &'static str>>,
}

/// The whole answer, fields as read.
struct Answer<'a> {
    ret_code: Option<Field<'a>>,
    code: Option<Field<'a>>,
    ret_msg: Option<Field<'a>>,
    msg: Option<Field<'a>>,
    total: Option<Field<'a>>,
    /// `orderList`, `list`, `data`.
    rows: [Option<Rows>; 3],
}

/// The answer, or the kind of the JSON value it is when not an object.
struct Top<'a>(Result<Answer<'a>, &'static str>);

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = Top<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an answer")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
                let mut a = Answer {
                    ret_code: None,
                    code: None,
                    ret_msg: None,
                    msg: None,
                    total: None,
                    rows: [None, None, None],
                };
                while let Some(Key(key)) = map.next_key::<Key>()? {
                    let slot = match key.as_ref() {
                        "retCode" => &mut a.ret_code,
                        "code" => &mut a.code,
                        "retMsg" => &mut a.ret_msg,
                        "msg" => &mut a.msg,
                        "totalCount" => &mut a.total,
                        "orderList" | "list" | "data" => {
                            let i = ["orderList", "list", "data"]
                                .iter()
                                .position(|k| *k == key.as_ref())
                                .unwrap_or(0);
                            a.rows[i] = Some(map.next_value::<Rows>()?);
                            continue;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value::<Field>()?);
                }
                Ok(Top(Ok(a)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Top<'de>, A::Error> {
                FieldVisitor.visit_seq(seq).map(|f| Top(Err(f.kind())))
            }
            fn visit_unit<E>(self) -> Result<Top<'de>, E> {
                Ok(Top(Err("null")))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Top<'de>, E> {
                Ok(Top(Err("a boolean")))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Top<'de>, E> {
                Ok(Top(Err("a number")))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Top<'de>, E> {
                Ok(Top(Err("a number")))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Top<'de>, E> {
                Ok(Top(Err("a number")))
            }
            fn visit_str<E>(self, _: &str) -> Result<Top<'de>, E> {
                Ok(Top(Err("text")))
            }
        }
        d.deserialize_any(TopVisitor)
    }
}

/// `answers::parse_answer` for a `listOrder` answer: the same checks of the HTTP status, the
/// JSON and `retCode`, then the page.
pub(super) fn parse_page(
    endpoint: &str,
    response: Response,
    task: Option<&TaskRef>,
) -> Result<Page, ProviderError> {
    let top: Top = serde_json::from_slice(&response.body)
        .map_err(|e| super::answers::not_json(endpoint, &response, &e))?;
    let answer = top.0.map_err(|kind| ProviderError::InvalidResponse {
        endpoint: endpoint.to_owned(),
        detail: format!("the answer is {kind}, not an object"),
    })?;
    let code = answer.ret_code.or(answer.code).and_then(|c| match c {
        Field::Text(s) => s.parse().ok(),
        other => other.as_i64(),
    });
    let message = match answer.ret_msg.or(answer.msg) {
        Some(Field::Text(s)) => sanitize(&s),
        _ => sanitize(""),
    };
    ret_code_error(endpoint, code, message, task)?;
    let [order_list, list, data] = answer.rows;
    let rows = [order_list, list, data]
        .into_iter()
        .flatten()
        .find(|r| !matches!(r, Rows::Null))
        .map(|r| match r {
            Rows::List(rows) => Ok(rows),
            Rows::Other(kind) => Err(kind),
            Rows::Null => Err("null"),
        });
    Ok(Page {
        total: answer.total.map(|t| match t {
            Field::Number(n) => n.as_u64().ok_or("a number"),
            other => Err(other.kind()),
        }),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::providers::callbot::answers::{kind, order_row, parse_answer};

    fn response(body: &[u8]) -> Response {
        Response {
            status: reqwest::StatusCode::OK,
            headers: reqwest::header::HeaderMap::new(),
            body: body.to_vec(),
        }
    }

    /// What the `Value` path makes of the same bytes: the answer's error, or totalCount and
    /// the rows as `list_pages` read them.
    type Reading = Result<
        (
            Option<Result<u64, String>>,
            Option<Result<Vec<RowRead>, String>>,
        ),
        String,
    >;

    fn by_value(body: &[u8]) -> Reading {
        let answer = parse_answer("e", response(body), None).map_err(|e| e.to_string())?;
        let body = answer.body;
        let total = body
            .get("totalCount")
            .map(|v| v.as_u64().ok_or_else(|| kind(v).to_owned()));
        let rows = ["orderList", "list", "data"]
            .iter()
            .find_map(|k| body.get(*k).filter(|v| !v.is_null()))
            .map(|v| match v {
                Value::Array(items) => Ok(items.iter().map(order_row).collect()),
                other => Err(kind(other).to_owned()),
            });
        Ok((total, rows))
    }

    fn by_page(body: &[u8]) -> Reading {
        let page = parse_page("e", response(body), None).map_err(|e| e.to_string())?;
        Ok((
            page.total.map(|t| t.map_err(str::to_owned)),
            page.rows.map(|r| r.map_err(str::to_owned)),
        ))
    }

    #[test]
    fn reads_pages_as_the_value_path_does() {
        let cases = [
            json!({"retCode": 0, "totalCount": 2, "orderList": [
                {"orderID": "o1", "userPhone": "8613012121211", "finish": false, "callStatus": 0,
                 "userName": "n", "other": {"a": [1, 2]}, "batchID": "1"},
                {"orderID": 7, "userPhone": 8613012121212u64, "finish": 1, "callStatus": 2}]}),
            json!({"retCode": "0", "totalCount": 1, "list": [{"userPhone": "86 130", "finish": true}]}),
            json!({"code": 0, "totalCount": 3, "orderList": null, "data": [
                [1], 5, "x", null, {"userPhone": ""}, {"userPhone": [1]}, {"userPhone": {}},
                {"userPhone": "1", "orderID": true}, {"userPhone": "1", "orderID": ""},
                {"userPhone": 8.6e12, "callStatus": 1.0, "finish": 2},
                {"userPhone": "1", "userPhone": "2", "callStatus": 9}]}),
            json!({"retCode": 0, "totalCount": -1, "orderList": {"a": 1}}),
            json!({"retCode": 0, "totalCount": 1.5, "list": "rows"}),
            json!({"retCode": 0, "totalCount": "3"}),
            json!({"retCode": 0}),
            json!({"retCode": 5, "retMsg": "busy"}),
            json!({"retCode": 4, "retMsg": "参数值错误: userTaskID does not exist"}),
            json!({"retCode": null, "code": 0}),
            json!({"msg": "no code"}),
            json!([1, 2]),
            json!("text"),
            json!(null),
        ];
        for case in cases {
            let bytes = serde_json::to_vec(&case).expect("json");
            assert_eq!(by_page(&bytes), by_value(&bytes), "{case}");
        }
        for raw in [
            &b"{\"retCode\": 0, \"totalCount\": 1, \"orderList\": [{\"userPhone\": \"8\\u0036\"}]}"
                [..],
            b"not json",
            b"{\"retCode\": 0,",
        ] {
            assert_eq!(
                by_page(raw),
                by_value(raw),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
