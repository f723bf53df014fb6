//! Fuzzing customer-activity: the samples, each damaged anywhere (test_support::mutated), and any
//! JSON. Properties: nothing panics; a payload is recorded exactly when it is an activity
//! (`activity_in` takes it), and refused with an error otherwise (Lambda retries, then keeps it
//! in the on-failure destination).

use customer_activity::{CustomerActivity, activity_in};
use lambda_kit::dynamodb::MemoryRecords;
use proptest::prelude::*;
use serde_json::Value;
use test_support::{any_json, config, mutated, sample_event};

fn payloads() -> impl Strategy<Value = Value> {
    prop_oneof![
        mutated(sample_event("customer-activity", "order-created"))
            .prop_map(|text| serde_json::from_str(&text).unwrap_or(Value::Null)),
        mutated(sample_event("customer-activity", "job-failed"))
            .prop_map(|text| serde_json::from_str(&text).unwrap_or(Value::Null)),
        any_json(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_payload_is_recorded_exactly_when_it_is_an_activity(payload in payloads()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let valid = activity_in(payload.clone()).is_ok();
        let outcome = runtime.block_on(CustomerActivity::new(MemoryRecords::new("customer_id")).handle(payload));
        prop_assert_eq!(outcome.is_ok(), valid);
        if let Ok(recorded) = outcome {
            prop_assert!(recorded.recorded, "a fresh store records it");
        }
    }
}
