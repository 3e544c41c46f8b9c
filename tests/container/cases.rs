//! The cases: what a user of the image sees.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName as Attr;

use crate::Outcome;
use crate::common;
use crate::docker::{
    CLIENT_IMAGE, IMAGE, Scratch, docker, docker_run, published, root, run_cmd, wait_exit, wait_healthy,
};

/// `docker run` options every sealq container of these tests gets: the
/// hardening a careful compose file or CI service uses.
const HARDENED: [&str; 5] = [
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
];

fn check(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(why()) }
}

fn json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON ({e}): {text}"))
}

/// Starts a hardened sealq container (detached, port published on
/// 127.0.0.1) with `extra` docker options and `args` for sealq.
async fn start(scratch: &mut Scratch, extra: &[&str], args: &[&str]) -> Result<String, String> {
    let name = scratch.container("sealq");
    let mut cmd = vec!["run", "-d", "--name", &name, "-p", "127.0.0.1::9324"];
    cmd.extend(HARDENED);
    cmd.extend(extra);
    cmd.push(IMAGE);
    cmd.extend(args);
    docker(&cmd).await?;
    Ok(name)
}

/// The SDK endpoint of a container's published port.
async fn endpoint(container: &str) -> Result<String, String> {
    Ok(format!("http://{}", published(container, 9324).await?))
}

pub(crate) async fn image_is_static_non_root_and_small() -> Outcome {
    let inspect = json(&docker(&["image", "inspect", IMAGE]).await?)?;
    let image = &inspect[0];
    let size = image["Size"].as_u64().ok_or("no Size")?;
    check(size <= 20_000_000, || {
        format!("image is {size} bytes, over 20 MB")
    })?;
    let config = &image["Config"];
    let user = config["User"].as_str().unwrap_or_default();
    let uid = user.split(':').next().unwrap_or_default();
    check(uid.parse::<u32>().is_ok_and(|u| u != 0), || {
        format!("the image's user must be a non-root numeric uid, is {user:?}")
    })?;
    check(config["Entrypoint"] == serde_json::json!(["/sealq"]), || {
        format!("Entrypoint {}", config["Entrypoint"])
    })?;
    check(config["Cmd"] == serde_json::json!(["serve"]), || {
        format!("Cmd {}", config["Cmd"])
    })?;
    check(config["ExposedPorts"].get("9324/tcp").is_some(), || {
        format!("ExposedPorts {}", config["ExposedPorts"])
    })?;
    check(
        config["Healthcheck"]["Test"] == serde_json::json!(["CMD", "/sealq", "health"]),
        || format!("Healthcheck {}", config["Healthcheck"]),
    )?;
    let labels = &config["Labels"];
    for label in ["title", "description", "source", "version", "licenses"] {
        let key = format!("org.opencontainers.image.{label}");
        check(labels[&key].as_str().is_some_and(|v| !v.is_empty()), || {
            format!("label {key} missing: {labels}")
        })?;
    }
    let version = labels["org.opencontainers.image.version"]
        .as_str()
        .unwrap_or_default();
    check(version == env!("CARGO_PKG_VERSION"), || {
        format!(
            "version label {version}, Cargo.toml says {}",
            env!("CARGO_PKG_VERSION")
        )
    })?;
    // `docker build .` labels the image with the Dockerfile's default.
    let dockerfile = std::fs::read_to_string(format!("{}/Dockerfile", root())).map_err(|e| e.to_string())?;
    let default = format!("ARG SEALQ_VERSION={}\n", env!("CARGO_PKG_VERSION"));
    check(dockerfile.contains(&default), || {
        format!("the Dockerfile's SEALQ_VERSION default is not the crate's version ({default:?})")
    })?;

    // What the image holds: the binary and the data directory, nothing else.
    let mut scratch = Scratch::default();
    let name = scratch.container("files");
    docker(&["create", "--name", &name, IMAGE]).await?;
    let dir = scratch.dir()?;
    let tar = dir.join("fs.tar");
    let tar = tar.to_str().ok_or("temp path")?;
    docker(&["export", "-o", tar, &name]).await?;
    let listing = run_cmd("tar", &["-tf", tar], &[], Duration::from_secs(30))
        .await?
        .stdout;
    // Docker adds the mount points every container has.
    let docker_made = ["dev/", "etc/", "proc/", "sys/", ".dockerenv"];
    let own: Vec<&str> = listing
        .lines()
        .filter(|l| !docker_made.iter().any(|d| l.starts_with(d)))
        .collect();
    check(own == ["data/", "sealq"], || format!("the image holds {own:?}"))?;

    let binary = dir.join("sealq");
    let binary = binary.to_str().ok_or("temp path")?;
    docker(&["cp", &format!("{name}:/sealq"), binary]).await?;
    let file = run_cmd("file", &[binary], &[], Duration::from_secs(10))
        .await?
        .stdout;
    check(
        file.contains("statically linked") || file.contains("static-pie linked"),
        || format!("`file` says: {file}"),
    )?;
    let ldd = run_cmd("ldd", &[binary], &[], Duration::from_secs(10)).await?;
    let ldd_text = format!("{}{}", ldd.stdout, ldd.stderr);
    check(
        ldd_text.contains("statically linked") || ldd_text.contains("not a dynamic executable"),
        || format!("`ldd` says: {ldd_text}"),
    )?;
    Ok(format!(
        "{:.2} MB, user {user}; file: {}",
        size as f64 / 1e6,
        file.split(": ")
            .nth(1)
            .unwrap_or_default()
            .split(", BuildID")
            .next()
            .unwrap_or_default()
    ))
}

