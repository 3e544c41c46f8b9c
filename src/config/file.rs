//! The configuration file's shape (TOML) and its errors: [`load`] reads a
//! file, [`parse`] checks its text (syntax, types, unknown fields, and what
//! can be judged without a server: key ids, key material, duplicates), and
//! [`ConfigError`] names the file, line, column and field of every problem.
//!
//! This module only describes and checks the file; `apply` makes it real.
//! It may derive `Deserialize` for these file-shape structs (they are not
//! domain types). Secrets (key material, secret access keys, the file's
//! text) are wiped on drop and redacted in `Debug`; nothing here logs.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::listen::{MAX_CLIENT_TIMEOUT, MAX_CONNECTIONS, MIN_CONNECTIONS};

/// A problem with a configuration file, located: Display is
/// `FILE:LINE:COL: field `PATH`: MESSAGE` (the field part is left out when
/// no field is to blame, e.g. a syntax error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line; 0 when the file could not be read.
    pub line: usize,
    /// 1-based column (in characters); 0 when the file could not be read.
    pub column: usize,
    /// The field's path, e.g. `queues[2].attributes.VisibilityTimeout`
    /// (empty when no field is to blame).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// One step of a field path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A key of a table.
    Key(String),
    /// An element of an array.
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Self {
        Self::Key(s.to_owned())
    }
}

impl From<&String> for Seg {
    fn from(s: &String) -> Self {
        Self::Key(s.clone())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Self::Index(i)
    }
}

/// A field path built from keys and indexes: `field!["queues", 2, "name"]`.
macro_rules! field {
    ($($seg:expr),* $(,)?) => {
        [$($crate::config::file::Seg::from($seg)),*]
    };
}
pub(crate) use field;

/// `queues[2].attributes.VisibilityTimeout`.
fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Every key and value of the document with its span and path, parents
/// before children.
fn walk_table(table: &DeTable<'_>, prefix: &mut Vec<Seg>, out: &mut Vec<(Range<usize>, Vec<Seg>)>) {
    for (k, v) in table {
        prefix.push(Seg::Key(k.get_ref().to_string()));
        out.push((k.span(), prefix.clone()));
        walk_value(v, prefix, out);
        prefix.pop();
    }
}

fn walk_value(v: &Spanned<DeValue<'_>>, prefix: &mut Vec<Seg>, out: &mut Vec<(Range<usize>, Vec<Seg>)>) {
    out.push((v.span(), prefix.clone()));
    match v.get_ref() {
        DeValue::Table(t) => walk_table(t, prefix, out),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                prefix.push(Seg::Index(i));
                walk_value(item, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// Where a field is: the span of its key (the line that names it), or of
/// the array element; for a path that goes deeper than the file (a missing
/// field), the deepest part that exists.
fn span_of(table: &DeTable<'_>, path: &[Seg]) -> Option<Range<usize>> {
    let mut best: Option<Range<usize>> = None;
    let mut table = Some(table);
    let mut value: Option<&Spanned<DeValue<'_>>> = None;
    for seg in path {
        match seg {
            Seg::Key(k) => {
                let t = table?;
                let (key, v) = t.get_key_value(k.as_str())?;
                best = Some(key.span());
                value = Some(v);
            }
            Seg::Index(i) => {
                let Some(DeValue::Array(a)) = value.map(Spanned::get_ref) else {
                    return best;
                };
                let Some(item) = a.get(*i) else {
                    return best;
                };
                best = Some(item.span());
                value = Some(item);
            }
        }
        table = match value.map(Spanned::get_ref) {
            Some(DeValue::Table(t)) => Some(t),
            _ => None,
        };
    }
    best
}

/// The path of the smallest key or value whose span holds `span`.
fn path_at(table: &DeTable<'_>, span: &Range<usize>) -> Vec<Seg> {
    let mut all = Vec::new();
    walk_table(table, &mut Vec::new(), &mut all);
    let mut best: Option<(usize, Vec<Seg>)> = None;
    for (s, p) in all {
        let holds = s.start <= span.start && span.end <= s.end.max(s.start + 1);
        if holds && best.as_ref().is_none_or(|(len, _)| s.len() <= *len) {
            best = Some((s.len(), p));
        }
    }
    best.map(|(_, p)| p).unwrap_or_default()
}

/// The file a [`FileConfig`] came from, for locating errors found later.
#[derive(Clone, Default)]
pub(crate) struct Source {
    /// The file's path.
    pub(crate) path: PathBuf,
    /// The file's text (it may hold secrets: wiped on drop).
    pub(crate) text: Zeroizing<String>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("path", &self.path)
            .field("text", &"<redacted>")
            .finish()
    }
}

impl Source {
    /// An error about the field at `path`, located in the file.
    pub(crate) fn error(&self, path: &[Seg], message: impl Into<String>) -> ConfigError {
        let (line, column) = match DeTable::parse(&self.text) {
            Ok(doc) => span_of(doc.get_ref(), path).map_or((1, 1), |s| line_col(&self.text, s.start)),
            Err(_) => (1, 1),
        };
        ConfigError {
            file: self.path.clone(),
            line,
            column,
            field: render(path),
            message: message.into(),
        }
    }

    /// A located error for a TOML syntax or type error.
    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span().unwrap_or(0..0);
        let (line, column) = line_col(&self.text, span.start);
        let field = match DeTable::parse(&self.text) {
            Ok(doc) => render(&path_at(doc.get_ref(), &span)),
            Err(_) => String::new(),
        };
        ConfigError {
            file: self.path.clone(),
            line,
            column,
            field,
            message: e.message().trim_end().to_owned(),
        }
    }
}

/// A secret read from the file: wiped on drop, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The secret itself; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Self(Zeroizing::new(s)))
    }
}

