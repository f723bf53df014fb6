//! `report`: `{"seconds": 0..=10}`, a deliberately slow job (the run waits `seconds`), the kind
//! no API caller should wait for.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Input, JobError, Kind, Run};

/// The longest a `report` job may be asked to take. The worker's timeout leaves room for it.
pub const MAX_REPORT_SECONDS: u64 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub seconds: u64,
}

impl Kind for Report {
    const NAME: &'static str = "report";

    fn read(input: &mut Input<'_>) -> Option<Self> {
        let seconds = input.required("seconds", |value| {
            value
                .as_u64()
                .filter(|seconds| *seconds <= MAX_REPORT_SECONDS)
                .ok_or_else(|| format!("must be a whole number from 0 to {MAX_REPORT_SECONDS}"))
        });
        Some(Self { seconds: seconds? })
    }

    async fn run(self, _: &Run<'_>) -> Result<Value, JobError> {
        // Stands in for slow work (a large query, a render): what no API caller should wait for.
        tokio::time::sleep(Duration::from_secs(self.seconds)).await;
        Ok(json!({"seconds": self.seconds, "rows": self.seconds * 1_000}))
    }
}
