//! The Docker CLI, as the tests drive it: engine check, image build,
//! containers that clean up after themselves.

use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// sealq's image, as `docker/build-image.sh` tags it by default.
pub(crate) const IMAGE: &str = "sealq:dev";
/// The example client's image of `docker/compose.yaml`.
pub(crate) const CLIENT_IMAGE: &str = "sealq-compose-client:dev";

/// The repository's top directory.
pub(crate) fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

/// What a finished command printed, and how it exited.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `program args`, waiting at most `limit`.
pub(crate) async fn run_cmd(
    program: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    limit: Duration,
) -> Result<Run, String> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| format!("cannot run {program}: {e}"))?;
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "`{program} {}` took more than {} s",
                args.join(" "),
                limit.as_secs()
            )
        })?
        .map_err(|e| format!("{program}: {e}"))?;
    Ok(Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// `docker args`: its exit code and output (60 s at most).
pub(crate) async fn docker_run(args: &[&str]) -> Result<Run, String> {
    run_cmd("docker", args, &[], Duration::from_secs(60)).await
}

/// `docker args`, which must succeed: its stdout, trimmed.
pub(crate) async fn docker(args: &[&str]) -> Result<String, String> {
    let r = docker_run(args).await?;
    if r.code == 0 {
        Ok(r.stdout.trim().to_owned())
    } else {
        Err(format!(
            "`docker {}` exited {}: {}",
            args.join(" "),
            r.code,
            r.stderr.trim()
        ))
    }
}

/// Checks that an engine answers, then builds the images (unless
/// `SEALQ_TEST_IMAGE_BUILT=1`). The error says why the cases cannot run.
pub(crate) async fn prepare() -> Result<(), String> {
    let version = match run_cmd(
        "docker",
        &["version", "--format", "{{.Server.Version}}"],
        &[],
        Duration::from_secs(20),
    )
    .await
    {
        Ok(r) if r.code == 0 => r.stdout.trim().to_owned(),
        Ok(r) => return Err(format!("no Docker engine answers: {}", r.stderr.trim())),
        Err(e) => return Err(format!("no Docker engine answers: {e}")),
    };
    println!("container tests: Docker engine {version}");
    if std::env::var("SEALQ_TEST_IMAGE_BUILT").is_ok_and(|v| v == "1") {
        return Ok(());
    }
    println!("container tests: building {IMAGE} and {CLIENT_IMAGE} with docker/build-image.sh");
    let r = run_cmd("docker/build-image.sh", &[IMAGE], &[], Duration::from_secs(1800)).await?;
    if r.code != 0 {
        return Err(format!(
            "docker/build-image.sh failed ({}): {}\n{}",
            r.code,
            r.stdout.trim(),
            r.stderr.trim()
        ));
    }
    print!("{}", r.stdout);
    Ok(())
}

/// A name no other container, volume or network of this run uses.
pub(crate) fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "sealq-test-{}-{what}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Containers, volumes, networks and files a case made: removed when it
/// is dropped, whatever happened.
#[derive(Default)]
pub(crate) struct Scratch {
    containers: Vec<String>,
    volumes: Vec<String>,
    networks: Vec<String>,
    dirs: Vec<std::path::PathBuf>,
}

impl Scratch {
    /// A new name for a container this case will start.
    pub(crate) fn container(&mut self, what: &str) -> String {
        let name = unique(what);
        self.containers.push(name.clone());
        name
    }

    /// A new volume.
    pub(crate) async fn volume(&mut self) -> Result<String, String> {
        let name = unique("data");
        docker(&["volume", "create", &name]).await?;
        self.volumes.push(name.clone());
        Ok(name)
    }

    /// A new user-defined network (with its DNS for container names).
    pub(crate) async fn network(&mut self) -> Result<String, String> {
        let name = unique("net");
        docker(&["network", "create", &name]).await?;
        self.networks.push(name.clone());
        Ok(name)
    }

    /// A new directory on the host, readable by the container's user.
    pub(crate) fn dir(&mut self) -> Result<std::path::PathBuf, String> {
        let dir = std::env::temp_dir().join(unique("files"));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        self.dirs.push(dir.clone());
        Ok(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = std::process::Command::new("docker")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        for c in &self.containers {
            quiet(&["rm", "-f", "-v", c]);
        }
        for v in &self.volumes {
            quiet(&["volume", "rm", "-f", v]);
        }
        for n in &self.networks {
            quiet(&["network", "rm", n]);
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Waits until `container`'s health check passes; how long that took from
/// the call. Fails at once if the container exits, and after 30 s.
pub(crate) async fn wait_healthy(container: &str) -> Result<Duration, String> {
    let started = Instant::now();
    loop {
        let state = docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Health.Status}}",
            container,
        ])
        .await?;
        match state.as_str() {
            "running healthy" => return Ok(started.elapsed()),
            s if s.starts_with("exited") || s.starts_with("dead") => {
                let logs = docker_run(&["logs", container])
                    .await
                    .map(|r| r.stderr)
                    .unwrap_or_default();
                return Err(format!(
                    "{container} stopped before it was healthy ({s}): {}",
                    logs.trim()
                ));
            }
            _ if started.elapsed() > Duration::from_secs(30) => {
                return Err(format!("{container} not healthy after 30 s ({state})"));
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The host address (`127.0.0.1:PORT`) published for `container`'s port.
pub(crate) async fn published(container: &str, port: u16) -> Result<String, String> {
    let out = docker(&["port", container, &format!("{port}/tcp")]).await?;
    out.lines()
        .find(|l| l.starts_with("127.0.0.1:"))
        .map(str::to_owned)
        .ok_or_else(|| format!("{container}'s port {port} is not published on 127.0.0.1: {out}"))
}

/// Waits for `container` to exit; its exit code.
pub(crate) async fn wait_exit(container: &str) -> Result<i32, String> {
    let r = run_cmd("docker", &["wait", container], &[], Duration::from_secs(60)).await?;
    r.stdout
        .trim()
        .parse()
        .map_err(|_| format!("docker wait {container}: {} {}", r.stdout.trim(), r.stderr.trim()))
}