/// A queue attribute's value: TOML strings, integers and booleans are all
/// accepted and passed on as the string the API would carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeValue(pub String);

impl<'de> Deserialize<'de> for AttributeValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = AttributeValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, an integer or a boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AttributeValue, E> {
                Ok(AttributeValue(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<AttributeValue, E> {
                Ok(AttributeValue(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AttributeValue, E> {
                Ok(AttributeValue(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<AttributeValue, E> {
                Ok(AttributeValue(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<AttributeValue, E> {
                Ok(AttributeValue(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// How logs are written (`[server] log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line.
    Json,
}

/// How commits to the data directory are made durable (`[server] sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// fsync every commit (survives power loss).
    Full,
    /// No fsync per commit (survives a crash of sealq, not of the machine).
    Normal,
}

/// How signatures are checked (`[server] auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthSetting {
    /// Any well-formed signature passes, except for registered keys.
    Open,
    /// Every signed request is verified.
    Verify,
    /// Verified, and encrypted queues refuse plain HTTP.
    Strict,
}

impl AuthSetting {
    /// The server's setting.
    pub fn mode(self) -> crate::auth::AuthMode {
        match self {
            Self::Open => crate::auth::AuthMode::Open,
            Self::Verify => crate::auth::AuthMode::Verify,
            Self::Strict => crate::auth::AuthMode::Strict,
        }
    }
}

impl SyncMode {
    /// The store's setting.
    pub fn store_sync(self) -> crate::store::durable::Sync {
        match self {
            Self::Full => crate::store::durable::Sync::Full,
            Self::Normal => crate::store::durable::Sync::Normal,
        }
    }
}

/// `[server]`: every field optional; a flag or environment variable wins
/// over the file, the file over the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on.
    pub host: Option<String>,
    /// Port to listen on.
    pub port: Option<u16>,
    /// AWS region in ARNs.
    pub region: Option<String>,
    /// AWS account id in ARNs and queue URLs.
    pub account_id: Option<String>,
    /// Start of queue URLs (e.g. `http://sealq:9324`).
    pub queue_url_base: Option<String>,
    /// Whether signed CreateQueue requests get SSE-SQS by default.
    pub sse_sqs_by_default: Option<bool>,
    /// Whether a deleted queue's name is taken for 60 s (`--strict-deletion`).
    pub strict_deletion: Option<bool>,
    /// Most open connections (`--max-connections`).
    pub max_connections: Option<u32>,
    /// Seconds a client may take to send a request head or body, and an
    /// idle connection stays open (`--client-timeout`).
    pub client_timeout: Option<u32>,
    /// Directory for durable state (`--data-dir`).
    pub data_dir: Option<PathBuf>,
    /// `full` or `normal` (`--sync`).
    pub sync: Option<SyncMode>,
    /// `human` or `json` (`--log-format`).
    pub log_format: Option<LogFormat>,
    /// `open` or `verify` (`--auth`).
    pub auth: Option<AuthSetting>,
    /// Port of the HTTPS listener (`--tls-port`).
    pub tls_port: Option<u16>,
    /// Certificate chain to serve over HTTPS, PEM (`--tls-cert`).
    pub tls_cert: Option<PathBuf>,
    /// Its private key, PEM (`--tls-key`).
    pub tls_key: Option<PathBuf>,
    /// More names for the certificate the local CA makes (`--tls-hostnames`).
    pub tls_hostnames: Option<Vec<String>>,
    /// Where to write the local CA's certificate (`--tls-ca-out`).
    pub tls_ca_out: Option<PathBuf>,
}

/// `rotation = { enabled = true, rotation_period_in_days = 365 }` of a key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationSection {
    /// Automatic rotation on (default `true` when the table is given).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Days between rotations, 90..=2560 (default 365).
    pub rotation_period_in_days: Option<i64>,
}

fn yes() -> bool {
    true
}

/// `[[keys]]`: one KMS key with a fixed id.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySection {
    /// The key id (a UUID), fixed so ARNs and ciphertexts survive restarts.
    pub key_id: String,
    /// The account that holds the key and its aliases (default: the
    /// server's).
    pub account: Option<String>,
    /// Aliases (`alias/...`) pointing to this key.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Description.
    pub description: Option<String>,
    /// `SYMMETRIC_DEFAULT` (default) or `HMAC_224`/`HMAC_256`/`HMAC_384`/`HMAC_512`.
    pub key_spec: Option<String>,
    /// `ENCRYPT_DECRYPT` (default for symmetric keys) or `GENERATE_VERIFY_MAC`.
    pub key_usage: Option<String>,
    /// The key policy, a JSON document (default: AWS's default policy).
    pub policy: Option<String>,
    /// Enabled (default) or disabled.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Automatic rotation (off when absent).
    pub rotation: Option<RotationSection>,
    /// Base64 of the first key material: 32 bytes for `SYMMETRIC_DEFAULT`,
    /// the HMAC length otherwise. Makes ciphertexts reproducible across
    /// servers started from the same file. Tests only: it is a secret.
    pub key_material: Option<Secret>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl fmt::Debug for KeySection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySection")
            .field("key_id", &self.key_id)
            .field("account", &self.account)
            .field("aliases", &self.aliases)
            .field("description", &self.description)
            .field("key_spec", &self.key_spec)
            .field("key_usage", &self.key_usage)
            .field("policy", &self.policy)
            .field("enabled", &self.enabled)
            .field("rotation", &self.rotation)
            .field("key_material", &self.key_material.as_ref().map(|_| "<redacted>"))
            .field("tags", &self.tags)
            .finish()
    }
}

impl KeySection {
    /// The decoded key material, when configured and valid base64.
    pub(crate) fn material(&self) -> Option<Zeroizing<Vec<u8>>> {
        let m = self.key_material.as_ref()?;
        B64.decode(m.expose().trim()).ok().map(Zeroizing::new)
    }
}

/// `[[queues]]`: one queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSection {
    /// Queue name (FIFO queues end in `.fifo` and set `FifoQueue = true`).
    pub name: String,
    /// The queue's account (default: the server's): its URL and ARN name
    /// it, and a `KmsMasterKeyId` or bare dead-letter name resolves there.
    #[serde(default)]
    pub account: Option<String>,
    /// Attributes by their AWS names, as CreateQueue takes them.
    /// `RedrivePolicy`'s `deadLetterTargetArn` may also be the bare name of
    /// a queue of this server.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `[[principals]]`: an access key id and who signs with it.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalSection {
    /// The access key id clients sign with.
    pub access_key_id: String,
    /// IAM user name: the principal is `arn:aws:iam::ACCOUNT:user/NAME`.
    pub name: Option<String>,
    /// Or the principal's full ARN (a user, role, or assumed role).
    pub arn: Option<String>,
    /// The secret access key, kept for signature checks (redacted in Debug).
    pub secret_access_key: Option<Secret>,
    /// The user's account, with `name` (default: the server's).
    pub account: Option<String>,
    /// Inline identity policies.
    #[serde(default)]
    pub policies: Vec<NamedPolicy>,
}

/// An inline identity policy: `{ name = "...", document = ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedPolicy {
    /// Its name (1 to 128 of letters, digits and `+=,.@-_`).
    pub name: String,
    /// The document, as JSON text or a TOML table.
    pub document: PolicySource,
}

impl fmt::Debug for PrincipalSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrincipalSection")
            .field("access_key_id", &self.access_key_id)
            .field("name", &self.name)
            .field("arn", &self.arn)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("account", &self.account)
            .field("policies", &self.policies)
            .finish()
    }
}

impl PrincipalSection {
    /// The principal's ARN in `account_id`.
    pub fn principal_arn(&self, account_id: &str) -> String {
        let account = self.account.as_deref().unwrap_or(account_id);
        match (&self.arn, &self.name) {
            (Some(arn), _) => arn.clone(),
            (None, Some(name)) => format!("arn:aws:iam::{account}:user/{name}"),
            (None, None) => format!("arn:aws:iam::{account}:user/{}", self.access_key_id),
        }
    }
}

/// A policy document in the file: JSON text, as IAM writes it, or a TOML
/// table of the same shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PolicySource {
    /// `trust_policy = '''{"Version": ...}'''`.
    Json(String),
    /// `trust_policy = { Version = ..., Statement = [...] }`.
    Table(serde_json::Value),
}

impl PolicySource {
    /// The checked document.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn document(
        &self,
        kind: crate::iam::policy::PolicyKind,
    ) -> Result<crate::iam::policy::PolicyDocument, String> {
        match self {
            Self::Json(text) => crate::iam::policy::PolicyDocument::parse_json(text, kind),
            Self::Table(v) => crate::iam::policy::PolicyDocument::from_value(v, kind),
        }
    }
}

/// `[[roles]]`: a role that callers may assume through STS's AssumeRole.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSection {
    /// The role's name: the role is `arn:aws:iam::ACCOUNT:role/NAME`.
    pub name: String,
    /// Its account (default: the server's).
    pub account: Option<String>,
    /// Who may assume it.
    pub trust_policy: PolicySource,
    /// The longest session AssumeRole grants, 3,600–43,200 seconds
    /// (default 3,600, as IAM's).
    pub max_session_duration_seconds: Option<u64>,
    /// Inline identity policies (what the role's sessions may do).
    #[serde(default)]
    pub policies: Vec<NamedPolicy>,
}

/// A whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[server]`.
    #[serde(default)]
    pub server: ServerSection,
    /// `[[keys]]`, in file order.
    #[serde(default)]
    pub keys: Vec<KeySection>,
    /// `[[queues]]`, in file order (applied dead-letter queues first).
    #[serde(default)]
    pub queues: Vec<QueueSection>,
    /// `[[principals]]`.
    #[serde(default)]
    pub principals: Vec<PrincipalSection>,
    /// `[[roles]]`.
    #[serde(default)]
    pub roles: Vec<RoleSection>,
    /// Where it came from.
    #[serde(skip)]
    pub(crate) source: Source,
}

