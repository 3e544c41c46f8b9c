//! The comparisons, each run instead of the throughput matrix: `--auth open`
//! vs `verify`, HTTP vs HTTPS, no policies vs the typical three, and the
//! web console open or not during a load.

use super::*;

/// SendMessage at concurrency 16, JSON and query, on servers started with
/// `--auth open` and with `--auth verify` (the bench's key registered with
/// its secret, so every request is verified), alternating so the machine's
/// drift hits both alike; medians of `--repeat` rounds (5 unless given).
pub(crate) async fn auth_compare(opts: &Opts, tck: f64, out: &mut String) {
    let rounds = if opts.repeat > 1 { opts.repeat } else { 5 };
    let config = std::env::temp_dir().join(format!("sealq-bench-auth-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        // Under verify every request is authorized too: one identity
        // policy, as a producer would have.
        "[[principals]]\naccess_key_id = \"AKIDBENCH\"\nname = \"bench\"\nsecret_access_key = \"benchsecret\"\n\
         [[principals.policies]]\nname = \"produce\"\ndocument = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", \
         Action = [\"sqs:CreateQueue\", \"sqs:SendMessage\"], Resource = \"arn:aws:sqs:*:000000000000:*\" }] }\n",
    )
    .expect("write the bench's config");
    let config_arg = config.to_str().expect("temp path").to_owned();
    let _ = writeln!(
        out,
        "| scenario | --auth open msgs/s | --auth verify msgs/s | verify / open | open p99 ms | verify p99 ms | server CPU µs/msg open / verify |\n|---|---:|---:|---:|---:|---:|---|"
    );
    for proto in [Proto::Json, Proto::Query] {
        let mut runs: [Vec<Row>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (i, extra) in [
                vec!["--auth", "open"],
                vec!["--auth", "verify", "--config", config_arg.as_str()],
            ]
            .iter()
            .enumerate()
            {
                let server = Server::spawn_with(None, extra);
                let queue_url = create_queue(server.addr, "bench", Enc::Plain).await;
                let t = Arc::new(Target::new(server.addr, queue_url));
                let from = Instant::now() + Duration::from_secs_f64(opts.warmup);
                let until = from + Duration::from_secs_f64(opts.seconds);
                let (tally, elapsed, cpu) =
                    run_workers(&server, &t, proto, Op::Send, 16, Stop::Timed { from, until }, tck).await;
                let name = format!("{} send c16", proto.name());
                let row = make_row(name, Op::Send, 16, tally, elapsed, cpu, server.rss());
                assert_eq!(row.errors, 0, "{} had errors with {extra:?}", row.name);
                runs[i].push(row);
            }
        }
        let median = |rows: &mut Vec<Row>| -> Row {
            rows.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
            rows.remove(rows.len() / 2)
        };
        let (open, verify) = (median(&mut runs[0]), median(&mut runs[1]));
        let _ = writeln!(
            out,
            "| {} send c16 | {:.0} | {:.0} | {:.0}% | {:.3} | {:.3} | {:.1} / {:.1} |",
            proto.name(),
            open.msgs_per_s,
            verify.msgs_per_s,
            100.0 * verify.msgs_per_s / open.msgs_per_s,
            open.p99_ms,
            verify.p99_ms,
            open.server_cpu_us_per_msg,
            verify.server_cpu_us_per_msg,
        );
    }
    let _ = writeln!(
        out,
        "\nMedians of {rounds} alternating rounds of {} s each.",
        opts.seconds
    );
    let _ = std::fs::remove_file(&config);
}

/// SendMessage at concurrency 16 (JSON), on one server started with
/// `--tls-port`: over plain HTTP on its port, then over HTTPS (keep-alive
/// connections, handshakes done before the clock starts) on its TLS port,
/// or the other way round on every other round, each on a queue of its
/// own; medians of `--repeat` rounds (5 unless given) and the median of
/// each round's HTTPS / HTTP ratio.
pub(crate) async fn tls_compare(opts: &Opts, tck: f64, out: &mut String) {
    let rounds = if opts.repeat > 1 { opts.repeat } else { 5 };
    let ca_out = std::env::temp_dir().join(format!("sealq-bench-ca-{}.pem", std::process::id()));
    let mut runs: [Vec<Row>; 2] = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let tls_port = {
            let l = StdListener::bind("127.0.0.1:0").expect("bind a free port");
            l.local_addr().expect("local addr").port()
        };
        let server = Server::spawn_with(
            None,
            &[
                "--tls-port",
                &tls_port.to_string(),
                "--tls-ca-out",
                ca_out.to_str().expect("temp path"),
            ],
        );
        let ca = std::fs::read_to_string(&ca_out).expect("the CA from --tls-ca-out");
        let tls_addr = SocketAddr::from(([127, 0, 0, 1], tls_port));
        let mut rates = [0.0; 2];
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let queue_url = create_queue(server.addr, &format!("bench-{i}"), Enc::Plain).await;
            let mut t = Target::new(server.addr, queue_url);
            if i == 1 {
                t = t.over_tls(tls_addr, &ca);
            }
            let t = Arc::new(t);
            let from = Instant::now() + Duration::from_secs_f64(opts.warmup);
            let until = from + Duration::from_secs_f64(opts.seconds);
            let (tally, elapsed, cpu) = run_workers(
                &server,
                &t,
                Proto::Json,
                Op::Send,
                16,
                Stop::Timed { from, until },
                tck,
            )
            .await;
            let name = format!("json send c16{}", if i == 1 { " https" } else { "" });
            let row = make_row(name, Op::Send, 16, tally, elapsed, cpu, server.rss());
            assert_eq!(row.errors, 0, "{} had errors", row.name);
            rates[i] = row.msgs_per_s;
            runs[i].push(row);
        }
        ratios.push(rates[1] / rates[0]);
    }
    let _ = std::fs::remove_file(&ca_out);
    let (plain, https, ratio) = medians(runs, &ratios);
    let _ = writeln!(
        out,
        "| scenario | HTTP msgs/s | HTTPS msgs/s | HTTPS / HTTP | HTTP p50 / p99 ms | HTTPS p50 / p99 ms | server CPU µs/msg HTTP / HTTPS | client CPU µs/msg HTTP / HTTPS | other CPU % HTTP / HTTPS |\n|---|---:|---:|---:|---|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| json send c16 | {:.0} | {:.0} | {:.0}% {} | {:.3} / {:.3} | {:.3} / {:.3} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} |",
        plain.msgs_per_s,
        https.msgs_per_s,
        100.0 * ratio,
        mark(ratio >= 0.70),
        plain.p50_ms,
        plain.p99_ms,
        https.p50_ms,
        https.p99_ms,
        plain.server_cpu_us_per_msg,
        https.server_cpu_us_per_msg,
        plain.client_cpu_us_per_msg,
        https.client_cpu_us_per_msg,
        plain.other_cpu_pct,
        https.other_cpu_pct,
    );
    let _ = writeln!(
        out,
        "\nMedians of {rounds} rounds of {} s each; HTTPS / HTTP is the median of each round's ratio (both on one server, alternating which goes first; target 70%). Ratios in round order: {}.",
        opts.seconds,
        percents(&ratios)
    );
}

