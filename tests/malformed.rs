//! The malformed-input survey: for every SQS action, in both protocols,
//! requests with a required parameter missing, a member of the wrong type,
//! numbers out of range, bytes that are not UTF-8, over-long values and
//! unknown parameters. Every answer must be the error AWS's model gives
//! (code, HTTP status, in the protocol the client spoke), never a 500, a
//! panic or a hang; unknown parameters are ignored, as AWS ignores them.

mod common;

use serde_json::{Value, json};

/// A valid request per action (JSON members), made valid against `url`
/// (a queue with a message in flight, `handle` its receipt handle).
fn valid(action: &str, url: &str, handle: &str) -> Value {
    match action {
        "CreateQueue" => json!({"QueueName": "survey-new"}),
        "GetQueueUrl" => json!({"QueueName": "survey"}),
        "ListQueues" => json!({}),
        "DeleteQueue" | "PurgeQueue" | "ListQueueTags" | "ListDeadLetterSourceQueues" => {
            json!({"QueueUrl": url})
        }
        "GetQueueAttributes" => json!({"QueueUrl": url, "AttributeNames": ["All"]}),
        "SetQueueAttributes" => json!({"QueueUrl": url, "Attributes": {"DelaySeconds": "0"}}),
        "SendMessage" => json!({"QueueUrl": url, "MessageBody": "b"}),
        "SendMessageBatch" => json!({"QueueUrl": url, "Entries": [{"Id": "a", "MessageBody": "b"}]}),
        "ReceiveMessage" => json!({"QueueUrl": url, "MaxNumberOfMessages": 1}),
        "DeleteMessage" => json!({"QueueUrl": url, "ReceiptHandle": handle}),
        "DeleteMessageBatch" => json!({"QueueUrl": url, "Entries": [{"Id": "a", "ReceiptHandle": handle}]}),
        "ChangeMessageVisibility" => {
            json!({"QueueUrl": url, "ReceiptHandle": handle, "VisibilityTimeout": 5})
        }
        "ChangeMessageVisibilityBatch" => {
            json!({"QueueUrl": url, "Entries": [{"Id": "a", "ReceiptHandle": handle, "VisibilityTimeout": 5}]})
        }
        "TagQueue" => json!({"QueueUrl": url, "Tags": {"k": "v"}}),
        "UntagQueue" => json!({"QueueUrl": url, "TagKeys": ["k"]}),
        "AddPermission" => {
            json!({"QueueUrl": url, "Label": "l", "AWSAccountIds": ["111111111111"], "Actions": ["SendMessage"]})
        }
        "RemovePermission" => json!({"QueueUrl": url, "Label": "l"}),
        "StartMessageMoveTask" | "ListMessageMoveTasks" => {
            json!({"SourceArn": "arn:aws:sqs:us-east-1:000000000000:survey"})
        }
        "CancelMessageMoveTask" => json!({"TaskHandle": "x"}),
        other => panic!("no valid request for {other}"),
    }
}

/// The members the model marks required.
fn required(action: &str) -> &'static [&'static str] {
    match action {
        "CreateQueue" | "GetQueueUrl" => &["QueueName"],
        "ListQueues" => &[],
        "SendMessage" => &["QueueUrl", "MessageBody"],
        "SendMessageBatch" | "DeleteMessageBatch" | "ChangeMessageVisibilityBatch" => {
            &["QueueUrl", "Entries"]
        }
        "DeleteMessage" => &["QueueUrl", "ReceiptHandle"],
        "ChangeMessageVisibility" => &["QueueUrl", "ReceiptHandle", "VisibilityTimeout"],
        "SetQueueAttributes" => &["QueueUrl", "Attributes"],
        "TagQueue" => &["QueueUrl", "Tags"],
        "UntagQueue" => &["QueueUrl", "TagKeys"],
        "AddPermission" => &["QueueUrl", "Label", "AWSAccountIds", "Actions"],
        "RemovePermission" => &["QueueUrl", "Label"],
        "StartMessageMoveTask" | "ListMessageMoveTasks" => &["SourceArn"],
        "CancelMessageMoveTask" => &["TaskHandle"],
        _ => &["QueueUrl"],
    }
}

