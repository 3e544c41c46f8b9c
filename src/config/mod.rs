//! Server settings shared by every layer: where sealq listens, which region
//! and account it pretends to be, and how it writes queue URLs; and the
//! configuration file (`file`, TOML: server settings, KMS keys, queues,
//! principals), loaded and checked by [`load`] and applied at start-up by
//! [`apply`] (`apply`), all or nothing.
//!
//! This module reads no time and knows no wire format; it applies a file
//! through the same in-process functions the API actions use.

mod apply;
pub mod file;

pub use apply::{apply, check, scratch_state};
pub use file::{AuthSetting, ConfigError, FileConfig, LogFormat, PolicySource, SyncMode, load, parse};

/// Settings of one sealq server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind.
    pub host: String,
    /// Port to bind (0 picks a free one).
    pub port: u16,
    /// AWS region in ARNs.
    pub region: String,
    /// AWS account id in ARNs and queue URLs.
    pub account_id: String,
    /// When set, queue URLs start with this (e.g. `http://sealq:9324`) instead
    /// of `http://<Host header>`; for container networks.
    pub queue_url_base: Option<String>,
    /// Whether queues created by signed requests get SSE-SQS unless their
    /// attributes say otherwise (AWS's default for HTTPS + SigV4 requests).
    pub sse_sqs_by_default: bool,
    /// Where queues, messages and keys are kept across restarts; `None`:
    /// in memory only, nothing touches the disk.
    pub data_dir: Option<std::path::PathBuf>,
    /// How durable a commit to the data directory is.
    pub sync: crate::store::durable::Sync,
    /// How signatures are checked.
    pub auth: crate::auth::AuthMode,
    /// The HTTPS listener's settings (off unless `tls.port` is set).
    pub tls: TlsSettings,
    /// Whether a deleted queue's name stays taken for 60 seconds of the
    /// virtual clock (`QueueDeletedRecently`), as in AWS. Off by default,
    /// so test suites can recreate queues at once.
    pub strict_deletion: bool,
    /// The listeners' limits: open connections, client timeouts.
    pub limits: crate::listen::Limits,
}

/// Settings of the HTTPS listener (`--tls-*`, `[server] tls_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// Port of the HTTPS listener, on the same address as the plain one
    /// (0 picks a free one); `None`: no HTTPS.
    pub port: Option<u16>,
    /// Certificate chain to serve (PEM, leaf first), instead of one made
    /// by sealq's local CA.
    pub cert: Option<std::path::PathBuf>,
    /// The private key of `cert` (PEM).
    pub key: Option<std::path::PathBuf>,
    /// Names (DNS names or IP addresses) the certificate made by the local
    /// CA holds besides `localhost`, `127.0.0.1` and `::1`.
    pub hostnames: Vec<String>,
    /// Where to write the local CA's certificate (PEM) for clients to trust.
    pub ca_out: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 9324,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            queue_url_base: None,
            sse_sqs_by_default: true,
            data_dir: None,
            sync: crate::store::durable::Sync::Full,
            auth: crate::auth::AuthMode::Open,
            tls: TlsSettings::default(),
            strict_deletion: false,
            limits: crate::listen::Limits::default(),
        }
    }
}
