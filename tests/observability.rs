//! Observability: readiness (`/_sealq/health`, `sealq health`), the
//! Prometheus exposition at `/_sealq/metrics` driven by real SDK clients,
//! and the per-request log line (`--log-format json`) of the binary.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName as Q;
use common::{
    Server, create_queue_with, free_port, kms, query, queue_attr, sqs, sqs_as, start, unique, wait_healthy,
};
use sealq::clock::Clock;
use sealq::{AppState, Config};

/// One sample of the exposition: metric name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text format strictly enough to catch malformed output: every
/// sample line is `name{k="v",...} value`, and every sample's family was
/// announced by `# HELP` and `# TYPE` lines before it.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split_whitespace().next().expect("HELP name");
            helped.insert(name.to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            let (name, kind) = (it.next().expect("TYPE name"), it.next().expect("TYPE kind"));
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "stray line {line:?}");
        let (name, rest) = match line.find('{') {
            Some(i) => (&line[..i], &line[i..]),
            None => line.split_at(line.find(' ').expect("value")),
        };
        let mut labels = BTreeMap::new();
        let rest = if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '}' {
                    end = Some(i);
                    break;
                }
                let mut key = String::from(c);
                for (_, c) in chars.by_ref() {
                    if c == '=' {
                        break;
                    }
                    key.push(c);
                }
                assert_eq!(chars.next().map(|x| x.1), Some('"'), "{line}");
                let mut value = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next().map(|x| x.1) {
                            Some('n') => value.push('\n'),
                            Some(e) => value.push(e),
                            None => panic!("{line}"),
                        },
                        '"' => break,
                        c => value.push(c),
                    }
                }
                if let Some((_, ',')) = chars.peek() {
                    chars.next();
                }
                assert!(labels.insert(key, value).is_none(), "repeated label in {line}");
            }
            &body[end.expect("closing brace") + 1..]
        } else {
            rest
        };
        let value: f64 = rest
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("value of {line:?}"));
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "no # TYPE before {line}");
        assert!(helped.contains(family), "no # HELP before {line}");
        out.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    out
}

/// The value of the one sample named `name` whose labels include `want`;
/// `None` when there is none.
fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && want
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(found.len() <= 1, "{name} {want:?} matches {found:?}");
    found.first().map(|s| s.value)
}

/// `GET /_sealq/metrics`: checks the content type and parses the body.
async fn scrape(server: &Server) -> Vec<Sample> {
    let resp = reqwest::get(format!("{}/_sealq/metrics", server.endpoint))
        .await
        .expect("GET metrics");
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    parse_exposition(&resp.text().await.expect("body"))
}

fn requests(samples: &[Sample], protocol: &str, action: &str, status: &str) -> f64 {
    value(
        samples,
        "sealq_requests_total",
        &[("protocol", protocol), ("action", action), ("status", status)],
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn health_answers_503_until_the_state_is_ready() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = AppState::with_clock(Config::default(), Arc::new(Clock::system()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(sealq::serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    let url = format!("http://{addr}/_sealq/health");
    let r = reqwest::get(&url).await.expect("GET health");
    assert_eq!(r.status().as_u16(), 503);
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({ "status": "starting" }));
    assert!(!state.is_ready());

    // `sealq health` fails against it, saying why.
    let (ok, err) = health_cli(&format!("http://{addr}")).await;
    assert!(!ok);
    assert!(err.contains("503") && err.contains("starting"), "{err}");

    state.set_ready();
    let r = reqwest::get(&url).await.expect("GET health");
    assert_eq!(r.status().as_u16(), 200);
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v, serde_json::json!({ "status": "ok" }));
    let _ = tx.send(());
    handle.await.expect("join").expect("serve");
}

/// Runs `sealq health --endpoint ENDPOINT`; its success and stderr.
async fn health_cli(endpoint: &str) -> (bool, String) {
    let endpoint = endpoint.to_owned();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_sealq"))
            .args(["health", "--endpoint", &endpoint])
            .output()
            .expect("run sealq health");
        assert!(out.stdout.is_empty());
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

#[tokio::test]
async fn health_subcommand_exits_0_when_ready_and_1_when_unreachable() {
    let server = start().await;
    let (ok, err) = health_cli(&server.endpoint).await;
    assert!(ok, "{err}");
    assert!(err.is_empty(), "{err}");

    let closed = format!("http://127.0.0.1:{}", free_port());
    let (ok, err) = health_cli(&closed).await;
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("sealq health: cannot reach"), "{err}");

    let (ok, err) = health_cli("https://127.0.0.1:1").await;
    assert!(!ok);
    assert!(err.contains("http://"), "{err}");

    // A server that accepts the connection but never answers: timed out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_endpoint = format!("http://{}", silent.local_addr().unwrap());
    let (ok, err, took) = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_sealq"))
            .args(["health", "--timeout", "0.3", "--endpoint", &silent_endpoint])
            .output()
            .expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            started.elapsed(),
        )
    })
    .await
    .unwrap();
    drop(silent);
    assert!(!ok);
    assert!(err.contains("did not answer within 300 ms"), "{err}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // SEALQ_ENDPOINT is read when --endpoint is absent.
    let endpoint = server.endpoint.clone();
    let ok = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_sealq"))
            .arg("health")
            .env("SEALQ_ENDPOINT", endpoint)
            .status()
            .expect("run")
            .success()
    })
    .await
    .unwrap();
    assert!(ok);
}