const ACTIONS: [&str; 23] = [
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "DeleteQueue",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "PurgeQueue",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
    "AddPermission",
    "RemovePermission",
    "ListDeadLetterSourceQueues",
    "StartMessageMoveTask",
    "CancelMessageMoveTask",
    "ListMessageMoveTasks",
];

/// Status and query error code of an answer, in either protocol, checking
/// that an error is well formed for the protocol it came in.
fn answer(r: &common::Raw, json_protocol: bool) -> (u16, String) {
    if r.status == 200 {
        return (200, String::new());
    }
    if json_protocol {
        let v: Value =
            serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("JSON error body: {e}: {}", r.body));
        assert!(v["__type"].is_string(), "{}", r.body);
        assert!(v["message"].is_string(), "{}", r.body);
        let q = r.headers["x-amzn-query-error"].to_str().unwrap();
        let (code, fault) = q.split_once(';').unwrap();
        assert!(fault == "Sender" || fault == "Receiver", "{q}");
        (r.status, code.to_owned())
    } else {
        assert!(r.body.contains("<ErrorResponse"), "{}", r.body);
        assert_eq!(
            common::xml_text(&r.body, "Type").as_deref(),
            Some("Sender"),
            "{}",
            r.body
        );
        (r.status, common::xml_text(&r.body, "Code").unwrap())
    }
}

