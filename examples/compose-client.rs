//! The example client of `docker/compose.yaml`: a real SDK round trip
//! through an SSE-KMS queue and its dead-letter queue, the way a service in
//! a compose stack talks to sealq, then exit 0 (any failure exits 1).
//!
//! 1. Uses the queue `QUEUE` (default `orders`, which `docker/sealq.toml`
//!    creates with SSE-KMS and a dead-letter queue), or creates it and its
//!    dead-letter queue when the server has no such queue.
//! 2. Sends a message, receives it, checks the body, deletes it.
//! 3. Sends another and receives it `maxReceiveCount` times without
//!    deleting it; the next receive moves it to the dead-letter queue, where
//!    it is read and deleted.
//!
//! Settings (environment): `SEALQ_ENDPOINT` (default `http://sealq:9324`),
//! `QUEUE`, `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (default
//! `test`/`test`), `AWS_REGION` (default `us-east-1`).

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::QueueAttributeName;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn client() -> Client {
    let credentials = Credentials::new(
        env_or("AWS_ACCESS_KEY_ID", "test"),
        env_or("AWS_SECRET_ACCESS_KEY", "test"),
        None,
        None,
        "environment",
    );
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(env_or("AWS_REGION", "us-east-1")))
        .credentials_provider(credentials)
        .endpoint_url(env_or("SEALQ_ENDPOINT", "http://sealq:9324"))
        .build();
    Client::from_conf(conf)
}

/// The queue's URL, its dead-letter queue's URL and maxReceiveCount;
/// creates both (SSE-KMS under the AWS-managed key) if the queue is missing.
async fn queues(sqs: &Client, name: &str) -> Result<(String, String, u32)> {
    let url = match sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => out.queue_url.ok_or("GetQueueUrl returned no URL")?,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist()) => {
            let dlq_name = format!("{name}-dlq");
            println!("queue {name} does not exist: creating it and {dlq_name}");
            let dlq = sqs
                .create_queue()
                .queue_name(&dlq_name)
                .attributes(QueueAttributeName::KmsMasterKeyId, "alias/aws/sqs")
                .send()
                .await?;
            let dlq_arn = arn_of(sqs, dlq.queue_url.as_deref().ok_or("no URL")?).await?;
            let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":3}}"#);
            sqs.create_queue()
                .queue_name(name)
                .attributes(QueueAttributeName::KmsMasterKeyId, "alias/aws/sqs")
                .attributes(QueueAttributeName::RedrivePolicy, redrive)
                .send()
                .await?
                .queue_url
                .ok_or("CreateQueue returned no URL")?
        }
        Err(e) => return Err(e.into()),
    };
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await?
        .attributes
        .unwrap_or_default();
    let key = attrs
        .get(&QueueAttributeName::KmsMasterKeyId)
        .ok_or_else(|| format!("{name} is not an SSE-KMS queue (no KmsMasterKeyId)"))?;
    let redrive = attrs
        .get(&QueueAttributeName::RedrivePolicy)
        .ok_or_else(|| format!("{name} has no RedrivePolicy"))?;
    let dlq_arn =
        json_field(redrive, "deadLetterTargetArn").ok_or("RedrivePolicy has no deadLetterTargetArn")?;
    let max: u32 = json_field(redrive, "maxReceiveCount")
        .and_then(|v| v.parse().ok())
        .ok_or("RedrivePolicy has no maxReceiveCount")?;
    let dlq_name = dlq_arn.rsplit(':').next().unwrap_or_default();
    let dlq_url = sqs
        .get_queue_url()
        .queue_name(dlq_name)
        .send()
        .await?
        .queue_url
        .ok_or("GetQueueUrl returned no URL")?;
    println!("queue {url}: SSE-KMS with {key}; dead-letter queue {dlq_url} after {max} receives");
    Ok((url, dlq_url, max))
}

async fn arn_of(sqs: &Client, url: &str) -> Result<String> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?;
    Ok(out
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("no QueueArn")?)
}

/// The value of `"field": value` in a flat JSON object such as a
/// RedrivePolicy (string or number), without a JSON parser.
fn json_field(json: &str, field: &str) -> Option<String> {
    let rest = &json[json.find(&format!("\"{field}\""))? + field.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let value = match rest.strip_prefix('"') {
        Some(s) => &s[..s.find('"')?],
        None => rest.split([',', '}']).next()?.trim(),
    };
    Some(value.to_owned())
}

/// Receives from `url` until a message with `body` arrives (other messages
/// are left alone); returns its receipt handle, or None after `tries`
/// receives. `visibility` 0 makes the message visible again at once.
async fn receive_body(
    sqs: &Client,
    url: &str,
    body: &str,
    visibility: i32,
    tries: u32,
) -> Result<Option<String>> {
    for _ in 0..tries {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(visibility)
            .wait_time_seconds(1)
            .send()
            .await?;
        for m in out.messages.unwrap_or_default() {
            if m.body.as_deref() == Some(body) {
                return Ok(Some(
                    m.receipt_handle.ok_or("a message without a receipt handle")?,
                ));
            }
        }
    }
    Ok(None)
}

async fn run() -> Result<()> {
    let sqs = client();
    let name = env_or("QUEUE", "orders");
    let (url, dlq_url, max) = queues(&sqs, &name).await?;
    let run_id = uuid::Uuid::new_v4();

    // Send, receive, delete.
    let body = format!("hello from the compose client ({run_id})");
    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body(&body)
        .send()
        .await?;
    println!("sent {}", sent.message_id.unwrap_or_default());
    let handle = receive_body(&sqs, &url, &body, 30, 5)
        .await?
        .ok_or("the message sent was not received")?;
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(handle)
        .send()
        .await?;
    println!("received and deleted it");

    // maxReceiveCount receives, then the message is in the dead-letter queue.
    let body = format!("poison message ({run_id})");
    sqs.send_message()
        .queue_url(&url)
        .message_body(&body)
        .send()
        .await?;
    for n in 1..=max {
        receive_body(&sqs, &url, &body, 0, 5)
            .await?
            .ok_or_else(|| format!("receive {n} of {max} did not return the message"))?;
        println!("received the poison message ({n} of {max}), not deleting it");
    }
    // This receive finds the receive count spent and moves the message.
    if receive_body(&sqs, &url, &body, 0, 1).await?.is_some() {
        return Err(format!("the message was received a {}th time instead of moving", max + 1).into());
    }
    let handle = receive_body(&sqs, &dlq_url, &body, 30, 5)
        .await?
        .ok_or("the message did not reach the dead-letter queue")?;
    sqs.delete_message()
        .queue_url(&dlq_url)
        .receipt_handle(handle)
        .send()
        .await?;
    println!("read it from the dead-letter queue and deleted it");
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    // A bounded run: a stack that does not answer fails the client, not hangs it.
    match tokio::time::timeout(Duration::from_secs(60), run()).await {
        Ok(Ok(())) => {
            println!("compose client: OK");
            std::process::ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            // The SDK's errors say what failed in their sources (code, message).
            let mut why = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                why = format!("{why}: {s}");
                source = s.source();
            }
            eprintln!("compose client: FAILED: {why}");
            std::process::ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("compose client: FAILED: no result within 60 s");
            std::process::ExitCode::FAILURE
        }
    }
}