/// `sealq health` without an endpoint, in an environment (SEALQ_* only);
/// whether it exited 0, and its stderr.
async fn health_in_env(env: Vec<(&'static str, String)>) -> (Option<i32>, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_sealq"))
            .arg("health")
            .env_remove("SEALQ_ENDPOINT")
            .env_remove("SEALQ_PORT")
            .env_remove("SEALQ_HOST")
            .env_remove("SEALQ_CONFIG")
            .envs(env)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn health_subcommand_asks_the_server_its_environment_starts() {
    // A container's HEALTHCHECK runs `sealq health` with the container's
    // environment: SEALQ_PORT, or the port of the SEALQ_CONFIG file.
    let server = start().await;
    let port = server.addr.port().to_string();
    let (code, err) = health_in_env(vec![("SEALQ_PORT", port.clone())]).await;
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = health_in_env(vec![
        ("SEALQ_PORT", port.clone()),
        ("SEALQ_HOST", "127.0.0.1".into()),
    ])
    .await;
    assert_eq!(code, Some(0), "{err}");

    let dir = std::env::temp_dir().join(common::unique("health-config"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sealq.toml");
    std::fs::write(&file, format!("[server]\nport = {port}\n")).unwrap();
    let config = file.display().to_string();
    let (code, err) = health_in_env(vec![("SEALQ_CONFIG", config.clone())]).await;
    assert_eq!(code, Some(0), "{err}");
    // SEALQ_PORT wins over the file, as for `sealq serve`.
    let closed = free_port().to_string();
    let (code, err) = health_in_env(vec![("SEALQ_CONFIG", config), ("SEALQ_PORT", closed.clone())]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("localhost:{closed}")), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();

    let (code, err) = health_in_env(vec![("SEALQ_PORT", "nine".into())]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("invalid value 'nine'"), "{err}");
}

/// Starts `sealq health --wait SECONDS --endpoint ENDPOINT` in the
/// background (killed if the test fails first).
fn spawn_health_wait(endpoint: &str, seconds: &str) -> common::Binary {
    common::Binary(
        Command::new(env!("CARGO_BIN_EXE_sealq"))
            .args(["health", "--wait", seconds, "--endpoint", endpoint])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sealq health"),
    )
}

/// Waits for a `sealq health` started by [`spawn_health_wait`] to exit;
/// its exit code and stderr.
async fn finished(mut health: common::Binary) -> (Option<i32>, String) {
    tokio::task::spawn_blocking(move || {
        let mut stderr = String::new();
        std::io::Read::read_to_string(health.0.stderr.as_mut().expect("stderr"), &mut stderr)
            .expect("read stderr");
        let status = health.0.wait().expect("wait");
        (status.code(), stderr)
    })
    .await
    .expect("join")
}

/// Asserts that `health` has not exited yet, some time after it started.
async fn still_waiting(health: &mut common::Binary) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        health.0.try_wait().expect("try_wait").is_none(),
        "sealq health --wait exited before the server was ready"
    );
}

#[tokio::test]
async fn health_wait_succeeds_once_a_server_starts_listening_after_it() {
    let port = free_port();
    let mut health = spawn_health_wait(&format!("http://127.0.0.1:{port}"), "60");
    // Nothing listens yet: connections are refused, and it keeps asking.
    still_waiting(&mut health).await;
    let _server = common::spawn_binary(|cmd| {
        cmd.args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()]);
    });
    let (code, stderr) = finished(health).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[tokio::test]
async fn health_wait_keeps_asking_while_the_server_answers_503_starting() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = AppState::with_clock(Config::default(), Arc::new(Clock::system()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sealq::serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    let mut health = spawn_health_wait(&format!("http://{addr}"), "60");
    still_waiting(&mut health).await;
    state.set_ready();
    let (code, stderr) = finished(health).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let _ = tx.send(());
    server.await.expect("join").expect("serve");
}

#[tokio::test]
async fn health_wait_gives_up_after_its_seconds_saying_why() {
    // Nothing listens: refused until the end.
    let started = std::time::Instant::now();
    let health = spawn_health_wait(&format!("http://127.0.0.1:{}", free_port()), "1");
    let (code, stderr) = finished(health).await;
    let took = started.elapsed();
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("sealq health: gave up after 1 s: cannot reach http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(took >= Duration::from_secs(1), "gave up after {took:?}");
    assert!(took < Duration::from_secs(10), "gave up after {took:?}");

    // A server that accepts connections but never answers: each try is
    // bounded by --timeout, and the last reason is the timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let health = common::Binary(
        Command::new(env!("CARGO_BIN_EXE_sealq"))
            .args([
                "health",
                "--wait",
                "1",
                "--timeout",
                "0.3",
                "--endpoint",
                &endpoint,
            ])
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let (code, stderr) = finished(health).await;
    let took = started.elapsed();
    drop(silent);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("sealq health: gave up after 1 s: "),
        "{stderr}"
    );
    assert!(stderr.contains("did not answer within"), "{stderr}");
    assert!(took >= Duration::from_secs(1), "gave up after {took:?}");
    assert!(took < Duration::from_secs(10), "gave up after {took:?}");

    // An endpoint that can never be asked fails at once.
    let health = spawn_health_wait("https://127.0.0.1:1", "60");
    let (code, stderr) = finished(health).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("http://"), "{stderr}");
}

#[tokio::test]
async fn health_wait_refuses_a_bad_number_of_seconds() {
    for bad in ["0", "abc", "inf", "NaN", "3601", "-1"] {
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_sealq"))
                // `--wait=` so that "-1" is read as a value, not a flag.
                .args([
                    "health",
                    &format!("--wait={bad}"),
                    "--endpoint",
                    "http://127.0.0.1:1",
                ])
                .output()
                .expect("run")
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{bad}' for '--wait <SECONDS>'")),
            "{bad}: {stderr}"
        );
        assert!(
            stderr.contains("a number of seconds in (0, 3600]"),
            "{bad}: {stderr}"
        );
    }
}

