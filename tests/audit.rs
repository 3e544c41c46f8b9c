//! `sealq audit` as users run it: the binary on a configuration file
//! (offline) and against a running server (fed by the SDKs), its three
//! formats, `--fail-on`, and its answers to bad input; `GET /_sealq/audit`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_sqs::types::QueueAttributeName as Q;
use common::{admin_get, sqs};
use serde_json::Value;

const EVERY: &str = "tests/fixtures/audit/every-finding.toml";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `sealq audit ARGS` in the repository: exit code, stdout, stderr.
async fn audit(args: &[&str]) -> (Option<i32>, String, String) {
    let args = std::iter::once("audit")
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect();
    common::run_sealq(&root(), args).await
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn a_file_with_one_instance_of_every_finding_gives_exactly_those() {
    let (code, out, err) = audit(&["--config", EVERY, "--format", "json"]).await;
    assert_eq!(code, Some(0), "{err}");
    let want: Value =
        json(&std::fs::read_to_string(root().join("tests/fixtures/audit/every-finding.json")).unwrap());
    assert_eq!(json(&out), want);
    // One per rule, every rule once.
    let rules: Vec<&str> = want["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    let mut sorted = rules.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 11);
    assert_eq!(rules.len(), 11);
}

#[tokio::test]
async fn the_least_privilege_sample_is_clean() {
    let (code, out, err) = audit(&["--config", "docker/least-privilege.toml", "--format", "json"]).await;
    assert_eq!(code, Some(0), "{err}");
    let v = json(&out);
    assert_eq!(v["findings"], serde_json::json!([]), "{out}");
    let (code, out, _) = audit(&["--config", "docker/least-privilege.toml", "--fail-on", "info"]).await;
    assert_eq!(code, Some(0));
    assert!(out.starts_with("No findings."), "{out}");
}

#[tokio::test]
async fn the_table_reads_well_and_fail_on_sets_the_exit_code() {
    let (code, out, _) = audit(&["--config", EVERY]).await;
    assert_eq!(code, Some(0), "without --fail-on findings never fail");
    assert!(out.contains("CRITICAL  policy-public-principal"), "{out}");
    assert!(out.contains("arn:aws:sqs:us-east-1:000000000000:open"), "{out}");
    assert!(out.contains("          fix:  "), "{out}");
    assert!(
        out.trim_end()
            .ends_with("11 finding(s): 1 critical, 2 high, 5 medium, 1 low, 2 info"),
        "{out}"
    );
    // Wrapped at 100 columns; only a word longer than that (a policy
    // statement, an ARN) makes a longer line, alone after its indent.
    for line in out.lines().filter(|l| l.len() > 100) {
        let rest = line
            .trim_start()
            .trim_start_matches("fix:")
            .trim_start_matches("what:")
            .trim_start();
        assert!(
            !rest.contains(' ') || line.starts_with(|c: char| c.is_ascii_uppercase()),
            "{line}"
        );
    }
    for (level, code) in [("critical", 1), ("info", 1)] {
        assert_eq!(
            audit(&["--config", EVERY, "--fail-on", level]).await.0,
            Some(code),
            "{level}"
        );
    }
    // Only info findings: --fail-on low passes, --fail-on info fails.
    let only_info = std::env::temp_dir().join(format!("sealq-audit-info-{}.toml", std::process::id()));
    std::fs::write(
        &only_info,
        "[[keys]]\nkey_id = \"a1a1a1a1-0000-4000-8000-000000000001\"\naliases = [\"alias/app\"]\nrotation = { enabled = true }\n\
         [[queues]]\nname = \"dlq\"\nattributes = { KmsMasterKeyId = \"alias/app\", Policy = '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"sqs:*\",\"Resource\":\"*\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}]}' }\n\
         [[queues]]\nname = \"q\"\nattributes = { SqsManagedSseEnabled = \"true\", RedrivePolicy = '{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:dlq\",\"maxReceiveCount\":3}', Policy = '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"sqs:*\",\"Resource\":\"*\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}]}' }\n",
    )
    .unwrap();
    let path = only_info.to_str().unwrap();
    let (code, out, err) = audit(&["--config", path, "--fail-on", "low"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("sqs-sse-service-key"), "{out}");
    assert_eq!(audit(&["--config", path, "--fail-on", "info"]).await.0, Some(1));
    let _ = std::fs::remove_file(&only_info);
}

/// Where cargo unpacked serde-sarif, whose `src/schema.json` is the SARIF
/// 2.1.0 schema.
fn sarif_schema() -> PathBuf {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1"])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    let meta = json(&String::from_utf8_lossy(&out.stdout));
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "serde-sarif")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("serde-sarif among the packages")
        .to_owned();
    Path::new(&manifest).parent().unwrap().join("src/schema.json")
}

#[tokio::test]
async fn sarif_is_valid_sarif_2_1_0_and_points_into_the_file() {
    let (code, out, err) = audit(&["--config", EVERY, "--format", "sarif"]).await;
    assert_eq!(code, Some(0), "{err}");
    let v = json(&out);
    // The schema, with a JSON Schema validator (jsonschema in the compat
    // venv that tests/compat/setup.sh makes; scripts/test.sh runs it first).
    let python = root().join(".venv/compat-json/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run tests/compat/setup.sh (scripts/test.sh does)",
        python.display()
    );
    let schema = sarif_schema();
    let doc = std::env::temp_dir().join(format!("sealq-audit-{}.sarif", std::process::id()));
    std::fs::write(&doc, &out).unwrap();
    let check = Command::new(&python)
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             doc = json.load(open(sys.argv[2]))\n\
             jsonschema.Draft7Validator.check_schema(schema)\n\
             errors = list(jsonschema.Draft7Validator(schema).iter_errors(doc))\n\
             for e in errors: print(list(e.absolute_path), e.message)\n\
             sys.exit(1 if errors else 0)",
        ])
        .arg(&schema)
        .arg(&doc)
        .output()
        .expect("run the validator");
    let _ = std::fs::remove_file(&doc);
    assert!(
        check.status.success(),
        "SARIF does not validate against {}:\n{}{}",
        schema.display(),
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    // And it reads back into types generated from that schema.
    let typed: serde_sarif::sarif::Sarif = serde_json::from_value(v.clone()).expect("serde-sarif reads it");
    assert_eq!(typed.runs.len(), 1);

    let run = &v["runs"][0];
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["name"], "sealq");
    assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 11);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 11);
    let public = results
        .iter()
        .find(|r| r["ruleId"] == "policy-public-principal")
        .unwrap();
    assert_eq!(public["level"], "error");
    let rule = &run["tool"]["driver"]["rules"][public["ruleIndex"].as_u64().unwrap() as usize];
    assert_eq!(rule["id"], "policy-public-principal");
    assert_eq!(rule["properties"]["security-severity"], "9.5");
    // The finding points at the line of the file that declares the queue.
    let physical = &public["locations"][0]["physicalLocation"];
    assert_eq!(physical["artifactLocation"]["uri"], EVERY);
    let line = physical["region"]["startLine"].as_u64().unwrap() as usize;
    let text = std::fs::read_to_string(root().join(EVERY)).unwrap();
    assert_eq!(text.lines().nth(line - 1), Some("name = \"open\""), "line {line}");
    assert_eq!(
        public["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "arn:aws:sqs:us-east-1:000000000000:open"
    );
}

