//! What the fuzz tests (`tests/fuzz.rs` of each function) generate: the function's real sample
//! events from `events/`, mutated the ways events go wrong. Fields removed, retyped, duplicated
//! or oversized anywhere in the event; for HTTP events also arbitrary bodies, headers, paths,
//! methods and base64 flags that lie; for SQS batches, records mutated one by one among
//! well-formed ones.
//!
//! The number of cases comes from `PROPTEST_CASES` (proptest's default, 256, in `make test`;
//! `make fuzz` runs 100,000 per handler).

pub mod expected;
#[cfg(feature = "jwt")]
pub mod jwt;
#[cfg(feature = "tls")]
pub mod tls;

use std::future::Future;

use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Request, Response};
use lambda_kit::sqs::{BatchError, SqsBatchResponse, SqsMessage};
use lambda_runtime::{Context, LambdaEvent};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value, json};

/// The fuzz tests' configuration: `PROPTEST_CASES` cases, no failure files written into the
/// source tree (a failure prints its input, which then becomes a regular test).
pub fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

/// `events/<function>/` at the top of the workspace: where a function's sample events are.
pub fn events_dir(function: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(function)
}

/// A sample event from `events/<function>/<name>.json`.
pub fn sample_event(function: &str, name: &str) -> Value {
    let path = events_dir(function).join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Any JSON value, nested a few levels.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z_]{1,12}", inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Every path to a value inside `value` (object keys and array indexes), the root excluded.
pub fn paths(value: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    prefix.push(Step::Key(key.clone()));
                    out.push(prefix.clone());
                    walk(child, prefix, out);
                    prefix.pop();
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    prefix.push(Step::Index(index));
                    out.push(prefix.clone());
                    walk(child, prefix, out);
                    prefix.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// How one event is damaged.
#[derive(Debug, Clone)]
pub enum Mutation {
    Keep,
    Remove,
    Retype(Value),
    /// The key appears twice in its object (only expressible in the JSON text).
    Duplicate(Value),
    /// A string of this many characters in place of the value.
    Oversize(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => Just(Mutation::Keep),
        3 => Just(Mutation::Remove),
        4 => any_json().prop_map(Mutation::Retype),
        2 => any_json().prop_map(Mutation::Duplicate),
        1 => prop_oneof![Just(70_000usize), Just(300_000usize), 1_000usize..5_000].prop_map(Mutation::Oversize),
    ]
}

/// `event` as JSON text with one mutation at one of its paths.
pub fn mutated(event: Value) -> impl Strategy<Value = String> {
    let paths = paths(&event);
    let count = paths.len().max(1);
    (0..count, mutation()).prop_map(move |(index, mutation)| match paths.get(index) {
        Some(path) => apply(&event, path, &mutation),
        None => event.to_string(),
    })
}

/// Applies `mutation` at `path` and returns the JSON text.
pub fn apply(event: &Value, path: &[Step], mutation: &Mutation) -> String {
    let mut event = event.clone();
    let Some((last, parent_path)) = path.split_last() else {
        return event.to_string();
    };
    let Some(parent) = pointer_mut(&mut event, parent_path) else {
        return event.to_string();
    };
    match (mutation, last, parent) {
        (Mutation::Keep, _, _) => {}
        (Mutation::Remove, Step::Key(key), Value::Object(map)) => {
            map.remove(key);
        }
        (Mutation::Remove, Step::Index(index), Value::Array(items)) => {
            items.remove(*index);
        }
        (Mutation::Retype(value), Step::Key(key), Value::Object(map)) => {
            map.insert(key.clone(), value.clone());
        }
        (Mutation::Retype(value), Step::Index(index), Value::Array(items)) => items[*index] = value.clone(),
        (Mutation::Oversize(length), Step::Key(key), Value::Object(map)) => {
            map.insert(key.clone(), Value::String("x".repeat(*length)));
        }
        (Mutation::Oversize(length), Step::Index(index), Value::Array(items)) => {
            items[*index] = Value::String("x".repeat(*length))
        }
        (Mutation::Duplicate(value), Step::Key(key), Value::Object(map)) => {
            // Mark the object, serialize, then put the second copy of the key in the text.
            const MARK: &str = "__duplicate_of_the_next_key__";
            let mut marked = Map::new();
            for (name, child) in std::mem::take(map) {
                if &name == key {
                    marked.insert(MARK.to_owned(), value.clone());
                }
                marked.insert(name, child);
            }
            *map = marked;
            let text = event.to_string();
            return text.replacen(
                &format!("\"{MARK}\""),
                &serde_json::to_string(key).unwrap_or_default(),
                1,
            );
        }
        _ => {}
    }
    event.to_string()
}

fn pointer_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |value, step| match (step, value) {
        (Step::Key(key), Value::Object(map)) => map.get_mut(key),
        (Step::Index(index), Value::Array(items)) => items.get_mut(*index),
        _ => None,
    })
}