/// A round trip on an encrypted queue: send, receive, delete.
async fn round_trip(sqs: &aws_sdk_sqs::Client, url: &str, body: &str) -> Result<(), String> {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .map_err(|e| format!("SendMessage: {e:?}"))?;
    let got = sqs
        .receive_message()
        .queue_url(url)
        .wait_time_seconds(5)
        .send()
        .await
        .map_err(|e| format!("ReceiveMessage: {e:?}"))?
        .messages
        .unwrap_or_default();
    let m = got.first().ok_or("nothing received")?;
    check(m.body.as_deref() == Some(body), || {
        format!("received {:?}", m.body)
    })?;
    sqs.delete_message()
        .queue_url(url)
        .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
        .send()
        .await
        .map_err(|e| format!("DeleteMessage: {e:?}"))?;
    Ok(())
}

pub(crate) async fn hardened_container_serves_the_host_and_other_containers() -> Outcome {
    let mut scratch = Scratch::default();
    let net = scratch.network().await?;
    let data = scratch.volume().await?;
    let volume = format!("{data}:/data");
    let started = Instant::now();
    let name = start(
        &mut scratch,
        &["--network", &net, "-v", &volume, "-e", "SEALQ_DATA_DIR=/data"],
        &[],
    )
    .await?;
    wait_healthy(&name).await?;
    let healthy_after = started.elapsed();

    // From the host, through the published port: queue URLs name the
    // address the client used, and that address answers.
    let endpoint = endpoint(&name).await?;
    let sqs = common::sqs_at(&endpoint, "AKIDHOST");
    let url = sqs
        .create_queue()
        .queue_name("from-host")
        .send()
        .await
        .map_err(|e| format!("CreateQueue: {e:?}"))?
        .queue_url
        .unwrap_or_default();
    check(url == format!("{endpoint}/000000000000/from-host"), || {
        format!("queue URL {url} for a client of {endpoint}")
    })?;
    let sse = common::queue_attr(&sqs, &url, Attr::SqsManagedSseEnabled).await;
    check(sse.as_deref() == Some("true"), || {
        format!("SqsManagedSseEnabled {sse:?}")
    })?;
    round_trip(&sqs, &url, "from the host").await?;
    // Some query-protocol clients post to the queue URL itself: its host answers.
    let origin = url.trim_end_matches("/000000000000/from-host");
    let health = reqwest::get(format!("{origin}/_sealq/health"))
        .await
        .map_err(|e| format!("the queue URL's host does not answer: {e}"))?;
    check(health.status() == 200, || {
        format!("health at the queue URL's host: {}", health.status())
    })?;

    // From another container on the network, by container name: the example
    // client creates an SSE-KMS queue and its dead-letter queue and runs the
    // whole round trip on the queue URLs the server gave it.
    let client = scratch.container("client");
    let run = docker_run(&[
        "run",
        "--name",
        &client,
        "--network",
        &net,
        "--read-only",
        "--cap-drop",
        "ALL",
        "-e",
        &format!("SEALQ_ENDPOINT=http://{name}:9324"),
        "-e",
        "QUEUE=from-container",
        CLIENT_IMAGE,
    ])
    .await?;
    check(run.code == 0 && run.stdout.contains("compose client: OK"), || {
        format!("the client exited {}: {}{}", run.code, run.stdout, run.stderr)
    })?;
    let expected = format!("queue http://{name}:9324/000000000000/from-container:");
    check(run.stdout.contains(&expected), || {
        format!(
            "the client was not given URLs naming the container: {}",
            run.stdout
        )
    })?;
    // `sealq health` in a scratch container resolves the container's name
    // (static glibc, no NSS modules) and the queue URL's host answers there.
    let probe = scratch.container("probe");
    let health = docker_run(&[
        "run",
        "--name",
        &probe,
        "--network",
        &net,
        IMAGE,
        "health",
        "--endpoint",
        &format!("http://{name}:9324"),
    ])
    .await?;
    check(health.code == 0, || {
        format!(
            "sealq health by container name exited {}: {}",
            health.code, health.stderr
        )
    })?;
    let missing = docker_run(&[
        "run",
        "--rm",
        "--network",
        &net,
        IMAGE,
        "health",
        "--endpoint",
        "http://no-such-host:9324",
    ])
    .await?;
    check(
        missing.code == 1 && missing.stderr.contains("no-such-host"),
        || format!("health of an unknown host: {} {}", missing.code, missing.stderr),
    )?;
    Ok(format!(
        "healthy {:.2} s after docker run started",
        healthy_after.as_secs_f64()
    ))
}