impl FileConfig {
    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.source.path
    }

    /// Where the file declares each resource it makes: (ARN, line), for
    /// queues, keys, principals and roles, in file order. `config` gives
    /// the region and default account.
    pub fn declarations(&self, config: &Config) -> Vec<(String, usize)> {
        let line = |path: &[Seg]| self.source.error(path, "").line;
        let mut out = Vec::new();
        for (i, k) in self.keys.iter().enumerate() {
            let account = k.account.as_deref().unwrap_or(&config.account_id);
            let arn = format!(
                "arn:aws:kms:{}:{account}:key/{}",
                config.region,
                k.key_id.to_ascii_lowercase()
            );
            out.push((arn, line(&field!["keys", i, "key_id"])));
        }
        for (i, q) in self.queues.iter().enumerate() {
            let account = q.account.as_deref().unwrap_or(&config.account_id);
            let arn = format!("arn:aws:sqs:{}:{account}:{}", config.region, q.name);
            out.push((arn, line(&field!["queues", i, "name"])));
        }
        for (i, p) in self.principals.iter().enumerate() {
            out.push((
                p.principal_arn(&config.account_id),
                line(&field!["principals", i, "access_key_id"]),
            ));
        }
        for (i, r) in self.roles.iter().enumerate() {
            let account = r.account.as_deref().unwrap_or(&config.account_id);
            out.push((
                format!("arn:aws:iam::{account}:role/{}", r.name),
                line(&field!["roles", i, "name"]),
            ));
        }
        out
    }

    /// `base` with every `[server]` setting the file gives put over it
    /// (callers keep flags and environment variables on top: see main.rs).
    pub fn server_config(&self, base: Config) -> Config {
        let s = &self.server;
        Config {
            host: s.host.clone().unwrap_or(base.host),
            port: s.port.unwrap_or(base.port),
            region: s.region.clone().unwrap_or(base.region),
            account_id: s.account_id.clone().unwrap_or(base.account_id),
            queue_url_base: s.queue_url_base.clone().or(base.queue_url_base),
            sse_sqs_by_default: s.sse_sqs_by_default.unwrap_or(base.sse_sqs_by_default),
            strict_deletion: s.strict_deletion.unwrap_or(base.strict_deletion),
            limits: crate::listen::Limits {
                max_connections: s
                    .max_connections
                    .map_or(base.limits.max_connections, |n| n as usize),
                header_timeout: s
                    .client_timeout
                    .map_or(base.limits.header_timeout, |t| Duration::from_secs(u64::from(t))),
                body_timeout: s
                    .client_timeout
                    .map_or(base.limits.body_timeout, |t| Duration::from_secs(u64::from(t))),
            },
            data_dir: s.data_dir.clone().or(base.data_dir),
            sync: s.sync.map_or(base.sync, SyncMode::store_sync),
            auth: s.auth.map_or(base.auth, AuthSetting::mode),
            tls: crate::config::TlsSettings {
                port: s.tls_port.or(base.tls.port),
                cert: s.tls_cert.clone().or(base.tls.cert),
                key: s.tls_key.clone().or(base.tls.key),
                hostnames: s.tls_hostnames.clone().unwrap_or(base.tls.hostnames),
                ca_out: s.tls_ca_out.clone().or(base.tls.ca_out),
            },
        }
    }
}