/// What a client controls in an HTTP request, varied: body, headers, path, query, method and
/// the base64 flag. `event` is an API Gateway proxy event (payload 1.0 or 2.0).
pub fn http_request(event: Value) -> impl Strategy<Value = Value> {
    let body = prop_oneof![
        Just(None),
        any_json().prop_map(|json| Some(json.to_string())),
        prop::collection::vec(any::<u8>(), 0..256).prop_map(|bytes| Some(String::from_utf8_lossy(&bytes).into_owned())),
        ".{0,64}".prop_map(Some),
        (0usize..4).prop_map(|kind| Some(["{", "[1,", "{\"a\":}", "\u{0}"][kind].to_owned())),
    ];
    // Header values a client can get through API Gateway: printable ASCII (it refuses control
    // characters). Damaged values beyond that are among the structural mutations.
    let header = prop_oneof![
        Just(("content-type".to_owned(), "application/json".to_owned())),
        "[ -~]{0,40}".prop_map(|value| ("content-type".to_owned(), value)),
        "application/json;[ -~]{0,20}".prop_map(|value| ("content-type".to_owned(), value)),
        "[ -~]{0,70}".prop_map(|value| ("idempotency-key".to_owned(), value)),
        "[ -~]{0,20}".prop_map(|value| ("content-length".to_owned(), value)),
        ("[a-zA-Z-]{1,20}", "[ -~]{0,40}"),
    ];
    let method = prop_oneof![
        Just("GET"),
        Just("POST"),
        Just("PUT"),
        Just("DELETE"),
        Just("PATCH"),
        Just("OPTIONS"),
        Just("HEAD"),
        Just("BREW")
    ];
    let path = prop_oneof![
        Just(None),
        "(/[a-zA-Z0-9%._~{}-]{0,12}){0,4}".prop_map(Some),
        ".{0,40}".prop_map(Some),
    ];
    (
        prop::option::of(body),
        prop::collection::vec(header, 0..4),
        prop::option::of(method),
        path,
        prop::option::of(any::<bool>()),
        prop::option::of(".{0,30}"),
    )
        .prop_map(move |(body, headers, method, path, base64, query)| {
            let mut event = event.clone();
            if let Some(body) = body {
                event["body"] = body.map_or(Value::Null, Value::String);
            }
            for (name, value) in headers {
                if let Some(map) = event["headers"].as_object_mut() {
                    map.insert(name, Value::String(value));
                }
            }
            if let Some(method) = method {
                if event["requestContext"]["http"].is_object() {
                    event["requestContext"]["http"]["method"] = json!(method);
                } else {
                    event["httpMethod"] = json!(method);
                }
            }
            if let Some(path) = path {
                if event.get("rawPath").is_some() {
                    event["rawPath"] = json!(path);
                } else {
                    event["path"] = json!(path);
                }
            }
            if let Some(flag) = base64 {
                event["isBase64Encoded"] = json!(flag);
            }
            if let Some(query) = query.filter(|_| event.get("rawQueryString").is_some()) {
                event["rawQueryString"] = json!(query);
            }
            event
        })
}

/// An HTTP event from `samples`: a client's variation, then maybe one structural mutation.
pub fn http_event(samples: Vec<Value>) -> impl Strategy<Value = String> {
    prop::sample::select(samples)
        .prop_flat_map(http_request)
        .prop_flat_map(|event| prop_oneof![1 => Just(event.to_string()), 1 => mutated(event)])
}

/// An SQS record as the test wants it: well-formed, or damaged in one place.
#[derive(Debug, Clone)]
pub struct FuzzRecord {
    pub message_id: Option<String>,
    pub text: String,
    /// Whether the record still holds a usable `messageId` (one non-empty string).
    pub identifiable: bool,
}

/// SQS batches built from the records of the sample event `events/<function>/<name>.json`: its
/// first record as the template, its bodies as the valid ones (see [`sqs_batch`]).
pub fn sqs_batches_like(function: &str, name: &str) -> impl Strategy<Value = (String, Vec<FuzzRecord>)> {
    let sample = sample_event(function, name);
    let records = sample["Records"].as_array().cloned().unwrap_or_default();
    let bodies = records
        .iter()
        .filter_map(|r| r["body"].as_str().map(str::to_owned))
        .collect();
    sqs_batch(records.first().cloned().unwrap_or_default(), sqs_bodies(bodies))
}

