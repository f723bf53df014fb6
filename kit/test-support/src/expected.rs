//! The expected answers to the sample events: `tests/expected/<function>.json`, one source read
//! by the Rust sample-event tests (answers of the handler in-process) and by `make sam-local`
//! (answers of the `sam build` artifact under SAM's emulator, `tools/sam_local/sam_local.py`).
//!
//! An expectation names JSON Pointers into the answer as the function sends it on the wire and
//! the value each must have. For an HTTP answer (`statusCode`, `headers` or `multiValueHeaders`,
//! `body`), `/headers/<name>` is the header's (first) value by lower-case name and `/body/...`
//! points into the body read as JSON. A value is matched exactly, except an object
//! `{"$starts_with": "..."}` (a string prefix), `{"$absent": true}` (nothing there) and, in `again`, `{"$same_as_first": true}` (the
//! first answer's value at the same pointer).

use std::path::PathBuf;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The expectations of one function.
#[derive(Debug, Deserialize)]
pub struct Expectations {
    #[serde(skip)]
    function: String,
    /// Secrets the sample events were made with, by the template's logical id.
    #[serde(default)]
    pub secrets: Map<String, Value>,
    /// In the order the events are sent: later events may depend on earlier ones.
    pub events: Vec<Expected>,
}

/// The expected answer to one sample event.
#[derive(Debug, Deserialize)]
pub struct Expected {
    pub event: String,
    pub answer: Map<String, Value>,
    /// If present, the event is sent a second time and this is the second answer.
    #[serde(default)]
    pub again: Option<Map<String, Value>>,
}

impl Expectations {
    /// `tests/expected/<function>.json`; every file in `events/<function>/` must have an entry.
    pub fn of(function: &str) -> Self {
        let path = root().join("tests/expected").join(format!("{function}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let mut expectations: Self =
            serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        expectations.function = function.to_owned();
        let mut files: Vec<String> = std::fs::read_dir(root().join("events").join(function))
            .unwrap_or_else(|error| panic!("events/{function}: {error}"))
            .map(|entry| {
                entry
                    .expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        files.sort();
        let mut named: Vec<String> = expectations.events.iter().map(|e| e.event.clone()).collect();
        named.sort();
        assert_eq!(
            files,
            named,
            "every file in events/{function} needs exactly one entry in {}",
            path.display()
        );
        expectations
    }

    /// The sample event's text, as `sam local invoke -e` reads it.
    pub fn event_text(&self, event: &str) -> String {
        let path = root().join("events").join(&self.function).join(event);
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }

    /// A secret the sample events were made with (by the secret's logical id in the template).
    pub fn secret(&self, logical_id: &str) -> &str {
        self.secrets
            .get(logical_id)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("tests/expected/{}.json names no secret {logical_id}", self.function))
    }
}

impl Expected {
    /// Panics with every mismatch between `answer` and this expectation.
    pub fn check(&self, answer: &Value) {
        report(&self.event, mismatches(&self.answer, answer, None));
    }

    /// Checks the second answer to the same event against `again`.
    pub fn check_again(&self, first: &Value, second: &Value) {
        let again = self
            .again
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no `again` expectation", self.event));
        report(&self.event, mismatches(again, second, Some(first)));
    }
}

fn report(event: &str, mismatches: Vec<String>) {
    assert!(mismatches.is_empty(), "{event}:\n  {}", mismatches.join("\n  "));
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `answer` differs from `expected` (pointer → value); `first` is the answer that
/// `$same_as_first` refers to.
pub fn mismatches(expected: &Map<String, Value>, answer: &Value, first: Option<&Value>) -> Vec<String> {
    let answer = normalized(answer);
    let first = first.map(normalized);
    let mut found = Vec::new();
    for (pointer, want) in expected {
        let got = answer.pointer(pointer);
        let ok = match want.as_object().and_then(|o| o.iter().next().filter(|_| o.len() == 1)) {
            Some((op, prefix)) if op == "$starts_with" => got
                .and_then(Value::as_str)
                .zip(prefix.as_str())
                .is_some_and(|(got, prefix)| got.starts_with(prefix)),
            Some((op, absent)) if op == "$absent" => got.is_none() == (absent == &Value::Bool(true)),
            Some((op, _)) if op == "$same_as_first" => {
                got.is_some() && got == first.as_ref().and_then(|first| first.pointer(pointer))
            }
            _ => got == Some(want),
        };
        if !ok {
            found.push(format!(
                "{pointer}: expected {want}, got {}",
                got.unwrap_or(&Value::Null)
            ));
        }
    }
    found
}

/// An HTTP answer with one `headers` map (lower-case names, first values) and its body read as
/// JSON where it is JSON; any other answer as it is.
pub fn normalized(answer: &Value) -> Value {
    let Some(status) = answer.get("statusCode") else {
        return answer.clone();
    };
    let mut headers = Map::new();
    for (name, values) in answer["multiValueHeaders"].as_object().into_iter().flatten() {
        if let Some(first) = values.get(0) {
            headers.insert(name.to_ascii_lowercase(), first.clone());
        }
    }
    for (name, value) in answer["headers"].as_object().into_iter().flatten() {
        headers.insert(name.to_ascii_lowercase(), value.clone());
    }
    let text = answer["body"].as_str().unwrap_or_default();
    let bytes = if answer["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default()
    } else {
        text.as_bytes().to_vec()
    };
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    serde_json::json!({"statusCode": status, "headers": headers, "body": body})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expect(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn an_http_answer_is_matched_by_status_header_and_body_pointer() {
        let answer = json!({"statusCode": 201, "headers": {"Location": "/things/1"}, "body": "{\"total\": 3000}"});
        let ok =
            expect(json!({"/statusCode": 201, "/headers/location": {"$starts_with": "/things/"}, "/body/total": 3000}));
        assert!(mismatches(&ok, &answer, None).is_empty());
        let wrong = expect(json!({"/statusCode": 200, "/body/total": 3001, "/headers/allow": "GET"}));
        assert_eq!(mismatches(&wrong, &answer, None).len(), 3);
    }

    #[test]
    fn rest_api_headers_and_base64_bodies_are_read_too() {
        let answer = json!({"statusCode": 200, "multiValueHeaders": {"content-type": ["application/json"]},
            "body": "eyJpZCI6IDd9", "isBase64Encoded": true});
        let expected = expect(json!({"/headers/content-type": "application/json", "/body/id": 7}));
        assert!(mismatches(&expected, &answer, None).is_empty());
    }

    #[test]
    fn same_as_first_compares_with_the_first_answer() {
        let first = json!({"batchItemFailures": [], "id": "a"});
        let expected = expect(json!({"/id": {"$same_as_first": true}}));
        assert!(mismatches(&expected, &json!({"id": "a"}), Some(&first)).is_empty());
        assert_eq!(mismatches(&expected, &json!({"id": "b"}), Some(&first)).len(), 1);
        assert_eq!(
            mismatches(&expected, &json!({}), Some(&json!({}))).len(),
            1,
            "absent is no match"
        );
    }
}