/// The rows of median throughput of each side's rounds, and the median of
/// the rounds' ratios (second side / first).
pub(crate) fn medians(runs: [Vec<Row>; 2], ratios: &[f64]) -> (Row, Row, f64) {
    let median = |mut rows: Vec<Row>| -> Row {
        rows.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
        rows.remove(rows.len() / 2)
    };
    let [a, b] = runs;
    let mut sorted = ratios.to_vec();
    sorted.sort_by(f64::total_cmp);
    (median(a), median(b), sorted[sorted.len() / 2])
}

/// Ratios as `86%, 92%, ...`.
pub(crate) fn percents(ratios: &[f64]) -> String {
    ratios
        .iter()
        .map(|r| format!("{:.0}%", 100.0 * r))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The servers `--authz-compare` starts: the bench's key with its secret
/// (so both verify signatures), an SSE-KMS queue `bench` under a key of its
/// own and, with `policies`, the typical three: the producer's identity
/// policy, a queue policy denying plain HTTP, and a key policy letting the
/// producer use the key through SQS only.
pub(crate) fn authz_config(policies: bool) -> String {
    let mut c = String::from(
        "[[principals]]\naccess_key_id = \"AKIDBENCH\"\nname = \"bench\"\nsecret_access_key = \"benchsecret\"\n",
    );
    if policies {
        c.push_str(
            "[[principals.policies]]\nname = \"produce\"\ndocument = { Version = \"2012-10-17\", Statement = [{ Sid = \"Send\", Effect = \"Allow\", \
             Action = [\"sqs:SendMessage\", \"sqs:GetQueueUrl\"], Resource = \"arn:aws:sqs:us-east-1:000000000000:bench\" }] }\n",
        );
    }
    c.push_str("[[keys]]\nkey_id = \"8e1f0c9a-6b2d-4e3f-9a1b-2c3d4e5f6a7b\"\naliases = [\"alias/bench\"]\n");
    if policies {
        c.push_str(
            "policy = '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Admin\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::000000000000:root\"},\"Action\":[\"kms:Describe*\",\"kms:Get*\",\"kms:PutKeyPolicy\"],\"Resource\":\"*\"},\
             {\"Sid\":\"Producer\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::000000000000:user/bench\"},\"Action\":[\"kms:GenerateDataKey\",\"kms:Decrypt\"],\"Resource\":\"*\",\
             \"Condition\":{\"StringEquals\":{\"kms:ViaService\":\"sqs.us-east-1.amazonaws.com\"}}}]}'\n",
        );
    }
    c.push_str("[[queues]]\nname = \"bench\"\nattributes = { KmsMasterKeyId = \"alias/bench\"");
    if policies {
        c.push_str(
            ", Policy = '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"DenyInsecureTransport\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"sqs:*\",\"Resource\":\"arn:aws:sqs:us-east-1:000000000000:bench\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}]}'",
        );
    }
    c.push_str(" }\n");
    c
}

/// SendMessage at concurrency 16 (JSON, 1 KiB bodies, over HTTPS, in
/// memory) to an SSE-KMS queue on a server with `--auth open` and no policy
/// (signatures verified, nothing to evaluate) and on one with `--auth
/// strict` and the typical three policies ([`authz_config`]), alternating
/// which goes first; medians of `--repeat` rounds (5 unless given).
pub(crate) async fn authz_compare(opts: &Opts, tck: f64, out: &mut String) {
    let rounds = if opts.repeat > 1 { opts.repeat } else { 5 };
    let dir = std::env::temp_dir();
    let pid = std::process::id();
    let configs = [false, true].map(|policies| {
        let path = dir.join(format!("sealq-bench-authz-{pid}-{policies}.toml"));
        std::fs::write(&path, authz_config(policies)).expect("write the bench's config");
        path
    });
    let ca_out = dir.join(format!("sealq-bench-authz-ca-{pid}.pem"));
    let mut runs: [Vec<Row>; 2] = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let mut rates = [0.0; 2];
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let tls_port = {
                let l = StdListener::bind("127.0.0.1:0").expect("bind a free port");
                l.local_addr().expect("local addr").port()
            };
            let server = Server::spawn_with(
                None,
                &[
                    "--auth",
                    if i == 0 { "open" } else { "strict" },
                    "--config",
                    configs[i].to_str().expect("temp path"),
                    "--tls-port",
                    &tls_port.to_string(),
                    "--tls-ca-out",
                    ca_out.to_str().expect("temp path"),
                ],
            );
            let ca = std::fs::read_to_string(&ca_out).expect("the CA from --tls-ca-out");
            let queue_url = format!("http://{}/000000000000/bench", server.addr);
            let t = Target::new(server.addr, queue_url)
                .over_tls(SocketAddr::from(([127, 0, 0, 1], tls_port)), &ca);
            let t = Arc::new(t);
            let from = Instant::now() + Duration::from_secs_f64(opts.warmup);
            let until = from + Duration::from_secs_f64(opts.seconds);
            let (tally, elapsed, cpu) = run_workers(
                &server,
                &t,
                Proto::Json,
                Op::Send,
                16,
                Stop::Timed { from, until },
                tck,
            )
            .await;
            let name = format!(
                "json send c16 https sse-kms{}",
                if i == 1 { " strict+policies" } else { "" }
            );
            let row = make_row(name, Op::Send, 16, tally, elapsed, cpu, server.rss());
            assert_eq!(row.errors, 0, "{} had errors", row.name);
            rates[i] = row.msgs_per_s;
            runs[i].push(row);
        }
        ratios.push(rates[1] / rates[0]);
    }
    for c in &configs {
        let _ = std::fs::remove_file(c);
    }
    let _ = std::fs::remove_file(&ca_out);
    let (open, strict, ratio) = medians(runs, &ratios);
    let _ = writeln!(
        out,
        "| scenario | open, no policy msgs/s | strict + 3 policies msgs/s | strict / open | p99 ms open / strict | server CPU µs/msg open / strict |\n|---|---:|---:|---:|---|---|"
    );
    let _ = writeln!(
        out,
        "| json send c16 https sse-kms | {:.0} | {:.0} | {:.0}% {} | {:.3} / {:.3} | {:.1} / {:.1} |",
        open.msgs_per_s,
        strict.msgs_per_s,
        100.0 * ratio,
        mark(ratio >= 0.90),
        open.p99_ms,
        strict.p99_ms,
        open.server_cpu_us_per_msg,
        strict.server_cpu_us_per_msg,
    );
    let _ = writeln!(
        out,
        "\nMedians of {rounds} rounds of {} s each; strict / open is the median of each round's ratio (target 90%). Ratios in round order: {}.",
        opts.seconds,
        percents(&ratios)
    );
}