#[tokio::test]
async fn metrics_count_requests_messages_and_kms_api_calls() {
    let server = start().await;
    let c = sqs(&server);
    let url = create_queue_with(&c, "metrics", &[(Q::SqsManagedSseEnabled, "false")]).await;
    let name = url.rsplit('/').next().unwrap().to_owned();
    for i in 0..3 {
        c.send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .expect("send");
    }
    let got = c
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(2)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default();
    assert_eq!(got.len(), 2);
    c.delete_message()
        .queue_url(&url)
        .receipt_handle(got[0].receipt_handle().unwrap())
        .send()
        .await
        .expect("delete");
    c.send_message()
        .queue_url(&url)
        .message_body("later")
        .delay_seconds(60)
        .send()
        .await
        .expect("delayed send");
    // An error, and the same action in the query protocol.
    let missing = c.get_queue_url().queue_name(unique("missing")).send().await;
    assert!(missing.is_err());
    let r = query(&server, &[("Action", "GetQueueUrl"), ("QueueName", &name)]).await;
    assert_eq!(r.status, 200);
    let r = query(&server, &[("Action", "NoSuchAction")]).await;
    assert_eq!(r.status, 400);
    // A KMS API call on a key.
    let k = kms(&server);
    let key_arn = k
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let key_id = key_arn.rsplit('/').next().unwrap().to_owned();
    k.encrypt()
        .key_id(&key_id)
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"p".to_vec()))
        .send()
        .await
        .expect("Encrypt");
    let no_key = k
        .encrypt()
        .key_id("alias/nope")
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"p".to_vec()))
        .send()
        .await;
    assert!(no_key.is_err());

    let m = scrape(&server).await;
    assert_eq!(requests(&m, "json", "SendMessage", "200"), 4.0);
    assert_eq!(requests(&m, "json", "ReceiveMessage", "200"), 1.0);
    assert_eq!(requests(&m, "json", "DeleteMessage", "200"), 1.0);
    assert_eq!(requests(&m, "json", "GetQueueUrl", "400"), 1.0);
    assert_eq!(requests(&m, "json", "GetQueueUrl", "200"), 0.0);
    assert_eq!(requests(&m, "query", "GetQueueUrl", "200"), 1.0);
    assert_eq!(requests(&m, "query", "unknown", "400"), 1.0);
    assert_eq!(requests(&m, "kms", "Encrypt", "200"), 1.0);
    assert_eq!(requests(&m, "kms", "Encrypt", "400"), 1.0);
    assert_eq!(
        value(
            &m,
            "sealq_requests_total",
            &[("protocol", "kms"), ("action", "CreateKey")]
        )
        .expect("CreateKey counted"),
        1.0
    );
    for s in m.iter().filter(|s| s.name == "sealq_requests_total") {
        let service = &s.labels["service"];
        assert_eq!(service == "kms", s.labels["protocol"] == "kms", "{s:?}");
    }

    // The latency histogram of JSON SendMessage: 4 requests, cumulative.
    let labels = [("protocol", "json"), ("action", "SendMessage")];
    let count = value(&m, "sealq_request_duration_seconds_count", &labels).expect("count");
    assert_eq!(count, 4.0);
    let mut buckets: Vec<(f64, f64)> = m
        .iter()
        .filter(|s| {
            s.name == "sealq_request_duration_seconds_bucket"
                && labels.iter().all(|(k, v)| s.labels[*k] == *v)
        })
        .map(|s| {
            let le = &s.labels["le"];
            (
                if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                },
                s.value,
            )
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 10);
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, 4.0));
    let sum = value(&m, "sealq_request_duration_seconds_sum", &labels).expect("sum");
    assert!(sum > 0.0 && sum < 4.0 * 25.0, "{sum}");

    // Messages by state: 1 visible, 1 in flight (2 received, 1 deleted), 1 delayed.
    let q = |state: &str| value(&m, "sealq_messages", &[("queue", &name), ("state", state)]);
    assert_eq!(q("visible"), Some(1.0));
    assert_eq!(q("in_flight"), Some(1.0));
    assert_eq!(q("delayed"), Some(1.0));
    assert_eq!(
        value(&m, "sealq_messages", &[("queue", &name), ("state", "visible")]),
        queue_attr(&c, &url, Q::ApproximateNumberOfMessages)
            .await
            .map(|v| v.parse().unwrap())
    );

    // KMS API calls by operation and key; an unknown key is labelled "".
    let api = |op: &str, key: &str| {
        value(
            &m,
            "sealq_kms_calls_total",
            &[("caller", "api"), ("operation", op), ("key", key)],
        )
    };
    assert_eq!(api("CreateKey", &key_arn), Some(1.0));
    assert_eq!(api("Encrypt", &key_arn), Some(1.0));
    assert_eq!(api("Encrypt", ""), Some(1.0));
    // The queue is unencrypted: SQS made no KMS call and used no cache.
    assert!(
        !m.iter()
            .any(|s| s.name == "sealq_kms_calls_total" && s.labels["caller"] == "sqs"),
    );
    for cache in ["producer", "consumer"] {
        for result in ["hit", "miss"] {
            assert_eq!(
                value(
                    &m,
                    "sealq_data_key_cache_total",
                    &[("cache", cache), ("result", result)]
                ),
                Some(0.0)
            );
        }
    }

    // The queue goes: its gauges go with it.
    c.delete_queue()
        .queue_url(&url)
        .send()
        .await
        .expect("delete queue");
    let m = scrape(&server).await;
    assert!(!m.iter().any(|s| s.labels.get("queue") == Some(&name)));
    assert_eq!(requests(&m, "json", "DeleteQueue", "200"), 1.0);
}