pub(crate) async fn every_sealq_variable_works_in_the_container() -> Outcome {
    let mut scratch = Scratch::default();
    let data = scratch.volume().await?;
    let dir = scratch.dir()?;
    let config = dir.join("sealq.toml");
    std::fs::write(&config, "[[queues]]\nname = \"configured\"\n").map_err(|e| e.to_string())?;
    make_readable(&config)?;
    let mount = format!("{}:/etc/sealq/sealq.toml:ro", config.display());
    let volume = format!("{data}:/data");
    let name = scratch.container("sealq");
    let env = [
        "SEALQ_PORT=9400",
        "SEALQ_HOST=0.0.0.0",
        "SEALQ_REGION=eu-west-1",
        "SEALQ_ACCOUNT_ID=111122223333",
        "SEALQ_QUEUE_URL_BASE=http://queues.internal:9400",
        "SEALQ_SSE_SQS_BY_DEFAULT=false",
        "SEALQ_DATA_DIR=/data",
        "SEALQ_SYNC=normal",
        "SEALQ_CONFIG=/etc/sealq/sealq.toml",
        "SEALQ_LOG_FORMAT=json",
        "RUST_LOG=sealq=debug",
    ];
    let mut cmd = vec![
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        "127.0.0.1::9400",
        "-v",
        &volume,
        "-v",
        &mount,
    ];
    cmd.extend(HARDENED);
    for e in &env {
        cmd.extend(["-e", e]);
    }
    cmd.push(IMAGE);
    docker(&cmd).await?;
    // The image's health check follows SEALQ_PORT.
    wait_healthy(&name).await?;
    let endpoint = format!("http://{}", published(&name, 9400).await?);
    // Queues are regional: a client of SEALQ_REGION sees the file's queue.
    let sqs = common::sqs_signing(&endpoint, "AKIDENV", "secret", "eu-west-1");
    let url = sqs
        .get_queue_url()
        .queue_name("configured")
        .send()
        .await
        .map_err(|e| format!("GetQueueUrl of the configured queue: {e:?}"))?
        .queue_url
        .unwrap_or_default();
    check(
        url == "http://queues.internal:9400/111122223333/configured",
        || format!("queue URL {url}"),
    )?;
    let created = sqs
        .create_queue()
        .queue_name("created")
        .send()
        .await
        .map_err(|e| format!("CreateQueue: {e:?}"))?
        .queue_url
        .unwrap_or_default();
    let arn = common::queue_attr(&sqs, &created, Attr::QueueArn).await;
    check(
        arn.as_deref() == Some("arn:aws:sqs:eu-west-1:111122223333:created"),
        || format!("QueueArn {arn:?}"),
    )?;
    let sse = common::queue_attr(&sqs, &created, Attr::SqsManagedSseEnabled).await;
    check(sse.as_deref() == Some("false"), || {
        format!("SqsManagedSseEnabled {sse:?}")
    })?;
    // `sealq envelopes` inside the container finds the server through SEALQ_PORT too.
    let envelopes = docker_run(&["exec", &name, "/sealq", "envelopes", "created"]).await?;
    check(
        envelopes.code == 0 && envelopes.stdout.contains("created"),
        || format!("sealq envelopes: {} {}", envelopes.stdout, envelopes.stderr),
    )?;
    // JSON log lines, with the request lines of RUST_LOG=sealq=debug.
    let logs = docker_run(&["logs", &name]).await?.stderr;
    for line in logs.lines() {
        json(line).map_err(|e| format!("a log line is not JSON: {e}"))?;
    }
    check(logs.contains("\"action\":\"CreateQueue\""), || {
        format!("no request line: {logs}")
    })?;
    // The data directory: the created queue survives a restart.
    docker(&["restart", "-t", "10", &name]).await?;
    wait_healthy(&name).await?;
    let endpoint = format!("http://{}", published(&name, 9400).await?);
    let sqs = common::sqs_signing(&endpoint, "AKIDENV", "secret", "eu-west-1");
    sqs.get_queue_url()
        .queue_name("created")
        .send()
        .await
        .map_err(|e| format!("the queue did not survive a restart: {e:?}"))?;
    Ok(String::new())
}

