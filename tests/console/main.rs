//! The web console in a real headless browser: Chromium from Debian's
//! packages, driven through chromedriver (WebDriver), against a server fed
//! by the Rust SDKs.
//!
//! Its own harness (`harness = false`) so that a skip is always printed:
//! without Chromium and chromedriver the case is skipped with the reason;
//! with `SEALQ_REQUIRE_BROWSER=1` (as in CI) that is a failure instead.
//! Screenshots of every view (1280×800) are written to
//! `target/console-screenshots/`; with `SEALQ_UPDATE_SCREENSHOTS=1` also to
//! `docs/console/`, the pictures README shows.

#[path = "../common/mod.rs"]
mod common;
mod webdriver;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName as Q;
use common::{Server, kms, sqs, sqs_as};
use serde_json::Value;
use webdriver::{Browser, Found, Kind};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 800;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let required = std::env::var("SEALQ_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, kind) in [
        ("console_views_in_chromium", Kind::Chromium),
        ("console_views_in_firefox", Kind::Firefox),
    ] {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let started = Instant::now();
        let outcome = match webdriver::find_browser(kind) {
            Err(reason) if required => Err(format!("SEALQ_REQUIRE_BROWSER=1 but {reason}")),
            Err(reason) => {
                println!("SKIP {name}: {reason}");
                skipped += 1;
                continue;
            }
            Ok(found) => rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(240), console_views(&found))
                    .await
                    .unwrap_or_else(|_| Err("timed out after 240 s".into()))
            }),
        };
        match outcome {
            Ok(()) => {
                println!("PASS {name} ({:.1} s)", started.elapsed().as_secs_f64());
                passed += 1;
            }
            Err(e) => {
                println!("FAIL {name}: {e}");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        std::process::exit(1);
    }
}

/// Fails with `what` unless `ok`.
fn check(ok: bool, what: impl Into<String>) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.into()) }
}

/// Writes a screenshot of the current view for the record.
async fn shot(b: &Browser, name: &str) -> Result<(), String> {
    // Chromium's pictures are the record (and README's); Firefox's are
    // kept beside them for comparison.
    let name = &match b.kind() {
        Kind::Chromium => name.to_owned(),
        Kind::Firefox => format!("firefox-{name}"),
    };
    let png = b.screenshot().await?;
    check(
        png.starts_with(b"\x89PNG"),
        format!("screenshot {name} is not a PNG"),
    )?;
    let mut dirs = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../console-screenshots")];
    if b.kind() == Kind::Chromium && std::env::var("SEALQ_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        dirs.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/console"));
    }
    for dir in dirs {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(dir.join(format!("{name}.png")), &png).map_err(|e| format!("{name}.png: {e}"))?;
    }
    Ok(())
}

/// The number `script` returns.
async fn number(b: &Browser, script: &str) -> Result<i64, String> {
    b.js(script)
        .await?
        .as_i64()
        .ok_or_else(|| format!("not a number from {script}"))
}

/// Text of the first element `css` selects ("" when none).
async fn text_of(b: &Browser, css: &str) -> Result<String, String> {
    let css = serde_json::to_string(css).map_err(|e| e.to_string())?;
    Ok(b.js(&format!(
        "const e = document.querySelector({css}); return e ? e.textContent : '';"
    ))
    .await?
    .as_str()
    .unwrap_or_default()
    .to_owned())
}

/// Sends `body` to `url` as `who`, which must succeed.
async fn send(c: &aws_sdk_sqs::Client, url: &str, body: &str) -> Result<(), String> {
    c.send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .map(drop)
        .map_err(|e| format!("SendMessage: {e:?}"))
}

/// The queues the scenario uses: an SSE-KMS queue with an SSE-KMS DLQ, an
/// SSE-SQS queue and an unencrypted one.
struct Setup {
    orders: String,
    orders_arn: String,
    audit_log: String,
    scratch: String,
    key_arn: String,
}

