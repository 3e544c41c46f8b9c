//! Who sent a message: SigV4 headers and presigned credentials become the
//! principal, and SenderId shows it.

mod common;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use common::{Raw, new_queue, send, sqs, sqs_as, start, unique, xml_text};

async fn sender_of(c: &aws_sdk_sqs::Client, url: &str) -> String {
    let got = c
        .receive_message()
        .queue_url(url)
        .message_system_attribute_names(MessageSystemAttributeName::SenderId)
        .send()
        .await
        .unwrap();
    let m = &got.messages()[0];
    c.delete_message()
        .queue_url(url)
        .receipt_handle(m.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    m.attributes().unwrap()[&MessageSystemAttributeName::SenderId].clone()
}

#[tokio::test]
async fn each_signer_is_its_own_sender() {
    let server = start().await;
    let admin = sqs(&server);
    let url = new_queue(&admin, "who").await;
    for key in ["AKIDALICE", "AKIDBOB"] {
        sqs_as(&server, key)
            .send_message()
            .queue_url(&url)
            .message_body(key)
            .send()
            .await
            .unwrap();
        assert_eq!(sender_of(&admin, &url).await, key);
    }
}

#[tokio::test]
async fn presigned_credentials_name_the_sender() {
    let server = start().await;
    let admin = sqs(&server);
    let name = unique("presigned");
    let url = admin
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let uri = format!(
        "{}/000000000000/{name}?Action=SendMessage&Version=2012-11-05&MessageBody=hi\
         &X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDPRESIGNED%2F20260101%2Fus-east-1%2Fsqs%2Faws4_request\
         &X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host\
         &X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        server.endpoint
    );
    let Raw { status, body, .. } = send(
        http::Request::builder()
            .method("GET")
            .uri(uri)
            .body(String::new())
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(xml_text(&body, "MessageId").is_some());
    assert_eq!(sender_of(&admin, &url).await, "AKIDPRESIGNED");

    // In open mode any well-formed signature passes; a malformed one does not.
    let malformed = format!(
        "{}/?Action=ListQueues&Version=2012-11-05&X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIDPRESIGNED%2F20260101%2Fus-east-1%2Fsqs%2Faws4_request\
         &X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
        server.endpoint
    );
    let Raw { status, body, .. } = send(
        http::Request::builder()
            .uri(malformed)
            .body(String::new())
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(xml_text(&body, "Code").as_deref(), Some("IncompleteSignature"));
}

#[tokio::test]
async fn a_non_sigv4_authorization_header_is_refused() {
    let server = start().await;
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", server.endpoint))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .body("Action=ListQueues&Version=2012-11-05".to_owned())
        .unwrap();
    let Raw { status, body, .. } = send(req).await;
    assert_eq!(status, 400);
    assert_eq!(xml_text(&body, "Code").as_deref(), Some("IncompleteSignature"));
}