/// Message bodies: the `valid` ones as they are, damaged, or not even JSON.
pub fn sqs_bodies(valid: Vec<String>) -> BoxedStrategy<String> {
    let parsed: Vec<Value> = valid
        .iter()
        .filter_map(|body| serde_json::from_str(body).ok())
        .collect();
    prop_oneof![
        3 => prop::sample::select(valid),
        3 => prop::sample::select(parsed).prop_flat_map(mutated),
        1 => any_json().prop_map(|value| value.to_string()),
        1 => ".{0,64}",
    ]
    .boxed()
}

/// The batch properties every SQS consumer keeps, whatever its records hold:
/// - one record never fails the whole batch, unless it has no usable `messageId` (then nothing
///   can report it alone);
/// - every record is reported by its own `messageId` exactly when it could not be processed: it
///   is not an SQS message, or `is_poison` says its body is unusable. (The stores behind the
///   fuzzed handlers accept everything, so nothing else fails.)
pub fn check_batch(
    records: &[FuzzRecord],
    outcome: &Result<SqsBatchResponse, BatchError>,
    is_poison: impl Fn(Option<&str>) -> bool,
) -> Result<(), TestCaseError> {
    let all_identifiable = records.iter().all(|record| record.identifiable);
    let response = match outcome {
        Err(error) => {
            prop_assert!(
                !all_identifiable,
                "whole batch failed ({error}) though every record has its id"
            );
            return Ok(());
        }
        Ok(response) => response,
    };
    prop_assert!(
        all_identifiable,
        "a record without a usable messageId must fail the batch"
    );
    let reported: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_str())
        .collect();
    let mut unique = reported.clone();
    unique.sort_unstable();
    unique.dedup();
    prop_assert_eq!(unique.len(), reported.len(), "a record reported twice: {:?}", reported);
    for record in records {
        let id = record.message_id.as_deref().unwrap_or_default();
        let expected = match serde_json::from_str::<SqsMessage>(&record.text) {
            Err(_) => true,
            Ok(message) => is_poison(message.body.as_deref()),
        };
        prop_assert_eq!(reported.contains(&id), expected, "record {}: {}", id, record.text);
    }
    for id in &reported {
        prop_assert!(
            records.iter().any(|r| r.message_id.as_deref() == Some(*id)),
            "unknown id reported: {}",
            id
        );
    }
    Ok(())
}

/// An SQS batch of 1..=10 records built from `template` (one record of a sample event), each
/// with its own `messageId` and one of `bodies`, and some records mutated.
pub fn sqs_batch(template: Value, bodies: BoxedStrategy<String>) -> impl Strategy<Value = (String, Vec<FuzzRecord>)> {
    let record = (bodies, any::<bool>(), any::<u32>()).prop_flat_map(move |(body, damage, id)| {
        let mut record = template.clone();
        record["messageId"] = json!(format!("fuzz-{id:08x}"));
        record["body"] = json!(body);
        let text = if damage {
            mutated(record).boxed()
        } else {
            Just(record.to_string()).boxed()
        };
        text.prop_map(|text| {
            let message_id = identity(&text);
            FuzzRecord {
                identifiable: message_id.is_some(),
                message_id,
                text,
            }
        })
    });
    prop::collection::vec(record, 1..=10).prop_map(|mut records| {
        // Ids unique within the batch, as SQS makes them: each record gets its index appended
        // to its id, and a record whose id a mutation turned into another's is left out.
        for (index, record) in records.iter_mut().enumerate() {
            if let Some(id) = record.message_id.as_deref().filter(|id| id.starts_with("fuzz-")) {
                let unique = format!("{id}-{index}");
                record.text = record.text.replacen(id, &unique, 1);
                record.message_id = identity(&record.text);
                record.identifiable = record.message_id.is_some();
            }
        }
        let mut seen = std::collections::HashSet::new();
        records.retain(|record| record.message_id.as_ref().is_none_or(|id| seen.insert(id.clone())));
        let texts: Vec<&str> = records.iter().map(|r| r.text.as_str()).collect();
        (format!("{{\"Records\":[{}]}}", texts.join(",")), records)
    })
}

/// The record's `messageId` if it has exactly one, a non-empty string.
fn identity(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        #[serde(rename = "messageId")]
        message_id: String,
    }
    serde_json::from_str::<Id>(text)
        .ok()
        .map(|id| id.message_id)
        .filter(|id| !id.is_empty())
}

