//! Metrics in CloudWatch's Embedded Metric Format (EMF): one JSON document per line on stdout,
//! which CloudWatch Logs turns into metrics as it ingests the function's log. Nothing is called
//! on the request path but a write to stdout: no `PutMetricData`, no client, no flush at the end.
//!
//! Every metric has the dimensions `function` (the function's name, `AWS_LAMBDA_FUNCTION_NAME`)
//! and `outcome` (what happened: `created`, `poison`, `delivered`, ...), in the namespace the
//! template sets in `METRICS_NAMESPACE` (its `MetricsNamespace` parameter). A document also
//! carries the invocation's X-Ray trace id (`xrayTraceId`, not a dimension) so a metric's log
//! line leads to its trace. Without `METRICS_NAMESPACE` nothing is written (unit tests, a
//! function run outside its template).
//!
//! [`count`] and [`milliseconds`] write one document each; a batch handler counts its records
//! first and writes one document per outcome, not one per record. The cold start of every
//! function is counted by [`crate::function::run`] (`ColdStart`, dimension `function` only).
//!
//! The format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
//! A small writer rather than a metrics facade crate: the documents are a few fields of JSON, and
//! a facade's global recorder and background flush are more than a Lambda function needs.

use std::io::Write;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The variable that names the namespace; metrics are off without it.
pub const NAMESPACE_VARIABLE: &str = "METRICS_NAMESPACE";

/// The unit of a metric, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One data point: a metric, its outcome (none for `ColdStart`), its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point<'a> {
    pub metric: &'a str,
    pub unit: Unit,
    pub outcome: Option<&'a str>,
    pub value: f64,
}

/// Where the documents go: the namespace and the function's name, read once per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    namespace: String,
    function: String,
}

static PROCESS: LazyLock<Option<Metrics>> = LazyLock::new(|| {
    let namespace = std::env::var(NAMESPACE_VARIABLE)
        .ok()
        .filter(|value| !value.is_empty())?;
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "unknown".into());
    Some(Metrics::new(namespace, function))
});