/// Lets the container's user (not root) read a file the test wrote.
fn make_readable(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).map_err(|e| e.to_string())
}

pub(crate) async fn docker_stop_returns_open_long_polls_and_exits_0() -> Outcome {
    let mut scratch = Scratch::default();
    let name = start(&mut scratch, &[], &[]).await?;
    wait_healthy(&name).await?;
    let endpoint = endpoint(&name).await?;
    let sqs = common::sqs_at(&endpoint, "AKIDPOLL");
    let url = common::new_queue(&sqs, "polls").await;
    let polls: Vec<_> = (0..4).map(|_| common::long_poll(&sqs, &url, 20)).collect();
    // The polls reach the server and wait there (they would fail, not
    // pass, if the stop came first: the port would be closed).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    docker(&["stop", "-t", "10", &name]).await?;
    let stop_took = started.elapsed();
    for p in polls {
        let got = tokio::time::timeout(Duration::from_secs(5), p)
            .await
            .map_err(|_| "a long poll did not return after docker stop".to_owned())?
            .map_err(|e| format!("a long poll failed: {e}"))?;
        check(got.is_empty(), || {
            format!("a long poll returned {} messages", got.len())
        })?;
    }
    let code = docker(&["inspect", "-f", "{{.State.ExitCode}}", &name]).await?;
    check(code == "0", || {
        format!("exit code {code} after docker stop (137 would mean it ignored SIGTERM and was killed)")
    })?;
    Ok(format!(
        "docker stop took {:.2} s with 4 long polls open",
        stop_took.as_secs_f64()
    ))
}