async fn setup(server: &Server) -> Result<Setup, String> {
    let k = kms(server);
    let key = k
        .create_key()
        .description("orders")
        .send()
        .await
        .map_err(|e| format!("CreateKey: {e:?}"))?;
    let meta = key.key_metadata().ok_or("no key metadata")?;
    k.create_alias()
        .alias_name("alias/orders")
        .target_key_id(meta.key_id())
        .send()
        .await
        .map_err(|e| format!("CreateAlias: {e:?}"))?;
    let admin = sqs(server);
    let create = |name: &'static str, attrs: Vec<(Q, String)>| {
        let admin = admin.clone();
        async move {
            let mut req = admin.create_queue().queue_name(name);
            for (k, v) in attrs {
                req = req.attributes(k, v);
            }
            req.send()
                .await
                .map_err(|e| format!("CreateQueue {name}: {e:?}"))
                .map(|o| o.queue_url().unwrap_or_default().to_owned())
        }
    };
    let kms_attrs = || {
        vec![
            (Q::KmsMasterKeyId, "alias/orders".to_owned()),
            (Q::KmsDataKeyReusePeriodSeconds, "60".to_owned()),
        ]
    };
    let dlq = create("orders-dlq", kms_attrs()).await?;
    let dlq_arn = common::queue_arn(&admin, &dlq).await;
    let mut attrs = kms_attrs();
    attrs.push((
        Q::RedrivePolicy,
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":3}}"#),
    ));
    let orders = create("orders", attrs).await?;
    let orders_arn = common::queue_arn(&admin, &orders).await;
    let audit_log = create("audit-log", vec![]).await?;
    let scratch = create("scratch", vec![(Q::SqsManagedSseEnabled, "false".to_owned())]).await?;
    Ok(Setup {
        orders,
        orders_arn,
        audit_log,
        scratch,
        key_arn: meta.arn().unwrap_or_default().to_owned(),
    })
}

async fn console_views(found: &Found) -> Result<(), String> {
    let server = common::start().await;
    let q = setup(&server).await?;
    let producer_a = sqs_as(&server, "PRODUCERA");
    let producer_b = sqs_as(&server, "PRODUCERB");
    let consumer = sqs_as(&server, "CONSUMER1");
    for i in 0..2 {
        send(&producer_a, &q.orders, &format!("secret order a{i}")).await?;
        send(&producer_b, &q.orders, &format!("secret order b{i}")).await?;
    }
    send(&producer_a, &q.scratch, "hello in clear").await?;
    send(&producer_a, &q.audit_log, "secret audit entry").await?;
    let mut received = 0;
    while received < 4 {
        let got = consumer
            .receive_message()
            .queue_url(&q.orders)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .map_err(|e| format!("ReceiveMessage: {e:?}"))?;
        check(!got.messages().is_empty(), "the consumer received nothing")?;
        received += got.messages().len();
    }

    let b = Browser::start(found, WIDTH, HEIGHT).await?;
    // The error detector itself must see an uncaught error in the page.
    b.goto(&format!("{}/_sealq/console", server.endpoint)).await?;
    b.js("setTimeout(() => { throw new Error('detector probe'); }, 0); return true;")
        .await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = b.page_errors().await?;
        if seen.iter().any(|e| e.contains("detector probe")) {
            break;
        }
        check(
            Instant::now() < deadline,
            "the page-error detector missed a thrown error",
        )?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = walk_views(&b, &server, &q, &producer_a).await;
    // Whatever happened, the page must not have thrown.
    let errors = b.page_errors().await.unwrap_or_default();
    b.quit().await;
    result?;
    check(
        errors.is_empty(),
        format!("JavaScript errors in the page: {errors:?}"),
    )
}

