//! The server under test: the release binary, spawned and watched.

use super::*;

/// A sealq child process; killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    /// The data directory, removed on drop.
    pub(crate) data_dir: Option<std::path::PathBuf>,
    pub(crate) pid: String,
    pub(crate) addr: SocketAddr,
    pub(crate) spawned: Instant,
    pub(crate) ready_after: Duration,
}

impl Server {
    /// Spawns a server on a free port and waits until `/_sealq/health`
    /// answers 200 (at most 10 s).
    pub(crate) fn start() -> Self {
        Self::start_on(Storage::Memory)
    }

    /// Spawns a server keeping its state as `storage` says.
    pub(crate) fn start_on(storage: Storage) -> Self {
        static DIRS: AtomicU64 = AtomicU64::new(0);
        let data_dir = (storage == Storage::Disk).then(|| {
            std::env::temp_dir().join(format!(
                "sealq-bench-{}-{}",
                std::process::id(),
                DIRS.fetch_add(1, Ordering::Relaxed)
            ))
        });
        Self::spawn_in(data_dir)
    }

    /// Stops the server with SIGTERM (it commits and exits) and starts a
    /// new one on the same data directory.
    pub(crate) fn restart(mut self) -> Self {
        let _ = Command::new("kill").args(["-TERM", &self.pid]).status();
        let _ = self.child.wait();
        Self::spawn_in(self.data_dir.take())
    }

    /// Spawns a server on `data_dir` (in memory when `None`).
    pub(crate) fn spawn_in(data_dir: Option<std::path::PathBuf>) -> Self {
        Self::spawn_with(data_dir, &[])
    }

    /// Spawns a server on `data_dir` with `extra` arguments for `serve`.
    pub(crate) fn spawn_with(data_dir: Option<std::path::PathBuf>, extra: &[&str]) -> Self {
        let port = {
            let l = StdListener::bind("127.0.0.1:0").expect("bind a free port");
            l.local_addr().expect("local addr").port()
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let spawned = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_sealq"))
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(extra)
            .args(
                data_dir
                    .iter()
                    .flat_map(|d| [std::ffi::OsStr::new("--data-dir"), d.as_os_str()]),
            )
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sealq");
        let pid = child.id().to_string();
        let mut server = Self {
            child,
            data_dir,
            pid,
            addr,
            spawned,
            ready_after: Duration::ZERO,
        };
        server.ready_after = server.wait_healthy();
        server
    }

    /// Polls `GET /_sealq/health` with blocking sockets in a tight loop.
    pub(crate) fn wait_healthy(&mut self) -> Duration {
        use std::io::{Read, Write};
        let deadline = self.spawned + Duration::from_secs(10);
        let req = format!(
            "GET /_sealq/health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        loop {
            if Instant::now() > deadline {
                panic!("sealq did not become healthy within 10 s");
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sealq exited early: {status}");
            }
            let Ok(mut s) = StdStream::connect_timeout(&self.addr, Duration::from_millis(100)) else {
                std::thread::sleep(Duration::from_micros(50));
                continue;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            if s.write_all(req.as_bytes()).is_err() {
                continue;
            }
            let mut buf = Vec::with_capacity(256);
            let mut chunk = [0u8; 256];
            while let Ok(n) = s.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() >= 12 {
                    break;
                }
            }
            if buf.starts_with(b"HTTP/1.1 200") {
                return self.spawned.elapsed();
            }
        }
    }

    pub(crate) fn cpu_ticks(&self) -> u64 {
        cpu_ticks(&self.pid)
    }

    pub(crate) fn rss(&self) -> u64 {
        rss_bytes(&self.pid)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self.data_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
