//! What the SNS tests of this crate share: clients for the local SNS and SQS (moto, through the
//! real SDK), a topic of the test's own, queues subscribed to it, and reading a queue empty.

use aws_sdk_sqs::types::Message;

pub struct Local {
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
}

pub async fn local() -> Local {
    test_support::assert_local_aws();
    let aws = lambda_kit::aws::load().await.expect("the trust store");
    Local {
        sns: aws_sdk_sns::Client::new(&aws),
        sqs: aws_sdk_sqs::Client::new(&aws),
    }
}

/// A name no other test run uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

impl Local {
    /// A topic of this test's own.
    pub async fn topic(&self) -> String {
        self.sns
            .create_topic()
            .name(unique("events-test"))
            .send()
            .await
            .expect("topic")
            .topic_arn
            .expect("arn")
    }

    /// A queue subscribed to `topic` with these subscription attributes; its URL.
    pub async fn subscribe_queue(&self, topic: &str, attributes: &[(&str, String)]) -> String {
        let name = unique("events-test");
        let url = self
            .sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("url");
        let arn = format!("arn:aws:sqs:us-east-1:123456789012:{name}");
        let mut request = self.sns.subscribe().topic_arn(topic).protocol("sqs").endpoint(arn);
        for (name, value) in attributes {
            request = request.attributes(*name, value);
        }
        request.send().await.expect("subscribe");
        url
    }

    /// Every message in the queue now, each deleted once read.
    pub async fn drain(&self, url: &str) -> Vec<Message> {
        let mut all = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .send()
                .await
                .expect("receive");
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return all;
            }
            for message in &messages {
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(message.receipt_handle().expect("handle"))
                    .send()
                    .await
                    .expect("delete");
            }
            all.extend(messages);
        }
    }
}