/// Reads and checks the configuration file at `path`.
///
/// # Errors
/// A [`ConfigError`] naming the file (and line and field) when it cannot be
/// read, is not TOML, has a field of the wrong type or an unknown field, or
/// fails a check [`parse`] makes.
pub fn load(path: impl AsRef<Path>) -> Result<FileConfig, ConfigError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        line: 0,
        column: 0,
        field: String::new(),
        message: format!("cannot read the configuration file: {e}"),
    })?;
    parse(path, text)
}

/// Checks the text of a configuration file (named `path` in errors):
/// TOML syntax, field types, unknown fields, key ids (UUIDs), key material
/// (base64), duplicate key ids, aliases, queue names and access key ids,
/// and principals naming exactly one of `name` and `arn`. What needs a
/// server (attribute values, dead-letter links) is checked by `apply`.
///
/// # Errors
/// The first problem, located.
pub fn parse(path: impl AsRef<Path>, text: String) -> Result<FileConfig, ConfigError> {
    let source = Source {
        path: path.as_ref().to_owned(),
        text: Zeroizing::new(text),
    };
    let mut cfg: FileConfig = toml::from_str(&source.text).map_err(|e| source.toml_error(&e))?;
    cfg.source = source;
    check_static(&cfg)?;
    Ok(cfg)
}

