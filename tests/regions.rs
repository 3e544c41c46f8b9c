//! Regions: queues and KMS keys are regional, as in AWS. Each request is
//! served in the region of its SigV4 credential scope (an unsigned one in
//! the server's `--region`), so one server holds several regions; queue
//! URLs and ARNs carry the region. Through the Rust SDKs (JSON protocol)
//! and plain HTTP in the query protocol.

mod common;

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::QueueAttributeName as Q;
use common::{kms_in, query_signed, sqs_signing, xml_all, xml_text};

const ACCOUNT: &str = "000000000000";

#[tokio::test]
async fn queues_of_the_same_name_live_apart_in_each_region() {
    let server = common::start().await;
    let east = sqs_signing(&server.endpoint, "AKIDEAST", "s", "us-east-1");
    let west = sqs_signing(&server.endpoint, "AKIDWEST", "s", "us-west-2");
    let name = common::unique("shared");
    let east_url = east
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let west_url = west
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    // The server's region keeps the URLs it always had; others carry theirs.
    assert_eq!(east_url, format!("{}/{ACCOUNT}/{name}", server.endpoint));
    assert_eq!(
        west_url,
        format!("{}/us-west-2/{ACCOUNT}/{name}", server.endpoint)
    );
    assert_eq!(
        common::queue_arn(&west, &west_url).await,
        format!("arn:aws:sqs:us-west-2:{ACCOUNT}:{name}")
    );
    assert_eq!(
        common::queue_arn(&east, &east_url).await,
        format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}")
    );

    west.send_message()
        .queue_url(&west_url)
        .message_body("west")
        .send()
        .await
        .unwrap();
    let got = common::receive_now(&east, &east_url).await;
    assert!(got.is_empty(), "the east queue is another queue: {got:?}");
    let got = common::receive_now(&west, &west_url).await;
    assert_eq!(got[0].body(), Some("west"));

    // ListQueues and GetQueueUrl answer in the caller's region.
    let listed = west.list_queues().queue_name_prefix(&name).send().await.unwrap();
    assert_eq!(listed.queue_urls(), std::slice::from_ref(&west_url));
    let found = west.get_queue_url().queue_name(&name).send().await.unwrap();
    assert_eq!(found.queue_url(), Some(west_url.as_str()));
    // A bare name is the caller's region's queue too.
    west.send_message()
        .queue_url(&name)
        .message_body("by name")
        .send()
        .await
        .unwrap();
    assert_eq!(common::receive_now(&west, &west_url).await.len(), 1);

    // A URL of another region is not valid for this endpoint (AWS's answer).
    let e = east
        .send_message()
        .queue_url(&west_url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidAddress"));
    assert_eq!(
        e.message(),
        Some(
            format!(
                "The address {}/us-west-2/ is not valid for this endpoint.",
                server.endpoint
            )
            .as_str()
        )
    );
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    let aws_style = format!("https://sqs.us-west-2.amazonaws.com/{ACCOUNT}/{name}");
    let e = east
        .send_message()
        .queue_url(&aws_style)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.message(),
        Some("The address https://sqs.us-west-2.amazonaws.com/ is not valid for this endpoint.")
    );
    // The AWS-style URL of its own region works for the west client.
    west.send_message()
        .queue_url(&aws_style)
        .message_body("aws style")
        .send()
        .await
        .unwrap();

    // Metrics and the admin view tell the two apart.
    let metrics = reqwest::get(format!("{}/_sealq/metrics", server.endpoint))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for region in ["us-east-1", "us-west-2"] {
        let series = format!(
            "sealq_messages{{account=\"{ACCOUNT}\",region=\"{region}\",queue=\"{name}\",state=\"visible\"}}"
        );
        assert!(metrics.contains(&series), "{series} in\n{metrics}");
    }
    let queues = common::admin_get(&server, "/queues").await;
    let regions: Vec<&str> = queues["queues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["name"] == name.as_str())
        .map(|q| q["region"].as_str().unwrap())
        .collect();
    assert_eq!(regions.len(), 2, "{queues}");
    assert!(regions.contains(&"us-west-2") && regions.contains(&"us-east-1"));

    // Move tasks name their queues by ARN: one of another region is not
    // found from this endpoint.
    let west_arn = common::queue_arn(&west, &west_url).await;
    let e = east
        .list_message_move_tasks()
        .source_arn(&west_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFoundException"));

    // Deleting the west queue leaves the east one.
    west.delete_queue().queue_url(&west_url).send().await.unwrap();
    east.get_queue_attributes()
        .queue_url(&east_url)
        .send()
        .await
        .expect("east still there");
}

#[tokio::test]
async fn the_query_protocol_is_regional_too_and_unsigned_requests_use_the_servers_region() {
    let server = common::start().await;
    let name = common::unique("q");
    let west = Some(("AKIDWEST", "eu-west-1"));
    let r = query_signed(
        &server,
        "/",
        &[("Action", "CreateQueue"), ("QueueName", &name)],
        west,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let url = xml_text(&r.body, "QueueUrl").unwrap();
    assert_eq!(url, format!("{}/eu-west-1/{ACCOUNT}/{name}", server.endpoint));
    // Posted to its queue URL's path, as older SDKs do.
    let path = format!("/eu-west-1/{ACCOUNT}/{name}");
    let r = query_signed(
        &server,
        &path,
        &[("Action", "SendMessage"), ("MessageBody", "hi")],
        west,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = query_signed(
        &server,
        "/",
        &[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", &url),
            ("AttributeName.1", "QueueArn"),
        ],
        west,
    )
    .await;
    assert_eq!(
        xml_all(&r.body, "Value"),
        [format!("arn:aws:sqs:eu-west-1:{ACCOUNT}:{name}")]
    );
    // Unsigned: the server's region, where the queue is not.
    let r = query_signed(
        &server,
        "/",
        &[("Action", "GetQueueUrl"), ("QueueName", &name)],
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("AWS.SimpleQueueService.NonExistentQueue")
    );
    let r = query_signed(
        &server,
        "/",
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "x"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(xml_text(&r.body, "Code").as_deref(), Some("InvalidAddress"));
    // A scope that names no region is refused.
    let r = query_signed(
        &server,
        "/",
        &[("Action", "ListQueues")],
        Some(("AKIDX", "Bad_Region")),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("SignatureDoesNotMatch")
    );
}

#[tokio::test]
async fn kms_keys_are_regional_and_sse_kms_queues_use_their_regions_keys() {
    let server = common::start().await;
    let east = kms_in(&server.endpoint, "AKIDTEST", "s", "us-east-1");
    let west = kms_in(&server.endpoint, "AKIDTEST", "s", "us-west-2");
    let meta = west.create_key().send().await.unwrap().key_metadata.unwrap();
    let (id, arn) = (meta.key_id().to_owned(), meta.arn().unwrap().to_owned());
    assert_eq!(arn, format!("arn:aws:kms:us-west-2:{ACCOUNT}:key/{id}"));
    west.describe_key()
        .key_id(&id)
        .send()
        .await
        .expect("in its region");

    // From another region: AWS's answers (recorded).
    let e = east.describe_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(e.code(), Some("NotFoundException"));
    assert_eq!(
        e.message(),
        Some(format!("Key 'arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}' does not exist").as_str())
    );
    let e = east.describe_key().key_id(&arn).send().await.unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (Some("NotFoundException"), Some("Invalid arn us-west-2"))
    );
    let listed = east.list_keys().send().await.unwrap();
    assert!(listed.keys().iter().all(|k| k.key_id() != Some(id.as_str())));

    // Aliases are regional: the same name in both regions names two keys.
    west.create_alias()
        .alias_name("alias/orders")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let east_id = east
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id()
        .to_owned();
    east.create_alias()
        .alias_name("alias/orders")
        .target_key_id(&east_id)
        .send()
        .await
        .unwrap();
    let w = west.describe_key().key_id("alias/orders").send().await.unwrap();
    assert_eq!(w.key_metadata().unwrap().key_id(), id);

    // A ciphertext is regional: it does not open in another region.
    let blob = west
        .encrypt()
        .key_id(&id)
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    west.decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .expect("in its region");
    let e = east.decrypt().ciphertext_blob(blob).send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidCiphertextException"));

    // An SSE-KMS queue of us-west-2 seals with the us-west-2 key its alias names.
    let sqs = sqs_signing(&server.endpoint, "AKIDTEST", "s", "us-west-2");
    let url = sqs
        .create_queue()
        .queue_name(common::unique("sse"))
        .attributes(Q::KmsMasterKeyId, "alias/orders")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&url)
        .message_body("sealed")
        .send()
        .await
        .unwrap();
    let got = common::receive_now(&sqs, &url).await;
    assert_eq!(got[0].body(), Some("sealed"));
    let calls = common::admin_get(&server, "/kms/calls").await;
    let keys: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["key_arn"].as_str())
        .collect();
    assert!(!keys.is_empty() && keys.iter().all(|k| *k == arn), "{keys:?}");
    // SSE-SQS in another region: a service-owned key of that region.
    let sqs_managed = sqs
        .create_queue()
        .queue_name(common::unique("ssesqs"))
        .attributes(Q::SqsManagedSseEnabled, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&sqs_managed)
        .message_body("m")
        .send()
        .await
        .unwrap();
    assert_eq!(common::receive_now(&sqs, &sqs_managed).await[0].body(), Some("m"));
}

#[tokio::test]
async fn sts_get_caller_identity_answers_on_the_same_port() {
    let server = common::start().await;
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("eu-central-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDWHO", "s", None, None, "t",
        ))
        .endpoint_url(&server.endpoint)
        .build();
    let who = aws_sdk_sts::Client::from_conf(conf)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.account(), Some(ACCOUNT));
    assert_eq!(
        who.arn(),
        Some(format!("arn:aws:iam::{ACCOUNT}:user/AKIDWHO").as_str())
    );
    assert!(who.user_id().is_some_and(|u| !u.is_empty()));
}