#[tokio::test]
async fn data_key_cache_counters_follow_an_sse_kms_queue() {
    let server = start().await;
    let key_arn = kms(&server)
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let writer = sqs_as(&server, "AKIDWRITER");
    let reader = sqs_as(&server, "AKIDREADER");
    let url = create_queue_with(&writer, "cache", &[(Q::KmsMasterKeyId, &key_arn)]).await;
    let cache = |m: &[Sample], cache: &str, result: &str| {
        value(
            m,
            "sealq_data_key_cache_total",
            &[("cache", cache), ("result", result)],
        )
        .expect("cache counter")
    };
    let sqs_calls = |m: &[Sample], op: &str| {
        value(
            m,
            "sealq_kms_calls_total",
            &[("caller", "sqs"), ("operation", op), ("key", &key_arn)],
        )
        .unwrap_or(0.0)
    };

    // Three sends: the first misses (GenerateDataKey + Decrypt), two hit.
    for i in 0..3 {
        writer
            .send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .expect("send");
    }
    let m = scrape(&server).await;
    assert_eq!(cache(&m, "producer", "miss"), 1.0);
    assert_eq!(cache(&m, "producer", "hit"), 2.0);
    assert_eq!(cache(&m, "consumer", "miss"), 0.0);
    assert_eq!(sqs_calls(&m, "GenerateDataKey"), 1.0);
    assert_eq!(sqs_calls(&m, "Decrypt"), 1.0);
    assert_eq!(
        value(&m, "sealq_data_keys_held", &[]),
        Some(1.0),
        "one data key held"
    );

    // A new consumer: one lookup for the one data key of the receive, a
    // miss (Decrypt as the reader); the next receive hits.
    assert_eq!(common::receive_and_release(&reader, &url).await.len(), 3);
    let m = scrape(&server).await;
    assert_eq!(cache(&m, "consumer", "miss"), 1.0);
    assert_eq!(cache(&m, "consumer", "hit"), 0.0);
    assert_eq!(sqs_calls(&m, "Decrypt"), 2.0);
    assert_eq!(common::receive_and_release(&reader, &url).await.len(), 3);
    let m = scrape(&server).await;
    assert_eq!(cache(&m, "consumer", "miss"), 1.0);
    assert_eq!(cache(&m, "consumer", "hit"), 1.0);
    assert_eq!(sqs_calls(&m, "Decrypt"), 2.0);

    // After the reuse period the writer's key has expired: a miss again.
    server.advance(301);
    writer
        .send_message()
        .queue_url(&url)
        .message_body("after")
        .send()
        .await
        .expect("send");
    let m = scrape(&server).await;
    assert_eq!(cache(&m, "producer", "miss"), 2.0);
    assert_eq!(cache(&m, "producer", "hit"), 2.0);
    assert_eq!(sqs_calls(&m, "GenerateDataKey"), 2.0);
    assert_eq!(sqs_calls(&m, "Decrypt"), 3.0);
    // The API saw none of these: SQS calls KMS in-process.
    assert!(!m.iter().any(|s| s.name == "sealq_kms_calls_total"
        && s.labels["caller"] == "api"
        && s.labels["operation"] != "CreateKey"));
}