/// The checks of [`parse`] after deserialization.
fn check_static(cfg: &FileConfig) -> Result<(), ConfigError> {
    if let Some(n) = cfg.server.max_connections
        && !(MIN_CONNECTIONS..=MAX_CONNECTIONS).contains(&n)
    {
        return Err(cfg.source.error(
            &field!["server", "max_connections"],
            format!("must be from {MIN_CONNECTIONS} to {MAX_CONNECTIONS}, not {n}"),
        ));
    }
    if let Some(t) = cfg.server.client_timeout
        && !(1..=MAX_CLIENT_TIMEOUT).contains(&t)
    {
        return Err(cfg.source.error(
            &field!["server", "client_timeout"],
            format!("must be from 1 to {MAX_CLIENT_TIMEOUT} seconds, not {t}"),
        ));
    }
    let src = &cfg.source;
    for (i, h) in cfg.server.tls_hostnames.iter().flatten().enumerate() {
        if let Err(e) = crate::tls::parse_hostname(h) {
            return Err(src.error(&field!["server", "tls_hostnames", i], e));
        }
    }
    let mut ids = HashSet::new();
    let mut aliases = HashSet::new();
    for (i, k) in cfg.keys.iter().enumerate() {
        if k.key_id.len() != 36 || uuid::Uuid::try_parse(&k.key_id).is_err() {
            return Err(src.error(
                &field!["keys", i, "key_id"],
                format!(
                    "`{}` is not a key id: KMS key ids are UUIDs like 1234abcd-12ab-34cd-56ef-1234567890ab",
                    k.key_id
                ),
            ));
        }
        if !ids.insert(k.key_id.to_ascii_lowercase()) {
            return Err(src.error(
                &field!["keys", i, "key_id"],
                format!("key id {} is configured twice", k.key_id),
            ));
        }
        if let Some(a) = &k.account
            && !crate::iam::is_account_id(a)
        {
            return Err(src.error(
                &field!["keys", i, "account"],
                format!("`{a}` is not an AWS account id (12 digits)"),
            ));
        }
        if k.key_material.is_some() && k.material().is_none() {
            return Err(src.error(
                &field!["keys", i, "key_material"],
                "key material must be base64 (standard alphabet, with padding)",
            ));
        }
        for (j, a) in k.aliases.iter().enumerate() {
            // Aliases are per account; a key without one is in the server's.
            let account = k
                .account
                .clone()
                .or_else(|| cfg.server.account_id.clone())
                .unwrap_or_else(|| crate::config::Config::default().account_id);
            if !aliases.insert((account, a.as_str())) {
                return Err(src.error(
                    &field!["keys", i, "aliases", j],
                    format!("alias {a} is configured twice"),
                ));
            }
        }
    }
    let mut names = HashSet::new();
    for (i, q) in cfg.queues.iter().enumerate() {
        if let Some(a) = &q.account
            && !crate::iam::is_account_id(a)
        {
            return Err(src.error(
                &field!["queues", i, "account"],
                format!("`{a}` is not an account id (12 digits)"),
            ));
        }
        let account = q
            .account
            .clone()
            .or_else(|| cfg.server.account_id.clone())
            .unwrap_or_else(|| crate::config::Config::default().account_id);
        if !names.insert((account, q.name.as_str())) {
            return Err(src.error(
                &field!["queues", i, "name"],
                format!("queue {} is configured twice", q.name),
            ));
        }
    }
    let mut keys = HashSet::new();
    for (i, p) in cfg.principals.iter().enumerate() {
        if p.access_key_id.is_empty() {
            return Err(src.error(
                &field!["principals", i, "access_key_id"],
                "the access key id must not be empty",
            ));
        }
        if !keys.insert(p.access_key_id.as_str()) {
            return Err(src.error(
                &field!["principals", i, "access_key_id"],
                format!("access key id {} is configured twice", p.access_key_id),
            ));
        }
        match (&p.name, &p.arn) {
            (Some(_), Some(_)) => {
                return Err(src.error(
                    &field!["principals", i, "arn"],
                    "give either `name` or `arn`, not both",
                ));
            }
            (None, None) => {
                return Err(src.error(&field!["principals", i], "give `name` or `arn`"));
            }
            (Some(n), None) if n.is_empty() || n.contains(['/', ':']) => {
                return Err(src.error(
                    &field!["principals", i, "name"],
                    format!("`{n}` is not an IAM user name"),
                ));
            }
            (None, Some(a)) if !(a.starts_with("arn:aws:iam::") || a.starts_with("arn:aws:sts::")) => {
                return Err(src.error(
                    &field!["principals", i, "arn"],
                    format!("`{a}` is not an IAM or STS principal ARN (arn:aws:iam::ACCOUNT:user/NAME, ...:role/NAME)"),
                ));
            }
            _ => {}
        }
        if let Some(a) = &p.account {
            if !crate::iam::is_account_id(a) {
                return Err(src.error(
                    &field!["principals", i, "account"],
                    format!("`{a}` is not an AWS account id (12 digits)"),
                ));
            }
            if p.arn.is_some() {
                return Err(src.error(
                    &field!["principals", i, "account"],
                    "give `account` with `name`; an `arn` names its account itself",
                ));
            }
        }
        check_policies(src, "principals", i, &p.policies)?;
    }
    let mut roles = HashSet::new();
    for (i, r) in cfg.roles.iter().enumerate() {
        if !crate::iam::is_iam_name(&r.name, 64) {
            return Err(src.error(
                &field!["roles", i, "name"],
                format!(
                    "`{}` is not an IAM role name (1 to 64 of letters, digits and _+=,.@-)",
                    r.name
                ),
            ));
        }
        if let Some(a) = &r.account
            && !crate::iam::is_account_id(a)
        {
            return Err(src.error(
                &field!["roles", i, "account"],
                format!("`{a}` is not an AWS account id (12 digits)"),
            ));
        }
        if !roles.insert((r.account.as_deref(), r.name.as_str())) {
            return Err(src.error(
                &field!["roles", i, "name"],
                format!("role {} is configured twice", r.name),
            ));
        }
        if let Some(secs) = r.max_session_duration_seconds
            && !(3_600..=43_200).contains(&secs)
        {
            return Err(src.error(
                &field!["roles", i, "max_session_duration_seconds"],
                format!("{secs} is not a maximum session duration: IAM allows 3600 to 43200 seconds"),
            ));
        }
        if let Err(e) = r.trust_policy.document(crate::iam::policy::PolicyKind::Resource) {
            return Err(src.error(&field!["roles", i, "trust_policy"], e));
        }
        check_policies(src, "roles", i, &r.policies)?;
    }
    Ok(())
}