pub(crate) async fn docker_kill_under_load_keeps_every_acknowledged_change() -> Outcome {
    let mut scratch = Scratch::default();
    let data = scratch.volume().await?;
    let volume = format!("{data}:/data");
    let first = start(&mut scratch, &["-v", &volume], &["serve", "--data-dir", "/data"]).await?;
    wait_healthy(&first).await?;
    let sqs = common::sqs_at(&endpoint(&first).await?, "AKIDLOAD");
    let url = common::new_queue(&sqs, "load").await;
    let (tasks, acked) = common::spawn_load(&sqs, &url, "load");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    docker(&["kill", &first]).await?;
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    check(acked.sent.len() > 20, || {
        format!("the load ran only {} sends", acked.sent.len())
    })?;
    check(!acked.deleted.is_empty(), || {
        "the load deleted nothing".to_owned()
    })?;
    let code = wait_exit(&first).await?;
    check(code == 137, || format!("docker kill: exit code {code}, not 137"))?;

    let second = start(&mut scratch, &["-v", &volume], &["serve", "--data-dir", "/data"]).await?;
    wait_healthy(&second).await?;
    let endpoint = endpoint(&second).await?;
    let sqs = common::sqs_at(&endpoint, "AKIDLOAD");
    let name = url.rsplit('/').next().unwrap_or_default();
    let url = format!("{endpoint}/000000000000/{name}");
    // Messages that were in flight become visible again.
    let (status, _) = admin_post(&endpoint, "/_sealq/clock", r#"{"advance_seconds": 60}"#).await?;
    check(status == 200, || format!("POST /_sealq/clock: {status}"))?;
    let left = common::drain_bodies(&sqs, &url).await;
    let (lost, back) = acked.lost_and_resurrected(&left);
    check(back.is_empty(), || {
        format!("acknowledged deletes came back: {back:?}")
    })?;
    check(lost.is_empty(), || format!("acknowledged sends lost: {lost:?}"))?;
    Ok(format!(
        "{} sends and {} deletes acknowledged before the kill, all kept",
        acked.sent.len(),
        acked.deleted.len()
    ))
}

/// POSTs `body` to an admin path; status and body.
async fn admin_post(endpoint: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let resp = reqwest::Client::new()
        .post(format!("{endpoint}{path}"))
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| format!("POST {path}: {e}"))?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await.unwrap_or_default()))
}

/// Runs sealq to its exit with `extra` docker options and `args`: the exit
/// code and what it wrote on stderr.
async fn run_to_exit(scratch: &mut Scratch, extra: &[&str], args: &[&str]) -> Result<(i32, String), String> {
    let name = scratch.container("exit");
    let mut cmd = vec!["run", "-d", "--name", &name];
    cmd.extend(HARDENED);
    cmd.extend(extra);
    cmd.push(IMAGE);
    cmd.extend(args);
    docker(&cmd).await?;
    let code = wait_exit(&name).await?;
    let logs = docker_run(&["logs", &name]).await?;
    Ok((code, format!("{}{}", logs.stdout, logs.stderr)))
}

pub(crate) async fn bad_config_exits_2_with_the_located_error() -> Outcome {
    let mut scratch = Scratch::default();
    let dir = scratch.dir()?;
    let config = dir.join("sealq.toml");
    std::fs::write(
        &config,
        "[[queues]]\nname = \"orders\"\n\n[queues.attributes]\nVisibilityTimeout = 99999\n",
    )
    .map_err(|e| e.to_string())?;
    make_readable(&config)?;
    let mount = format!("{}:/etc/sealq/sealq.toml:ro", config.display());
    let (code, logs) = run_to_exit(
        &mut scratch,
        &["-v", &mount],
        &["serve", "--config", "/etc/sealq/sealq.toml"],
    )
    .await?;
    check(code == 2, || format!("exit code {code}: {logs}"))?;
    let located = "/etc/sealq/sealq.toml:5:1: field `queues[0].attributes.VisibilityTimeout`";
    check(
        logs.contains(located) && logs.contains("InvalidAttributeValue"),
        || format!("docker logs does not locate the error ({located}): {logs}"),
    )?;
    check(!logs.contains("panicked"), || format!("a panic: {logs}"))?;
    Ok(String::new())
}