/// The answer an HTTP function sends to the event `text`, through the same path as the
/// deployed function (`lambda_kit::http::answer`), or `None` where the runtime could not even
/// deserialize the event (it then reports an invocation error).
pub fn http_answer<F, Fut>(text: &str, handler: F) -> Option<Value>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    let request: LambdaRequest = serde_json::from_str(text).ok()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let answer = runtime
        .block_on(lambda_kit::http::answer(
            LambdaEvent::new(request, Context::default()),
            handler,
        ))
        .unwrap_or_else(|never| match never {});
    Some(serde_json::to_value(answer).expect("an answer serializes"))
}

/// An HTTP answer is never a 5xx (the stores behind the fuzzed handlers accept everything, so a
/// 5xx could only be the handler's fault), and every 4xx is a problem document of that status.
pub fn check_http_answer(answer: &Value) -> Result<(), TestCaseError> {
    let status = answer["statusCode"].as_u64().unwrap_or(0);
    prop_assert!((200..500).contains(&status), "status {status}: {answer}");
    if status >= 400 {
        // Payload 2.0 answers carry `headers`; REST (1.0) answers `multiValueHeaders`.
        let content_type = answer["headers"]["content-type"]
            .as_str()
            .or_else(|| answer["multiValueHeaders"]["content-type"][0].as_str())
            .unwrap_or_default();
        prop_assert_eq!(content_type, "application/problem+json");
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap_or_default()).unwrap_or_default();
        prop_assert_eq!(body["status"].as_u64(), Some(status));
    }
    Ok(())
}

/// The two properties every HTTP handler of the kit holds, over its sample events: a request a
/// client can produce (anything in the body, headers, path, method, query) always reaches the
/// handler and gets an answer that passes [`check_http_answer`]; a damaged event (the event's
/// own structure broken) never panics, and what is answered passes it too. `answer` is
/// [`http_answer`] over the handler with stores that accept everything.
pub fn check_http_properties(samples: Vec<Value>, answer: impl Fn(&str) -> Option<Value>) {
    let mut runner = proptest::test_runner::TestRunner::new(config());
    let requests = prop::sample::select(samples.clone()).prop_flat_map(http_request);
    runner
        .run(&requests, |event| {
            let answered = answer(&event.to_string());
            prop_assert!(answered.is_some(), "a client's request must reach the handler: {event}");
            check_http_answer(&answered.unwrap_or_default())
        })
        .unwrap_or_else(|failure| panic!("a client's request: {failure}"));
    runner
        .run(&http_event(samples), |text| match answer(&text) {
            Some(answered) => check_http_answer(&answered),
            None => Ok(()),
        })
        .unwrap_or_else(|failure| panic!("a damaged event: {failure}"));
}

/// The answer an HTTP function sends on the wire to the event `text` (what `sam local invoke`
/// prints), through the same path as the deployed function (`lambda_kit::http::answer`).
pub async fn wire_answer<F, Fut>(text: &str, context: Context, handler: F) -> Value
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    let request: LambdaRequest =
        serde_json::from_str(text).unwrap_or_else(|error| panic!("not an HTTP event: {error}"));
    let answer = lambda_kit::http::answer(LambdaEvent::new(request, context), handler)
        .await
        .unwrap_or_else(|never| match never {});
    serde_json::to_value(answer).expect("an answer serializes")
}

/// Every sample event of the HTTP function `function` through `handler` (twice where its
/// expectation has `again`), each answer checked against `tests/expected/<function>.json`.
/// Returns each event's name and first answer, for the function's own further checks.
pub async fn check_http_sample_events<F, Fut>(
    function: &str,
    context: fn() -> Context,
    handler: F,
) -> Vec<(String, Value)>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    let expectations = expected::Expectations::of(function);
    let mut answers = Vec::new();
    for expected in &expectations.events {
        let text = expectations.event_text(&expected.event);
        let answer = wire_answer(&text, context(), &handler).await;
        expected.check(&answer);
        if expected.again.is_some() {
            let again = wire_answer(&text, context(), &handler).await;
            expected.check_again(&answer, &again);
        }
        answers.push((expected.event.clone(), answer));
    }
    answers
}