impl Metrics {
    pub fn new(namespace: impl Into<String>, function: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            function: function.into(),
        }
    }

    /// The process's metrics, or `None` when `METRICS_NAMESPACE` is not set.
    pub fn process() -> Option<&'static Metrics> {
        PROCESS.as_ref()
    }

    /// The EMF document of one point, as one line of JSON (no newline).
    pub fn document(&self, point: Point<'_>, timestamp_millis: u64, trace_id: Option<&str>) -> String {
        let dimensions: &[&str] = if point.outcome.is_some() {
            &["function", "outcome"]
        } else {
            &["function"]
        };
        let mut document = Map::new();
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_millis,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dimensions],
                    "Metrics": [{ "Name": point.metric, "Unit": point.unit.as_str() }],
                }],
            }),
        );
        document.insert("function".into(), Value::from(self.function.as_str()));
        if let Some(outcome) = point.outcome {
            document.insert("outcome".into(), Value::from(outcome));
        }
        document.insert(point.metric.into(), Value::from(point.value));
        if let Some(trace_id) = trace_id {
            document.insert("xrayTraceId".into(), Value::from(trace_id));
        }
        Value::Object(document).to_string()
    }

    /// Writes one point's document as one line of stdout (a failed write is not the caller's
    /// problem: it is dropped, as a log line would be).
    pub fn emit(&self, point: Point<'_>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        // Set by the runtime for each invocation (one at a time, which is how these functions run).
        let trace_id = std::env::var("_X_AMZN_TRACE_ID").ok();
        let mut line = self.document(point, now, trace_id.as_deref());
        line.push('\n');
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

/// Counts `value` of `metric` with `outcome` (nothing when `value` is 0 or metrics are off).
pub fn count(metric: &str, outcome: &str, value: usize) {
    if value == 0 {
        return;
    }
    if let Some(metrics) = Metrics::process() {
        metrics.emit(Point {
            metric,
            unit: Unit::Count,
            outcome: Some(outcome),
            value: value as f64,
        });
    }
}

/// Records a duration of `metric` with `outcome`.
pub fn milliseconds(metric: &str, outcome: &str, elapsed: std::time::Duration) {
    if let Some(metrics) = Metrics::process() {
        metrics.emit(Point {
            metric,
            unit: Unit::Milliseconds,
            outcome: Some(outcome),
            value: elapsed.as_secs_f64() * 1000.0,
        });
    }
}

/// Counts of one metric by outcome, gathered while a batch's records run (concurrently, so the
/// counters are atomic) and written as one document per outcome at the end ([`Tally::emit`]).
#[derive(Debug)]
pub struct Tally<const N: usize> {
    metric: &'static str,
    outcomes: [&'static str; N],
    counts: [AtomicUsize; N],
}

impl<const N: usize> Tally<N> {
    pub fn new(metric: &'static str, outcomes: [&'static str; N]) -> Self {
        Self {
            metric,
            outcomes,
            counts: std::array::from_fn(|_| AtomicUsize::new(0)),
        }
    }

    /// Adds one to `outcome` (an outcome not given to [`Tally::new`] is a bug: it panics in
    /// debug builds and is dropped in release builds).
    pub fn add(&self, outcome: &str) {
        let index = self.outcomes.iter().position(|known| *known == outcome);
        debug_assert!(index.is_some(), "{outcome} is not an outcome of {}", self.metric);
        if let Some(index) = index {
            self.counts[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The count of `outcome` so far.
    pub fn get(&self, outcome: &str) -> usize {
        self.outcomes
            .iter()
            .position(|known| *known == outcome)
            .map_or(0, |index| self.counts[index].load(Ordering::Relaxed))
    }

    /// Writes the non-zero counts, one document per outcome.
    pub fn emit(&self) {
        for outcome in self.outcomes {
            count(self.metric, outcome, self.get(outcome));
        }
    }
}

/// Counts this process's cold start (once: [`crate::function::run`] calls it before the first
/// invocation's handler).
pub(crate) fn cold_start() {
    if let Some(metrics) = Metrics::process() {
        metrics.emit(Point {
            metric: "ColdStart",
            unit: Unit::Count,
            outcome: None,
            value: 1.0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_declares_its_metric_with_the_function_and_outcome_dimensions() {
        let metrics = Metrics::new("Shop/Patterns", "my-api-Xyz");
        let point = Point {
            metric: "Orders",
            unit: Unit::Count,
            outcome: Some("created"),
            value: 2.0,
        };
        let document: Value =
            serde_json::from_str(&metrics.document(point, 1_700_000_000_000, Some("Root=1-abc"))).unwrap();
        assert_eq!(
            document,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Shop/Patterns",
                        "Dimensions": [["function", "outcome"]],
                        "Metrics": [{"Name": "Orders", "Unit": "Count"}],
                    }],
                },
                "function": "my-api-Xyz",
                "outcome": "created",
                "Orders": 2.0,
                "xrayTraceId": "Root=1-abc",
            })
        );
    }

    #[test]
    fn a_tally_counts_each_outcome_on_its_own() {
        let tally = Tally::new("Jobs", ["succeeded", "failed", "retried"]);
        tally.add("succeeded");
        tally.add("retried");
        tally.add("succeeded");
        assert_eq!(
            (tally.get("succeeded"), tally.get("failed"), tally.get("retried")),
            (2, 0, 1)
        );
    }

    #[test]
    fn a_point_without_outcome_has_the_function_dimension_only() {
        let metrics = Metrics::new("N", "f");
        let point = Point {
            metric: "ColdStart",
            unit: Unit::Count,
            outcome: None,
            value: 1.0,
        };
        let document: Value = serde_json::from_str(&metrics.document(point, 1, None)).unwrap();
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["function"]])
        );
        assert!(document.get("outcome").is_none() && document.get("xrayTraceId").is_none());
    }

    #[test]
    fn names_that_need_escaping_stay_one_line_of_valid_json() {
        let metrics = Metrics::new("N\"s", "f\nx");
        let point = Point {
            metric: "Latency",
            unit: Unit::Milliseconds,
            outcome: Some("a\"b"),
            value: 1.5,
        };
        let line = metrics.document(point, 1, None);
        assert!(!line.contains('\n'));
        let document: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(document["function"], "f\nx");
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Milliseconds"
        );
    }
}