pub(crate) async fn unwritable_data_dir_exits_1_with_the_reason() -> Outcome {
    let mut scratch = Scratch::default();
    // A host directory owned by root, mode 755: the image's user cannot write it.
    let dir = scratch.dir()?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    }
    let mount = format!("{}:/data", dir.display());
    let (code, logs) = run_to_exit(&mut scratch, &["-v", &mount], &["serve", "--data-dir", "/data"]).await?;
    check(code == 1, || format!("exit code {code}: {logs}"))?;
    check(
        logs.contains("/data") && logs.contains("ermission denied"),
        || format!("docker logs does not say which directory and why: {logs}"),
    )?;
    check(!logs.contains("panicked"), || format!("a panic: {logs}"))?;
    Ok(logs.lines().last().unwrap_or_default().trim().to_owned())
}

pub(crate) async fn bad_port_value_is_a_clear_message() -> Outcome {
    let mut scratch = Scratch::default();
    let (code, logs) = run_to_exit(&mut scratch, &[], &["serve", "--port", "99999"]).await?;
    check(
        code == 2 && logs.contains("invalid value '99999' for '--port <PORT>'"),
        || format!("--port 99999: exit code {code}: {logs}"),
    )?;
    check(!logs.contains("panicked"), || format!("a panic: {logs}"))?;
    let (code, logs) = run_to_exit(&mut scratch, &["-e", "SEALQ_PORT=nine"], &[]).await?;
    check(
        code == 2 && logs.contains("invalid value 'nine' for '--port <PORT>'"),
        || format!("SEALQ_PORT=nine: exit code {code}: {logs}"),
    )?;
    Ok(String::new())
}

/// Runs Compose with a free host port for sealq instead of 9324, which
/// something else may hold.
async fn compose_run(
    program: &'static str,
    args: Vec<String>,
    limit: u64,
) -> Result<crate::docker::Run, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_cmd(
        program,
        &args,
        &[("SEALQ_PUBLISH", "127.0.0.1:0")],
        Duration::from_secs(limit),
    )
    .await
}

/// The Compose command this machine has: the plugin, else docker-compose.
async fn compose_command() -> Result<Vec<&'static str>, String> {
    if docker_run(&["compose", "version"])
        .await
        .is_ok_and(|r| r.code == 0)
    {
        return Ok(vec!["docker", "compose"]);
    }
    match run_cmd(
        "docker-compose",
        &["version", "--short"],
        &[],
        Duration::from_secs(30),
    )
    .await
    {
        Ok(r) if r.code == 0 => Ok(vec!["docker-compose"]),
        _ => Err("neither `docker compose` nor `docker-compose` is installed".to_owned()),
    }
}