/// Every `key` label of `sealq_kms_calls_total` is a key ARN or empty, never
/// an alias or a key id as a client or a queue named it.
fn assert_key_labels_are_arns(m: &[Sample]) {
    for s in m.iter().filter(|s| s.name == "sealq_kms_calls_total") {
        let key = &s.labels["key"];
        assert!(
            key.is_empty() || (key.starts_with("arn:aws:kms:us-east-1:000000000000:key/")),
            "{s:?}"
        );
    }
}

#[tokio::test]
async fn kms_call_labels_name_keys_by_arn_whatever_form_the_call_used() {
    use aws_sdk_kms::primitives::Blob;
    use aws_sdk_sqs::error::ProvideErrorMetadata as _;

    let server = start().await;
    let k = kms(&server);
    let new_key = |alias: String| {
        let k = k.clone();
        async move {
            let arn = k
                .create_key()
                .send()
                .await
                .expect("CreateKey")
                .key_metadata
                .unwrap()
                .arn
                .unwrap();
            k.create_alias()
                .alias_name(&alias)
                .target_key_id(&arn)
                .send()
                .await
                .expect("CreateAlias");
            arn
        }
    };

    // KMS API: a disabled key named by alias, by alias ARN, and (Decrypt
    // without KeyId) by the key its ciphertext names.
    let alias = format!("alias/{}", unique("api"));
    let key_arn = new_key(alias.clone()).await;
    let blob = k
        .encrypt()
        .key_id(&alias)
        .plaintext(Blob::new(b"p".to_vec()))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .unwrap();
    k.disable_key().key_id(&key_arn).send().await.expect("DisableKey");
    let alias_arn = format!("arn:aws:kms:us-east-1:000000000000:{alias}");
    for named in [&alias, &alias_arn] {
        let err = k
            .encrypt()
            .key_id(named)
            .plaintext(Blob::new(b"p".to_vec()))
            .send()
            .await
            .unwrap_err();
        assert!(err.into_service_error().is_disabled_exception(), "{named}");
    }
    let err = k.decrypt().ciphertext_blob(blob).send().await.unwrap_err();
    assert!(err.into_service_error().is_disabled_exception());
    // An alias that names no key.
    let err = k
        .encrypt()
        .key_id(format!("alias/{}", unique("nope")))
        .plaintext(Blob::new(b"p".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_not_found_exception());

    // SSE-KMS: a queue naming a disabled key by alias, and one naming an
    // alias that does not exist; a send on each must call KMS and fails.
    let writer = sqs_as(&server, "AKIDWRITER");
    let sse_alias = format!("alias/{}", unique("sse"));
    let sse_arn = new_key(sse_alias.clone()).await;
    k.disable_key().key_id(&sse_arn).send().await.expect("DisableKey");
    let disabled = create_queue_with(&writer, "disabled", &[(Q::KmsMasterKeyId, &sse_alias)]).await;
    let missing_alias = format!("alias/{}", unique("missing"));
    let missing = create_queue_with(&writer, "missing", &[(Q::KmsMasterKeyId, &missing_alias)]).await;
    for (url, code) in [
        (&disabled, "KMS.DisabledException"),
        (&missing, "KMS.NotFoundException"),
    ] {
        let err = writer
            .send_message()
            .queue_url(url)
            .message_body("x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(code));
    }

    let m = scrape(&server).await;
    let calls = |caller: &str, op: &str, key: &str| {
        value(
            &m,
            "sealq_kms_calls_total",
            &[("caller", caller), ("operation", op), ("key", key)],
        )
    };
    assert_eq!(calls("api", "Encrypt", &key_arn), Some(3.0));
    assert_eq!(calls("api", "Decrypt", &key_arn), Some(1.0));
    assert_eq!(calls("api", "Encrypt", ""), Some(1.0));
    assert_eq!(calls("sqs", "GenerateDataKey", &sse_arn), Some(1.0));
    assert_eq!(calls("sqs", "GenerateDataKey", ""), Some(1.0));
    assert_key_labels_are_arns(&m);

    // The ledger names the disabled key by ARN too; a key that does not
    // exist keeps the name the queue gave it.
    let ledger = |url: &str| {
        let name = url.rsplit('/').next().unwrap().to_owned();
        let server = &server;
        async move {
            let serde_json::Value::Array(calls) =
                common::admin_get(server, &format!("/kms/calls?queue={name}")).await
            else {
                panic!("not an array")
            };
            calls
        }
    };
    let calls = ledger(&disabled).await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["key_arn"], serde_json::json!(sse_arn));
    assert_eq!(calls[0]["error"], "DisabledException");
    let calls = ledger(&missing).await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["key_arn"], serde_json::json!(missing_alias));
    assert_eq!(calls[0]["error"], "NotFoundException");
}