/// Headless Chromium showing the console's view of queue `bench` (the
/// queue's settings, findings and its 50 oldest envelopes, fetched every
/// 2 s); killed on drop.
pub(crate) struct ConsoleBrowser {
    pub(crate) child: std::process::Child,
    pub(crate) profile: std::path::PathBuf,
}

impl ConsoleBrowser {
    pub(crate) fn open(addr: SocketAddr) -> Self {
        let chromium = std::env::var("SEALQ_CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let profile = std::env::temp_dir().join(format!(
            "sealq-bench-chromium-{}-{}",
            std::process::id(),
            addr.port()
        ));
        let child = Command::new(&chromium)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,800",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("http://{addr}/_sealq/console#/queue/000000000000/bench"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("--console-compare needs chromium ({chromium}): {e}"));
        Self { child, profile }
    }
}

impl Drop for ConsoleBrowser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The requests the console's view of queue `bench` makes, without a
/// browser: every 2 s the queue list, the audit and the 50 oldest
/// envelopes, every 4 s the fault switch; one connection per request, as
/// a browser's pool may. Runs until aborted.
pub(crate) async fn console_poller(addr: SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let get = |path: &'static str| async move {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut body = Vec::new();
        s.read_to_end(&mut body).await.expect("read");
        assert!(body.starts_with(b"HTTP/1.1 200"), "GET {path} failed");
    };
    for tick in 0u64.. {
        get("/_sealq/queues").await;
        get("/_sealq/audit").await;
        get("/_sealq/queues/bench/messages?limit=50&account=000000000000").await;
        if tick % 2 == 0 {
            get("/_sealq/faults").await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// SendMessage at concurrency 16 (JSON, 1 KiB bodies, in memory) to an
/// SSE-KMS queue three ways, in rotating order: with nothing watching;
/// with the console's requests made by [`console_poller`] (the server's
/// share of the console's cost); and with the web console open on the
/// queue's view in headless Chromium (started 3 s before the warm-up, so
/// its start-up is not measured; its polling and rendering are, on the
/// same machine). Medians of `--repeat` rounds (5 unless given).
pub(crate) async fn console_compare(opts: &Opts, tck: f64, out: &mut String) {
    let rounds = if opts.repeat > 1 { opts.repeat } else { 5 };
    let mut runs: [Vec<Row>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut ratios: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let mut rates = [0.0; 3];
        let order = [[0, 1, 2], [1, 2, 0], [2, 0, 1]][round % 3];
        for i in order {
            let server = Server::start();
            let queue_url = create_queue(server.addr, "bench", Enc::SseKms).await;
            let t = Arc::new(Target::new(server.addr, queue_url));
            let poller = (i == 1).then(|| tokio::spawn(console_poller(server.addr)));
            let browser = (i == 2).then(|| ConsoleBrowser::open(server.addr));
            if browser.is_some() {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            let from = Instant::now() + Duration::from_secs_f64(opts.warmup);
            let until = from + Duration::from_secs_f64(opts.seconds);
            let (tally, elapsed, cpu) = run_workers(
                &server,
                &t,
                Proto::Json,
                Op::Send,
                16,
                Stop::Timed { from, until },
                tck,
            )
            .await;
            drop(browser);
            if let Some(p) = poller {
                p.abort();
            }
            let name = format!(
                "json send c16 sse-kms{}",
                ["", " console requests", " console open"][i]
            );
            let row = make_row(name, Op::Send, 16, tally, elapsed, cpu, server.rss());
            assert_eq!(row.errors, 0, "{} had errors", row.name);
            rates[i] = row.msgs_per_s;
            runs[i].push(row);
        }
        ratios[0].push(rates[1] / rates[0]);
        ratios[1].push(rates[2] / rates[0]);
    }
    let median_row = |mut rows: Vec<Row>| -> Row {
        rows.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
        rows.remove(rows.len() / 2)
    };
    let median_ratio = |r: &[f64]| -> f64 {
        let mut v = r.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let [none, requests, open] = runs;
    let (none, requests, open) = (median_row(none), median_row(requests), median_row(open));
    let _ = writeln!(
        out,
        "| scenario | msgs/s | vs nothing watching | p99 ms | server CPU µs/msg | other CPU % |\n|---|---:|---:|---:|---:|---:|"
    );
    for (row, ratio) in [
        (&none, None),
        (&requests, Some(median_ratio(&ratios[0]))),
        (&open, Some(median_ratio(&ratios[1]))),
    ] {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {:.3} | {:.1} | {:.0} |",
            row.name,
            row.msgs_per_s,
            ratio.map_or_else(String::new, |r| format!("{:.0}% {}", 100.0 * r, mark(r >= 0.95))),
            row.p99_ms,
            row.server_cpu_us_per_msg,
            row.other_cpu_pct,
        );
    }
    let _ = writeln!(
        out,
        "\nMedians of {rounds} rounds of {} s each; \"vs nothing watching\" is the median of each round's ratio (target 95%: an open console costs under 5%). Ratios in round order, console requests: {}; console open: {}.",
        opts.seconds,
        percents(&ratios[0]),
        percents(&ratios[1])
    );
}