/// A JSON value as query parameters (`Name`, `Name.N`, `Name.N.Name/Value`
/// for maps, `Entries` as their flattened name).
fn to_query(action: &str, v: &Value) -> Vec<(String, String)> {
    let mut out = vec![("Action".to_owned(), action.to_owned())];
    let Value::Object(m) = v else { return out };
    for (k, v) in m {
        match (k.as_str(), v) {
            ("Entries", Value::Array(items)) => {
                let prefix = format!("{action}RequestEntry");
                for (i, item) in items.iter().enumerate() {
                    for (ek, ev) in item.as_object().unwrap() {
                        out.push((format!("{prefix}.{}.{ek}", i + 1), scalar(ev)));
                    }
                }
            }
            ("Attributes" | "Tags", Value::Object(map)) => {
                let prefix = if k == "Tags" { "Tag" } else { "Attribute" };
                for (i, (mk, mv)) in map.iter().enumerate() {
                    let (kn, vn) = if k == "Tags" {
                        ("Key", "Value")
                    } else {
                        ("Name", "Value")
                    };
                    out.push((format!("{prefix}.{}.{kn}", i + 1), mk.clone()));
                    out.push((format!("{prefix}.{}.{vn}", i + 1), scalar(mv)));
                }
            }
            (_, Value::Array(items)) => {
                let name = match k.as_str() {
                    "AttributeNames" => "AttributeName",
                    "TagKeys" => "TagKey",
                    "AWSAccountIds" => "AWSAccountId",
                    "Actions" => "ActionName",
                    other => other,
                };
                for (i, item) in items.iter().enumerate() {
                    out.push((format!("{name}.{}", i + 1), scalar(item)));
                }
            }
            _ => out.push((k.clone(), scalar(v))),
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One malformed request: its name, its JSON body and query parameters
/// (either may be absent), and the error codes allowed (any 4xx when
/// empty).
type Case = (
    String,
    Option<String>,
    Vec<(String, String)>,
    &'static [&'static str],
);

async fn json_call(server: &common::Server, action: &str, body: &str) -> common::Raw {
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", server.endpoint))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("AmazonSQS.{action}"))
        .body(body.to_owned())
        .unwrap();
    common::send(req).await
}

async fn query_call(server: &common::Server, params: &[(String, String)]) -> common::Raw {
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    common::query_signed(server, "/", &pairs, None).await
}

/// A fresh unencrypted queue (so unsigned requests may use it) holding a
/// message in flight; its URL and the message's receipt handle.
async fn fixture(server: &common::Server, name: &str) -> (String, String) {
    let r = json_call(
        server,
        "CreateQueue",
        &json!({"QueueName": name, "Attributes": {"SqsManagedSseEnabled": "false"}}).to_string(),
    )
    .await;
    let url = serde_json::from_str::<Value>(&r.body).unwrap()["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    json_call(
        server,
        "SendMessage",
        &json!({"QueueUrl": url, "MessageBody": "m"}).to_string(),
    )
    .await;
    let r = json_call(
        server,
        "ReceiveMessage",
        &json!({"QueueUrl": url, "VisibilityTimeout": 600}).to_string(),
    )
    .await;
    let handle = serde_json::from_str::<Value>(&r.body).unwrap()["Messages"][0]["ReceiptHandle"]
        .as_str()
        .unwrap()
        .to_owned();
    (url, handle)
}

#[tokio::test]
async fn a_missing_required_parameter_is_missing_parameter_in_both_protocols() {
    let server = common::start().await;
    let mut failures = Vec::new();
    for action in ACTIONS {
        // Each action on a queue of its own (DeleteQueue deletes it).
        let (url, handle) = fixture(&server, &format!("survey-{action}")).await;
        for member in required(action) {
            let mut v = valid(action, &url, &handle);
            v.as_object_mut().unwrap().remove(*member);
            for json_protocol in [true, false] {
                let r = if json_protocol {
                    json_call(&server, action, &v.to_string()).await
                } else {
                    query_call(&server, &to_query(action, &v)).await
                };
                let (status, code) = answer(&r, json_protocol);
                // A batch without entries is an empty batch (the model's
                // own error for it).
                let want = if member.ends_with("Entries") || *member == "Entries" {
                    "AWS.SimpleQueueService.EmptyBatchRequest"
                } else {
                    "MissingParameter"
                };
                if (status, code.as_str()) != (400, want) {
                    failures.push(format!(
                        "{action} without {member} ({}): {status} {code}, want 400 {want}: {}",
                        if json_protocol { "json" } else { "query" },
                        r.body
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn wrong_types_bad_bytes_big_values_and_unknown_parameters_get_aws_errors_never_500() {
    let server = common::start().await;
    let mut failures = Vec::new();
    for action in ACTIONS {
        // Each action on a queue of its own (DeleteQueue deletes it).
        let (url, handle) = fixture(&server, &format!("survey-{action}")).await;
        let base = valid(action, &url, &handle);
        let members: Vec<String> = base.as_object().unwrap().keys().cloned().collect();
        let mut cases: Vec<Case> = Vec::new();
        // JSON: each member as a value of the wrong type.
        for m in &members {
            for wrong in [json!(123), json!(true), json!([1]), json!({"a": 1}), json!("x")] {
                let mut v = base.clone();
                // Only values of another JSON type than the member's.
                let same_type = (wrong.is_string() && v[m].is_string())
                    || (wrong.is_number() && v[m].is_number())
                    || (wrong.is_boolean() && v[m].is_boolean())
                    || (wrong.is_array() && v[m].is_array())
                    || (wrong.is_object() && v[m].is_object());
                if same_type {
                    continue;
                }
                v[m] = wrong.clone();
                cases.push((
                    format!("{action}: {m} = {wrong}"),
                    Some(v.to_string()),
                    Vec::new(),
                    &["SerializationException"],
                ));
            }
        }
        // Both protocols: an unknown parameter is ignored.
        let mut v = base.clone();
        v["NoSuchParameter"] = json!("x");
        // Over-long strings in every string member.
        for m in &members {
            if base[m].is_string() {
                let mut big = base.clone();
                big[m] = json!("x".repeat(300_000));
                let mut q = to_query(action, &big);
                q.retain(|(k, _)| k != "Action");
                q.insert(0, ("Action".into(), action.into()));
                cases.push((
                    format!("{action}: {m} of 300,000 characters"),
                    Some(big.to_string()),
                    q,
                    &[],
                ));
            }
        }
        // Numbers out of range.
        for (m, n) in [
            ("MaxNumberOfMessages", json!(11)),
            ("VisibilityTimeout", json!(-1)),
            ("WaitTimeSeconds", json!(21)),
            ("DelaySeconds", json!(901)),
            ("MaxResults", json!(0)),
            ("MaxNumberOfMessagesPerSecond", json!(501)),
        ] {
            let mut v = base.clone();
            v[m] = n.clone();
            cases.push((
                format!("{action}: {m} = {n}"),
                Some(v.to_string()),
                to_query(action, &v),
                &[],
            ));
        }
        for (name, json_body, query, allowed) in cases {
            let mut runs = Vec::new();
            if let Some(b) = &json_body {
                runs.push((true, json_call(&server, action, b).await));
            }
            if !query.is_empty() {
                runs.push((false, query_call(&server, &query).await));
            }
            for (json_protocol, r) in runs {
                let (status, code) = answer(&r, json_protocol);
                let fine = status == 200
                    || (400..500).contains(&status)
                        && (allowed.is_empty() || allowed.contains(&code.as_str()));
                if !fine {
                    failures.push(format!(
                        "{name} ({}): {status} {code}: {}",
                        if json_protocol { "json" } else { "query" },
                        &r.body[..r.body.len().min(300)]
                    ));
                }
            }
        }
        // Unknown parameters are ignored: the answer is the valid one's
        // status (a 200, or the error the valid request gets).
        let plain = json_call(&server, action, &base.to_string()).await.status;
        let r = json_call(&server, action, &v.to_string()).await;
        if r.status != plain && action != "CreateQueue" {
            failures.push(format!(
                "{action} with an unknown member: {} not {plain}: {}",
                r.status, r.body
            ));
        }
        let mut q = to_query(action, &base);
        q.push(("NoSuchParameter".into(), "x".into()));
        let r = query_call(&server, &q).await;
        let (status, _) = answer(&r, false);
        assert!(status != 500, "{action}: {}", r.body);
    }
    // Bytes that are not UTF-8: raw in a form body, and percent-encoded.
    for body in [
        &b"Action=ListQueues&QueueNamePrefix=\xff\xfe"[..],
        b"Action=ListQueues&QueueNamePrefix=%FF%FE",
    ] {
        let r = send_bytes(&server, body, "application/x-www-form-urlencoded", None).await;
        let (status, code) = answer(&r, false);
        if (status, code.as_str()) != (400, "MalformedQueryString") {
            failures.push(format!("query not UTF-8: {status} {code}"));
        }
    }
    let r = send_bytes(
        &server,
        b"{\"QueueNamePrefix\": \"\xff\"}",
        "application/x-amz-json-1.0",
        Some("AmazonSQS.ListQueues"),
    )
    .await;
    let (status, code) = answer(&r, true);
    if (status, code.as_str()) != (400, "SerializationException") {
        failures.push(format!("JSON not UTF-8: {status} {code}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Sends raw bytes as they are (`common::send` takes a `String`).
async fn send_bytes(
    server: &common::Server,
    body: &[u8],
    content_type: &str,
    target: Option<&str>,
) -> common::Raw {
    let mut rb = reqwest::Client::new()
        .post(format!("{}/", server.endpoint))
        .header("content-type", content_type)
        .body(body.to_vec());
    if let Some(t) = target {
        rb = rb.header("x-amz-target", t);
    }
    let resp = rb.send().await.unwrap();
    common::Raw {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}