#[tokio::test]
async fn a_consumer_decrypt_of_a_deleted_key_is_labelled_empty() {
    let server = start().await;
    let k = kms(&server);
    let key_arn = k
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let writer = sqs_as(&server, "AKIDWRITER");
    let url = create_queue_with(
        &writer,
        "deleted-key",
        &[
            (Q::KmsMasterKeyId, &key_arn),
            (Q::MessageRetentionPeriod, "1209600"),
        ],
    )
    .await;
    writer
        .send_message()
        .queue_url(&url)
        .message_body("sealed under a key about to go")
        .send()
        .await
        .expect("send");
    k.schedule_key_deletion()
        .key_id(&key_arn)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    server.advance(8 * 86_400);
    // A new consumer must Decrypt the data key: its key is gone.
    let got = sqs_as(&server, "AKIDREADER")
        .receive_message()
        .queue_url(&url)
        .send()
        .await;
    assert!(got.is_err(), "{got:?}");

    let m = scrape(&server).await;
    let sqs_decrypts = |key: &str| {
        value(
            &m,
            "sealq_kms_calls_total",
            &[("caller", "sqs"), ("operation", "Decrypt"), ("key", key)],
        )
    };
    // The writer's verification Decrypt, while the key existed; the
    // reader's, after.
    assert_eq!(sqs_decrypts(&key_arn), Some(1.0));
    assert_eq!(sqs_decrypts(""), Some(1.0));
    assert_key_labels_are_arns(&m);
    // The ledger still says which key the envelope named.
    let serde_json::Value::Array(calls) = common::admin_get(&server, "/kms/calls?principal=AKIDREADER").await
    else {
        panic!("not an array")
    };
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["key_arn"], serde_json::json!(key_arn));
    assert!(calls[0]["error"].is_string(), "{calls:#?}");
}