async fn walk_views(
    b: &Browser,
    server: &Server,
    q: &Setup,
    producer_a: &aws_sdk_sqs::Client,
) -> Result<(), String> {
    let console = format!("{}/_sealq/console", server.endpoint);

    // Queues: every queue, its encryption, counts and dead-letter links.
    b.goto(&console).await?;
    b.wait_for(
        "the queues table",
        "return document.querySelector('#queues-table tr[data-queue=\"orders\"]')",
    )
    .await?;
    let row = |name: &str| format!("#queues-table tr[data-queue=\"{name}\"]");
    let orders = text_of(b, &row("orders")).await?;
    check(
        orders.contains("SSE-KMS") && orders.contains("alias/orders"),
        format!("orders row: {orders}"),
    )?;
    check(
        orders.contains("orders-dlq after 3"),
        format!("orders row lacks its DLQ: {orders}"),
    )?;
    let in_flight = text_of(b, &format!("{} td:nth-child(8)", row("orders"))).await?;
    check(in_flight == "4", format!("orders in flight: {in_flight}"))?;
    check(
        text_of(b, &row("audit-log")).await?.contains("SSE-SQS"),
        "audit-log is not SSE-SQS",
    )?;
    check(
        text_of(b, &row("scratch")).await?.contains("not encrypted"),
        "scratch is not shown unencrypted",
    )?;
    let dlq = text_of(b, &format!("{} td:nth-child(11)", row("orders-dlq"))).await?;
    check(dlq == "orders", format!("orders-dlq is the DLQ of: {dlq}"))?;
    // Findings of the audit, per queue: scratch is not encrypted (high),
    // has no HTTPS-only policy (medium) and no dead-letter queue (low).
    b.wait_for(
        "findings",
        &format!(
            "return document.querySelector('{} td.findings a')",
            row("scratch")
        ),
    )
    .await?;
    let found = text_of(b, &format!("{} td.findings", row("scratch"))).await?;
    check(found == "high medium low", format!("scratch's findings: {found}"))?;
    let width = number(b, "return document.documentElement.scrollWidth").await?;
    check(
        width <= i64::from(WIDTH),
        format!("the page is {width} px wide at {WIDTH}×{HEIGHT}"),
    )?;
    shot(b, "queues").await?;

    // A queue: envelopes as stored, never a plaintext body.
    b.click(&format!("{} td:nth-child(3) a", row("orders"))).await?;
    b.wait_for(
        "four envelopes",
        "return document.querySelectorAll('#messages-table tr[data-message]').length === 4",
    )
    .await?;
    let table = text_of(b, "#messages-table").await?;
    let key_id = q.key_arn.rsplit('/').next().unwrap_or_default();
    check(
        table.contains(&format!("key/{key_id}")),
        "the envelopes do not name the key",
    )?;
    check(
        table.contains(&q.orders_arn),
        "the envelopes do not show the encryption context",
    )?;
    let html = b.js("return document.documentElement.outerHTML").await?;
    check(
        !html.as_str().unwrap_or_default().contains("secret order"),
        "a plaintext body is on the page",
    )?;
    shot(b, "queue").await?;

    // Follow a message: the producer's GenerateDataKey and check Decrypt,
    // the AAD, and the consumer's Decrypt.
    b.click("#messages-table tr[data-message] td:first-child a")
        .await?;
    b.wait_for(
        "the walkthrough",
        "return document.querySelector('#follow ol.steps')",
    )
    .await?;
    let follow = text_of(b, "#follow").await?;
    for needle in [
        "GenerateDataKey",
        "user/PRODUCERA",
        "AES-256-GCM",
        "user/CONSUMER1",
        "kms:Decrypt",
    ] {
        check(
            follow.contains(needle),
            format!("the walkthrough lacks {needle}: {follow}"),
        )?;
    }
    shot(b, "follow").await?;

    // Data keys, reached from the keyboard: Enter on the nav link.
    b.keys("nav a[data-view=datakeys]", "\u{E007}").await?;
    b.wait_for("both caches", "return document.querySelectorAll('#producer-table tr[data-principal]').length === 3 && document.querySelectorAll('#consumer-table tr[data-principal]').length === 1")
        .await?;
    let pa = text_of(
        b,
        "#producer-table tr[data-principal$=\"user/PRODUCERA\"][data-queue=\"orders\"]",
    )
    .await?;
    check(pa.contains(&q.key_arn), format!("PRODUCERA's entry: {pa}"))?;
    // Two sends: one miss (the key was made), one hit.
    let hits = text_of(
        b,
        "#producer-table tr[data-principal$=\"user/PRODUCERA\"][data-queue=\"orders\"] td:nth-child(9)",
    )
    .await?;
    let misses = text_of(
        b,
        "#producer-table tr[data-principal$=\"user/PRODUCERA\"][data-queue=\"orders\"] td:nth-child(10)",
    )
    .await?;
    check(
        hits == "1" && misses == "1",
        format!("PRODUCERA hits {hits}, misses {misses}"),
    )?;
    let countdown = text_of(b, "#producer-table tr[data-queue=\"orders\"] .countdown").await?;
    check(
        countdown.ends_with('s') && countdown != "expired",
        format!("countdown: {countdown}"),
    )?;
    shot(b, "datakeys").await?;

    // KMS calls: the ledger, and the cost formula for the orders queue.
    b.click("nav a[data-view=kms]").await?;
    b.wait_for(
        "the calls",
        "return document.querySelectorAll('#calls-table tr[data-seq]').length === 7",
    )
    .await?;
    let ledger = common::admin_get(server, "/kms/calls").await;
    check(
        ledger.as_array().map(Vec::len) == Some(7),
        format!("ledger: {ledger}"),
    )?;
    b.click(&format!("#f-queue option[value=\"{}\"]", q.orders_arn))
        .await?;
    b.wait_for(
        "the orders filter",
        "return document.getElementById('calls-count').textContent.startsWith('5 call')",
    )
    .await?;
    for (id, want) in [("cost-p", "2"), ("cost-c", "1"), ("cost-d", "60")] {
        let got = b
            .js(&format!("return document.getElementById('{id}').value"))
            .await?;
        check(got == want, format!("{id} is {got}, want {want}"))?;
    }
    // One period so far: 2P + C calls predicted and made.
    check(
        text_of(b, "#cost-whole").await? == "5",
        "whole-period prediction is not 5",
    )?;
    check(
        text_of(b, "#cost-observed").await? == "5",
        "observed calls are not 5",
    )?;
    let lanes = number(
        b,
        "return document.querySelectorAll('#timeline svg circle').length",
    )
    .await?;
    check(lanes == 5, format!("{lanes} dots on the timeline"))?;
    shot(b, "kms").await?;

    // Clock: advancing it from the page expires the data keys; the next
    // send makes a new GenerateDataKey, which the KMS view shows.
    b.click("nav a[data-view=clock]").await?;
    b.wait_for(
        "the clock",
        "return document.getElementById('clock-now').textContent",
    )
    .await?;
    b.type_into("#advance-seconds", "61").await?;
    b.click("#advance").await?;
    b.wait_for(
        "the advance",
        "return document.getElementById('status').textContent.startsWith('Clock advanced by 61')",
    )
    .await?;
    b.click("#fault-unavailable").await?;
    b.wait_for(
        "the fault",
        "return document.getElementById('fault-now')?.textContent === 'unavailable'",
    )
    .await?;
    let refused = producer_a
        .send_message()
        .queue_url(&q.orders)
        .message_body("x")
        .send()
        .await;
    check(
        refused.is_err(),
        "a send needing KMS succeeded while KMS was unavailable",
    )?;
    b.wait_for(
        "the failed call",
        "return document.querySelector('#recent-table .deny')",
    )
    .await?;
    shot(b, "clock").await?;
    b.click("#fault-healthy").await?;
    b.wait_for(
        "KMS healthy",
        "return document.getElementById('fault-now')?.textContent === 'healthy'",
    )
    .await?;
    b.click("nav a[data-view=datakeys]").await?;
    // The orders queue's 60 s keys are gone; audit-log's (SSE-SQS, 300 s) stays.
    b.wait_for("expired caches", "return document.querySelector('#producer-table') && document.querySelectorAll('#producer-table tr[data-queue=orders]').length === 0 && document.querySelectorAll('#producer-table tr[data-queue=audit-log]').length === 1")
        .await?;
    send(producer_a, &q.orders, "after the period").await?;
    b.click("nav a[data-view=kms]").await?;
    b.wait_for("a new GenerateDataKey", "return Array.from(document.querySelectorAll('#calls-table tr[data-operation=GenerateDataKey]')).some(tr => Number(tr.dataset.seq) > 8 && tr.textContent.includes('user/PRODUCERA') && tr.textContent.includes('ok'))")
        .await?;

    // Keys: the key, its alias, state, rotation and pretty-printed policy.
    b.click("nav a[data-view=keys]").await?;
    b.wait_for(
        "the keys table",
        "return document.querySelector('#keys-table tr[data-key]')",
    )
    .await?;
    let key_row = text_of(b, "#keys-table tr[data-key]").await?;
    check(
        key_row.contains("alias/orders") && key_row.contains("Enabled"),
        format!("key row: {key_row}"),
    )?;
    b.click("#keys-table tr[data-key] summary").await?;
    let policy = text_of(b, "#keys-table tr[data-key] pre").await?;
    check(
        policy.contains("\n  \"Statement\""),
        format!("the policy is not pretty-printed: {policy}"),
    )?;
    shot(b, "keys").await?;

    // Decisions: the evaluator's latest decisions with their explanation.
    b.click("nav a[data-view=decisions]").await?;
    b.wait_for(
        "decisions",
        "return document.querySelectorAll('#decisions-table tbody tr').length > 1",
    )
    .await?;
    let decisions = text_of(b, "#decisions-table").await?;
    check(
        decisions.contains("sqs:SendMessage") && decisions.contains("kms:GenerateDataKey"),
        "decisions lack SendMessage or the KMS call through SQS",
    )?;
    shot(b, "decisions").await?;

    // Audit: the same findings as GET /_sealq/audit, each with why and fix.
    b.click("nav a[data-view=audit]").await?;
    b.wait_for(
        "the findings",
        "return document.querySelector('#audit-table tr[data-rule=\"sqs-not-encrypted\"]')",
    )
    .await?;
    let served = common::admin_get(server, "/audit").await;
    let rows = number(
        b,
        "return document.querySelectorAll('#audit-table tr[data-rule]').length",
    )
    .await?;
    let want = served["findings"].as_array().map_or(0, Vec::len);
    check(
        usize::try_from(rows).ok() == Some(want),
        format!("{rows} rows for {want} findings"),
    )?;
    let unencrypted = text_of(b, "#audit-table tr[data-rule=\"sqs-not-encrypted\"]").await?;
    check(
        unencrypted.contains(":scratch") && unencrypted.contains("SqsManagedSseEnabled=true"),
        format!("finding: {unencrypted}"),
    )?;
    shot(b, "audit").await?;

    // Clearing the ledger empties the KMS view without a reload.
    b.click("nav a[data-view=kms]").await?;
    b.wait_for(
        "the calls",
        "return document.querySelectorAll('#calls-table tr[data-seq]').length > 0",
    )
    .await?;
    reqwest::Client::new()
        .delete(format!("{}/_sealq/kms/calls", server.endpoint))
        .send()
        .await
        .map_err(|e| format!("DELETE /_sealq/kms/calls: {e}"))?;
    b.wait_for(
        "the cleared ledger",
        "return document.getElementById('calls-count').textContent.startsWith('0 call(s) shown of 0')",
    )
    .await?;

    // Nothing was left unexplained in the status line.
    let status: Value = b.js("return document.getElementById('status').className").await?;
    check(
        status != "error",
        format!("status line shows an error: {}", text_of(b, "#status").await?),
    )
}