pub(crate) async fn compose_example_runs_end_to_end_and_down_leaves_nothing() -> Outcome {
    let compose = compose_command().await?;
    let project = crate::docker::unique("compose").replace('-', "");
    let base = [&compose[1..], &["-f", "docker/compose.yaml", "-p", &project]].concat();
    let run = |args: &[&str], limit: u64| {
        let mut all: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
        all.extend(args.iter().map(|s| (*s).to_owned()));
        compose_run(compose[0], all, limit)
    };
    let outcome = async {
        // sealq alone first: the compose service name resolves in a scratch
        // container on the stack's network.
        let up = run(&["up", "-d", "sealq"], 120).await?;
        check(up.code == 0, || {
            format!("up -d sealq: {}{}", up.stdout, up.stderr)
        })?;
        let id = run(&["ps", "-q", "sealq"], 30).await?.stdout.trim().to_owned();
        wait_healthy(&id).await?;
        let net = format!("{project}_default");
        let health = docker_run(&[
            "run",
            "--rm",
            "--network",
            &net,
            IMAGE,
            "health",
            "--endpoint",
            "http://sealq:9324",
        ])
        .await?;
        check(health.code == 0, || {
            format!("sealq health by service name: {}", health.stderr)
        })?;
        // The documented command.
        let up = run(
            &["up", "--abort-on-container-exit", "--exit-code-from", "client"],
            180,
        )
        .await?;
        let out = format!("{}{}", up.stdout, up.stderr);
        check(up.code == 0 && out.contains("compose client: OK"), || {
            format!("compose up exited {}: {out}", up.code)
        })?;
        check(out.contains("read it from the dead-letter queue"), || {
            format!("the client did not reach the dead-letter queue: {out}")
        })?;
        Ok::<(), String>(())
    }
    .await;
    let down = run(&["down", "-v"], 120).await;
    outcome?;
    let down = down?;
    check(down.code == 0, || format!("down -v: {}", down.stderr))?;
    let label = format!("label=com.docker.compose.project={project}");
    let left_containers = docker(&["ps", "-aq", "--filter", &label]).await?;
    let left_volumes = docker(&["volume", "ls", "-q", "--filter", &label]).await?;
    let left_networks = docker(&["network", "ls", "-q", "--filter", &label]).await?;
    check(
        left_containers.is_empty() && left_volumes.is_empty() && left_networks.is_empty(),
        || {
            format!(
                "down -v left containers {left_containers:?}, volumes {left_volumes:?}, networks {left_networks:?}"
            )
        },
    )?;
    Ok(format!("with `{}`", compose.join(" ")))
}

/// The fenced blocks of README.md whose info string is `lang docker`.
pub(crate) fn readme_blocks(lang: &str) -> Result<Vec<String>, String> {
    let readme = std::fs::read_to_string(format!("{}/README.md", root())).map_err(|e| e.to_string())?;
    Ok(readme
        .split(&format!("```{lang} docker\n"))
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .map(str::to_owned)
        .collect())
}

/// Removes what README's Docker commands create, whatever state they left.
async fn clean_readme_leftovers() {
    let _ = docker_run(&["rm", "-f", "sealq"]).await;
    let _ = docker_run(&["volume", "rm", "-f", "sealq-data"]).await;
    if let Ok(compose) = compose_command().await {
        let args = [&compose[1..], &["-f", "docker/compose.yaml", "down", "-v"]].concat();
        let _ = run_cmd(compose[0], &args, &[], Duration::from_secs(120)).await;
    }
}

pub(crate) async fn readme_docker_commands_run_as_written() -> Outcome {
    let blocks = readme_blocks("sh")?;
    check(blocks.len() >= 3, || {
        format!("README.md has {} `sh docker` blocks", blocks.len())
    })?;
    // README publishes port 9324; say so plainly if something holds it.
    std::net::TcpListener::bind("0.0.0.0:9324")
        .map_err(|e| format!("port 9324, which README's commands publish, is taken: {e}"))?;
    clean_readme_leftovers().await;
    let mut outcome = Ok(format!("{} blocks", blocks.len()));
    for block in &blocks {
        let script = format!("set -euo pipefail\n{block}");
        let run = run_cmd("bash", &["-c", &script], &[], Duration::from_secs(900)).await;
        match run {
            Ok(r) if r.code == 0 => {}
            Ok(r) => {
                outcome = Err(format!("exit {} in\n{block}\n{}{}", r.code, r.stdout, r.stderr));
                break;
            }
            Err(e) => {
                outcome = Err(format!("{e} in\n{block}"));
                break;
            }
        }
    }
    clean_readme_leftovers().await;
    outcome
}