/// Collects the lines a child writes to stderr, in a thread.
fn collect_lines(stderr: std::process::ChildStderr) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect())
}

#[tokio::test]
async fn json_logs_have_one_line_per_request_and_never_a_body() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealq"))
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--log-format",
            "json",
        ])
        .env("RUST_LOG", "sealq=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sealq");
    let lines = collect_lines(child.stderr.take().expect("stderr"));
    let running = common::Binary(child);
    wait_healthy(port).await;

    let endpoint = format!("http://127.0.0.1:{port}");
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDLOGTEST",
            "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRET",
            None,
            None,
            "test",
        ))
        .endpoint_url(&endpoint)
        .build();
    let c = aws_sdk_sqs::Client::from_conf(conf);
    let name = unique("logged");
    let url = c
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .unwrap();
    let body = "distinctive-body-7f3a9c the plaintext must never be logged";
    c.send_message()
        .queue_url(&url)
        .message_body(body)
        .send()
        .await
        .expect("send");
    let got = c
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default();
    assert_eq!(got[0].body(), Some(body));
    let missing = c.get_queue_url().queue_name("no-such-queue-here").send().await;
    assert!(missing.is_err());
    // Let the server write its last lines, then stop it (closing stderr).
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(running);
    let lines = tokio::task::spawn_blocking(move || lines.join().expect("reader"))
        .await
        .unwrap();

    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l}")))
        .collect();
    for l in &lines {
        assert!(!l.contains("distinctive-body"), "a body was logged: {l}");
        assert!(!l.contains("SECRET"), "a secret was logged: {l}");
        assert!(!l.contains("Signature"), "a signature was logged: {l}");
    }
    assert!(
        parsed
            .iter()
            .any(|v| v["message"] == "sealq listening" && v["level"] == "INFO"),
        "{lines:#?}"
    );
    let requests: Vec<&serde_json::Value> = parsed.iter().filter(|v| v["message"] == "request").collect();
    let find = |action: &str| {
        requests
            .iter()
            .copied()
            .filter(|v| v["action"] == action)
            .collect::<Vec<_>>()
    };
    let sends = find("SendMessage");
    assert_eq!(sends.len(), 1, "{lines:#?}");
    let send = sends[0];
    assert_eq!(send["level"], "DEBUG");
    assert_eq!(send["queue"], serde_json::json!(name));
    assert_eq!(send["principal"], "arn:aws:iam::000000000000:user/AKIDLOGTEST");
    assert_eq!(send["protocol"], "json");
    assert_eq!(send["status"], 200);
    assert!(send["latency_us"].is_u64(), "{send}");
    // Open mode let this unregistered key through without a check; no TLS.
    assert_eq!(send["auth"], "unchecked");
    assert_eq!(send["tls"], "no");
    assert_eq!(find("CreateQueue")[0]["queue"], serde_json::json!(name));
    assert_eq!(find("ReceiveMessage").len(), 1);
    let miss = find("GetQueueUrl");
    assert_eq!(miss.len(), 1);
    assert_eq!(miss[0]["status"], 400);
    assert_eq!(miss[0]["queue"], "no-such-queue-here");
    // Admin requests are not AWS API requests: no request line for them.
    assert_eq!(requests.len(), 4, "{lines:#?}");
}