/// Checks the answer to a sample event lambda_http cannot turn into a request
/// (`events/<function>/malformed-event-*.json`): a 400 `malformed-event` problem, not a failed
/// invocation.
pub async fn assert_malformed_event_answer<F, Fut>(function: &str, file: &str, handler: F)
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    let path = events_dir(function).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let request: LambdaRequest = serde_json::from_str(&text).unwrap_or_else(|error| panic!("{file}: {error}"));
    let answer = lambda_kit::http::answer(LambdaEvent::new(request, Context::default()), handler)
        .await
        .unwrap_or_else(|never| match never {});
    let answer = serde_json::to_value(answer).expect("an answer serializes");
    assert_eq!(answer["statusCode"], 400, "{file}: {answer}");
    let problem: Value = serde_json::from_str(answer["body"].as_str().unwrap_or_default()).expect("a problem document");
    assert_eq!(problem["type"], "/problems/malformed-event", "{file}");
}

/// Stops a test that would otherwise talk to a real AWS account: the integration tests run only
/// against the local AWS, which `make test` (and `make sam-local`, on the Docker bridge's
/// address) describe with a plain-http `AWS_ENDPOINT_URL` on a loopback or private address.
pub fn assert_local_aws() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let host = endpoint
        .strip_prefix("http://")
        .and_then(|rest| rest.split(':').next())
        .and_then(|host| host.parse::<std::net::Ipv4Addr>().ok());
    assert!(
        host.is_some_and(|ip| ip.is_loopback() || ip.is_private()),
        "these tests need the local AWS (moto) and never run against a real account: run them with `make test`, \
         or `make up` and then `make test-rust` (AWS_ENDPOINT_URL is {endpoint:?})"
    );
}

/// Checks that template.yaml routes to `function` exactly the routes of its table (`keys`, as
/// `lambda_kit::http::Routes::keys` gives them), and sends it every other method and path under
/// each of them (`ANY` routes), so that those get the table's 405 and 404.
///
/// The template's routes come from the local stack (`LOCAL_HTTP_ROUTES`, route keys by binary),
/// which reads them through SAM's own translation of the template, as API Gateway gets them.
pub fn assert_template_routes(function: &str, keys: impl IntoIterator<Item = String>) {
    let all = std::env::var("LOCAL_HTTP_ROUTES")
        .expect("LOCAL_HTTP_ROUTES (the template's routes) is set by the local stack: run this with `make test`");
    let routes: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(&all).expect("LOCAL_HTTP_ROUTES is a JSON object of route keys by binary");
    let template = routes.get(function).cloned().unwrap_or_default();
    let (any, explicit): (Vec<String>, Vec<String>) = template.into_iter().partition(|key| key.starts_with("ANY "));
    let table: std::collections::BTreeSet<String> = keys.into_iter().collect();
    assert_eq!(
        explicit.into_iter().collect::<std::collections::BTreeSet<_>>(),
        table,
        "template.yaml's routes to {function} (left) and its route table (right)"
    );
    for key in &table {
        let path = key.split_once(' ').map_or("", |(_, path)| path);
        let reached = any.iter().filter_map(|key| key.strip_prefix("ANY ")).any(|any| {
            any == path
                || any
                    .strip_suffix("/{proxy+}")
                    .is_some_and(|prefix| path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')))
        });
        assert!(
            reached,
            "template.yaml sends {function} no ANY route for {path}: its 405s would be API Gateway's 404s"
        );
    }
}

/// An order by its contract (`contracts::order::Order`), priced at the default 20 % tax: what a
/// test seeds where it reads orders.
pub fn contract_order(
    id: &str,
    customer_id: &str,
    currency: &str,
    lines: &[(&str, u64, u64)],
) -> contracts::order::Order {
    let items: Vec<contracts::order::OrderLine> = lines
        .iter()
        .map(|(sku, quantity, unit_price)| contracts::order::OrderLine {
            sku: (*sku).to_owned(),
            quantity: *quantity,
            unit_price: *unit_price,
            line_total: quantity * unit_price,
        })
        .collect();
    let subtotal: u64 = items.iter().map(|line| line.line_total).sum();
    let tax = (subtotal * 2_000 + 5_000) / 10_000;
    contracts::order::Order {
        id: id.to_owned(),
        customer_id: customer_id.to_owned(),
        currency: currency.to_owned(),
        items,
        subtotal,
        tax_rate_basis_points: 2_000,
        tax,
        total: subtotal + tax,
        created_at: chrono::Utc::now(),
    }
}

/// Whether a subscriber that reads events by their contracts must report `body` as poison: not
/// an event (nor an SNS control message), or a known event whose data breaks its contract.
pub fn is_poison_event(body: Option<&str>) -> bool {
    match contracts::parse_incoming(body.unwrap_or_default()) {
        Err(_) => true,
        Ok(contracts::Incoming::Control(_)) => false,
        Ok(contracts::Incoming::Event(event)) => contracts::Event::read(&event).is_err(),
    }
}
