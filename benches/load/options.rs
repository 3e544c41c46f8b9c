//! Command-line options of the benchmark.

#[derive(Debug, Clone)]
pub(crate) struct Opts {
    pub(crate) seconds: f64,
    pub(crate) warmup: f64,
    pub(crate) only: Option<String>,
    pub(crate) quick: bool,
    pub(crate) repeat: usize,
    pub(crate) client_threads: usize,
    pub(crate) drain_count: usize,
    pub(crate) shallow: usize,
    pub(crate) deep: usize,
    /// Which storage the throughput matrix runs on.
    pub(crate) storages: Vec<Storage>,
    /// Instead of the matrix: SendMessage at c16 with `--auth open` and
    /// `--auth verify`, alternating, `repeat` rounds (default 5).
    pub(crate) auth_compare: bool,
    /// Instead of the matrix: SendMessage at c16 over HTTP and HTTPS on
    /// one server, alternating, `repeat` rounds (default 5).
    pub(crate) tls_compare: bool,
    /// Instead of the matrix: SendMessage at c16 over HTTPS to an SSE-KMS
    /// queue, `--auth open` without policies against `--auth strict` with
    /// an identity, a queue and a key policy, alternating, `repeat` rounds
    /// (default 5).
    pub(crate) authz_compare: bool,
    /// Instead of the matrix: SendMessage at c16 to an SSE-KMS queue
    /// without and with the web console open in headless Chromium.
    pub(crate) console_compare: bool,
    /// Instead of the matrix: 10,000 concurrent long polls on one queue
    /// and over 1,000 queues (`long_polls`).
    pub(crate) long_polls: bool,
}

/// Where the server under test keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Storage {
    /// In memory (no `--data-dir`).
    Memory,
    /// `--data-dir` in a fresh directory under the system temp dir.
    Disk,
}

impl Storage {
    /// Suffix of scenario names.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Memory => "",
            Self::Disk => " disk",
        }
    }
}

pub(crate) fn parse_args() -> Opts {
    let ncpu = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let mut seconds: Option<f64> = None;
    let mut only = None;
    let mut quick = false;
    let mut repeat = 1;
    let mut client_threads = ncpu;
    let mut storages = vec![Storage::Memory, Storage::Disk];
    let mut auth_compare = false;
    let mut tls_compare = false;
    let mut authz_compare = false;
    let mut console_compare = false;
    let mut long_polls = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = Some(
                    args.next()
                        .and_then(|s| s.parse().ok())
                        .filter(|s: &f64| *s > 0.0 && *s <= 600.0)
                        .expect("--seconds needs a number in (0, 600]"),
                );
            }
            "--only" => only = Some(args.next().expect("--only needs a substring")),
            "--quick" => quick = true,
            "--auth-compare" => auth_compare = true,
            "--tls-compare" => tls_compare = true,
            "--authz-compare" => authz_compare = true,
            "--console-compare" => console_compare = true,
            "--long-polls" => long_polls = true,
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|n: &usize| (1..=9).contains(n))
                    .expect("--repeat needs an integer in 1..=9");
            }
            "--client-threads" => {
                client_threads = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|n: &usize| *n >= 1)
                    .expect("--client-threads needs a positive integer");
            }
            "--storage" => {
                storages = match args.next().as_deref() {
                    Some("memory") => vec![Storage::Memory],
                    Some("disk") => vec![Storage::Disk],
                    Some("both") => vec![Storage::Memory, Storage::Disk],
                    _ => panic!("--storage needs memory, disk or both"),
                };
            }
            // `cargo bench` passes `--bench` to harness-less benches.
            "--bench" => {}
            "-h" | "--help" => {
                eprintln!(
                    "usage: cargo bench --bench load -- [--seconds N] [--only SUBSTRING] [--quick] [--repeat N] [--client-threads N] [--storage memory|disk|both] [--auth-compare] [--tls-compare] [--authz-compare] [--console-compare] [--long-polls]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other:?} (try --help)"),
        }
    }
    Opts {
        seconds: seconds.unwrap_or(if quick { 1.0 } else { 3.0 }),
        warmup: if quick { 0.2 } else { 0.5 },
        only,
        quick,
        repeat,
        client_threads,
        drain_count: if quick { 20_000 } else { 100_000 },
        shallow: 20_000,
        deep: if quick { 100_000 } else { 500_000 },
        storages,
        auth_compare,
        tls_compare,
        authz_compare,
        console_compare,
        long_polls,
    }
}

impl Opts {
    pub(crate) fn wants(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|s| name.contains(s))
    }
}