/// Starts the binary with `configure`, waits until it is healthy, stops it
/// and returns what it wrote to stderr.
async fn stderr_of(configure: impl FnOnce(&mut Command)) -> Vec<String> {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealq"));
    cmd.args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env_remove("SEALQ_LOG_FORMAT")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    configure(&mut cmd);
    let mut child = cmd.spawn().expect("spawn sealq");
    let lines = collect_lines(child.stderr.take().expect("stderr"));
    let running = common::Binary(child);
    wait_healthy(port).await;
    drop(running);
    tokio::task::spawn_blocking(move || lines.join().expect("reader"))
        .await
        .unwrap()
}

#[tokio::test]
async fn logs_are_human_by_default_and_json_from_the_environment() {
    let human = stderr_of(|_| {}).await;
    let listening = human
        .iter()
        .find(|l| l.contains("sealq listening"))
        .unwrap_or_else(|| panic!("{human:#?}"));
    assert!(serde_json::from_str::<serde_json::Value>(listening).is_err());
    assert!(listening.contains("INFO"), "{listening}");
    // Not a terminal: no colour escapes.
    assert!(!listening.contains('\u{1b}'), "{listening:?}");
    // Info by default: no request lines.
    assert!(!human.iter().any(|l| l.contains("DEBUG")), "{human:#?}");

    let json = stderr_of(|cmd| {
        cmd.env("SEALQ_LOG_FORMAT", "json");
    })
    .await;
    assert!(!json.is_empty());
    for l in &json {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
    }
}

#[tokio::test]
async fn while_loading_the_port_answers_503_starting_then_hands_over_to_the_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (loaded, loading) = tokio::sync::oneshot::channel();
    let starting = tokio::spawn(sealq::admin::starting::answer_until(listener, loading));
    let url = format!("http://{addr}/_sealq/health");
    for _ in 0..3 {
        let r = reqwest::get(&url).await.unwrap();
        assert_eq!(r.status().as_u16(), 503);
        assert_eq!(r.text().await.unwrap(), r#"{"status":"starting"}"#);
    }
    // An AWS call during loading is not served either.
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/"))
        .header("x-amz-target", "AmazonSQS.ListQueues")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    loaded.send(()).unwrap();
    let listener = starting.await.unwrap();
    let state = sealq::AppState::new(sealq::Config::default());
    state.set_ready();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sealq::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
