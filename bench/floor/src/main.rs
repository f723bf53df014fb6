//! The floor: the least a Rust Lambda function can be (the runtime client, a current-thread tokio
//! runtime, JSON in and out). `make bench` starts it like the real functions and reports their
//! init time and memory as multiples of this one. It is never deployed.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({ "hello": "world" }))
    }))
    .await
}