/// Checks the inline identity policies of `section[i]`: names and
/// documents.
fn check_policies(
    src: &Source,
    section: &'static str,
    i: usize,
    policies: &[NamedPolicy],
) -> Result<(), ConfigError> {
    let mut names = HashSet::new();
    for (j, p) in policies.iter().enumerate() {
        if !crate::iam::is_iam_name(&p.name, 128) {
            return Err(src.error(
                &field![section, i, "policies", j, "name"],
                format!(
                    "`{}` is not a policy name (1 to 128 of letters, digits and +=,.@-_)",
                    p.name
                ),
            ));
        }
        if !names.insert(p.name.as_str()) {
            return Err(src.error(
                &field![section, i, "policies", j, "name"],
                format!("policy {} is given twice", p.name),
            ));
        }
        if let Err(e) = p.document.document(crate::iam::policy::PolicyKind::Identity) {
            return Err(src.error(&field![section, i, "policies", j, "document"], e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        parse("t.toml", text.to_owned()).unwrap_err()
    }

    #[test]
    fn an_alias_is_one_per_account_whether_the_account_is_written_or_not() {
        let twice = "[[keys]]\nkey_id = \"11111111-2222-3333-4444-555555555555\"\naliases = [\"alias/a\"]\n\
                     [[keys]]\nkey_id = \"21111111-2222-3333-4444-555555555555\"\naccount = \"000000000000\"\naliases = [\"alias/a\"]\n";
        assert!(err(twice).message.contains("alias alias/a is configured twice"));
        let elsewhere = twice.replace("account = \"000000000000\"", "account = \"111111111111\"");
        assert!(parse("t.toml", elsewhere).is_ok());
    }

    #[test]
    fn unknown_fields_are_named_with_their_line() {
        let e =
            err("[server]\nport = 1\n\n[[queues]]\nname = \"a\"\n\n[[queues]]\nname = \"b\"\ncolour = 1\n");
        assert_eq!((e.line, e.column), (9, 1), "{e}");
        assert_eq!(e.field, "queues[1].colour", "{e}");
        assert!(e.message.contains("unknown field `colour`"), "{e}");
        assert!(
            e.to_string()
                .starts_with("t.toml:9:1: field `queues[1].colour`: "),
            "{e}"
        );
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = err("[server]\nhost = \"h\"\nport = \"nine\"\n");
        assert_eq!(e.line, 3, "{e}");
        assert_eq!(e.field, "server.port", "{e}");
        let e = err("[[queues]]\nname = \"a\"\nattributes = { DelaySeconds = 1.5 }\n");
        assert_eq!(e.line, 3, "{e}");
        assert_eq!(e.field, "queues[0].attributes.DelaySeconds", "{e}");
        let cfg = parse(
            "t.toml",
            "[server]\ndata_dir = \"/var/lib/sealq\"\nlog_format = \"json\"\nsync = \"normal\"\n".to_owned(),
        )
        .unwrap();
        assert_eq!(cfg.server.data_dir.as_deref(), Some(Path::new("/var/lib/sealq")));
        assert_eq!(cfg.server.log_format, Some(LogFormat::Json));
        assert_eq!(cfg.server.sync, Some(SyncMode::Normal));
        for (text, field) in [
            ("[server]\nmax_connections = 0\n", "server.max_connections"),
            ("[server]\nclient_timeout = 0\n", "server.client_timeout"),
            ("[server]\nclient_timeout = 3601\n", "server.client_timeout"),
        ] {
            let e = err(text);
            assert_eq!(e.field, field, "{e}");
            assert!(e.message.starts_with("must be from"), "{e}");
        }
        let e = err("[server]\nlog_format = \"xml\"\n");
        assert_eq!(e.field, "server.log_format", "{e}");
        let e = err("[server]\nsync = \"sometimes\"\n");
        assert_eq!(e.field, "server.sync", "{e}");
    }

    #[test]
    fn tls_settings_parse_and_bad_hostnames_are_located() {
        let cfg = parse(
            "t.toml",
            "[server]\ntls_port = 9443\ntls_hostnames = [\"sealq\", \"10.0.0.7\"]\ntls_ca_out = \"/tmp/ca.pem\"\n"
                .to_owned(),
        )
        .unwrap();
        let tls = cfg.server_config(Config::default()).tls;
        assert_eq!(tls.port, Some(9443));
        assert_eq!(tls.hostnames, ["sealq", "10.0.0.7"]);
        assert_eq!(tls.ca_out.as_deref(), Some(Path::new("/tmp/ca.pem")));
        let e = err("[server]\ntls_port = 9443\ntls_hostnames = [\"sealq\",\n  \"not a name\"]\n");
        assert_eq!((e.line, e.field.as_str()), (4, "server.tls_hostnames[1]"), "{e}");
        assert!(e.message.contains("neither a DNS name nor an IP address"), "{e}");
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let e = err("[server]\nport = \n");
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn missing_fields_point_at_their_table() {
        let e = err("[[queues]]\nname = \"a\"\n\n[[queues]]\ntags = { a = \"b\" }\n");
        assert_eq!(e.line, 4, "{e}");
        assert_eq!(e.field, "queues[1]", "{e}");
        assert!(e.message.contains("missing field `name`"), "{e}");
    }

    #[test]
    fn static_checks_name_line_and_field() {
        let e = err("[[keys]]\nkey_id = \"nope\"\n");
        assert_eq!((e.line, e.field.as_str()), (2, "keys[0].key_id"), "{e}");
        let e = err("[[keys]]\nkey_id = \"11111111-2222-3333-4444-555555555555\"\nkey_material = \"!!\"\n");
        assert_eq!((e.line, e.field.as_str()), (3, "keys[0].key_material"), "{e}");
        let e = err("[[queues]]\nname = \"a\"\n[[queues]]\nname = \"a\"\n");
        assert_eq!((e.line, e.field.as_str()), (4, "queues[1].name"), "{e}");
        let e = err("[[principals]]\naccess_key_id = \"AK\"\n");
        assert_eq!((e.line, e.field.as_str()), (1, "principals[0]"), "{e}");
        let e = err(
            "[[keys]]\nkey_id = \"11111111-2222-3333-4444-555555555555\"\naliases = [\"alias/a\"]\n\
             [[keys]]\nkey_id = \"11111111-2222-3333-4444-555555555556\"\naliases = [\"alias/b\",\n  \"alias/a\"]\n",
        );
        assert_eq!((e.line, e.field.as_str()), (7, "keys[1].aliases[1]"), "{e}");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let cfg = parse(
            "t.toml",
            "[[keys]]\nkey_id = \"11111111-2222-3333-4444-555555555555\"\n\
             key_material = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n\
             [[principals]]\naccess_key_id = \"AK\"\nname = \"n\"\nsecret_access_key = \"TOPSECRETVALUE\"\n"
                .to_owned(),
        )
        .unwrap();
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("TOPSECRETVALUE"), "{dbg}");
        assert!(!dbg.contains("AAAAAAAAAAAA"), "{dbg}");
        assert_eq!(cfg.keys[0].material().unwrap().len(), 32);
        assert_eq!(
            cfg.principals[0].principal_arn("123456789012"),
            "arn:aws:iam::123456789012:user/n"
        );
    }

    #[test]
    fn attribute_values_take_strings_numbers_and_booleans() {
        let cfg = parse(
            "t.toml",
            "[[queues]]\nname = \"a\"\n[queues.attributes]\nDelaySeconds = 5\nSqsManagedSseEnabled = false\nPolicy = \"\"\n"
                .to_owned(),
        )
        .unwrap();
        let a = &cfg.queues[0].attributes;
        assert_eq!(a["DelaySeconds"].0, "5");
        assert_eq!(a["SqsManagedSseEnabled"].0, "false");
        assert_eq!(a["Policy"].0, "");
    }
}