#[tokio::test]
async fn a_running_server_is_audited_alike_by_endpoint_and_cli() {
    let server = common::start().await;
    let admin = sqs(&server);
    admin
        .create_queue()
        .queue_name("plain")
        .attributes(Q::SqsManagedSseEnabled, "false")
        .send()
        .await
        .expect("CreateQueue");
    let served = admin_get(&server, "/audit").await;
    let rules: Vec<&str> = served["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        vec!["sqs-not-encrypted", "sqs-no-secure-transport", "sqs-no-dlq"]
    );
    assert_eq!(served["summary"]["high"], 1);
    let (code, out, err) = audit(&["--endpoint", &server.endpoint, "--format", "json"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(json(&out), served);
    let (code, _, _) = audit(&["--endpoint", &server.endpoint, "--fail-on", "high"]).await;
    assert_eq!(code, Some(1));
    // SARIF from the server carries the ARN as a logical location only.
    let sarif = admin_get(&server, "/audit?format=sarif").await;
    let loc = &sarif["runs"][0]["results"][0]["locations"][0];
    assert!(loc.get("physicalLocation").is_none(), "{loc}");
    assert_eq!(
        loc["logicalLocations"][0]["fullyQualifiedName"],
        "arn:aws:sqs:us-east-1:000000000000:plain"
    );
}

#[tokio::test]
async fn bad_input_exits_2_with_a_clear_message() {
    let missing = audit(&["--config", "no/such/file.toml"]).await;
    assert_eq!(missing.0, Some(2));
    assert!(missing.2.contains("no/such/file.toml"), "{}", missing.2);
    assert!(missing.1.is_empty());

    let bad = std::env::temp_dir().join(format!("sealq-audit-bad-{}.toml", std::process::id()));
    std::fs::write(
        &bad,
        "[[queues]]\nname = \"q\"\nattributes = { VisibilityTimeout = \"-1\" }\n",
    )
    .unwrap();
    let (code, _, err) = audit(&["--config", bad.to_str().unwrap()]).await;
    let _ = std::fs::remove_file(&bad);
    assert_eq!(code, Some(2));
    assert!(err.starts_with("sealq audit: ") && err.contains(":3:"), "{err}");

    let port = common::free_port();
    let (code, _, err) = audit(&["--endpoint", &format!("http://127.0.0.1:{port}")]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot reach"), "{err}");

    let (code, _, err) = audit(&["--config", EVERY, "--format", "xml"]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("table, json, sarif"), "{err}");
    let (code, _, err) = audit(&["--config", EVERY, "--fail-on", "urgent"]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("critical, high, medium, low, info"), "{err}");
    let (code, _, err) = audit(&["--config", EVERY, "--endpoint", "http://localhost:9324"]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot be used with"), "{err}");
}
