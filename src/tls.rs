//! The HTTPS listener and sealq's local certificate authority.
//!
//! With `--tls-port` sealq serves the same [`crate::app`] router over TLS
//! (rustls on AWS-LC, HTTP/1.1 only, ALPN `http/1.1`) beside the plain HTTP
//! port. Every request that came over TLS carries the
//! [`crate::protocol::Tls`] extension (so it gets `https://` queue URLs and
//! counts as `tls="yes"`) and, as on the plain port, the peer's address as
//! `ConnectInfo<SocketAddr>`.
//!
//! The certificate is either the user's (`--tls-cert`/`--tls-key`, PEM,
//! checked at start-up: the key must match the certificate) or made at
//! start-up by the local CA ([`LocalCa`]): an ECDSA P-256 CA named "sealq
//! local CA", valid 10 years, kept in `<data-dir>/tls/` (`ca.pem`, and
//! `ca.key` with mode 0600) when there is a data directory so that clients
//! keep trusting it across restarts, else in memory for the process's
//! lifetime. The server certificate it signs is made anew at every start
//! (so new `--tls-hostnames` take effect) for `localhost`, `127.0.0.1`,
//! `::1` and those names, and checked against the CA before it is served.
//! `--tls-ca-out FILE` writes the CA's certificate (never its key) for
//! clients to trust.
//!
//! The HTTPS listener runs the accept loop both listeners share
//! ([`crate::listen::run`]); each accepted connection gets its own task, in
//! which the handshake ([`Handshake`]) runs under a timeout
//! ([`HANDSHAKE_TIMEOUT`]), so a stalled or failed handshake never holds up
//! the accept loop or another connection; a client speaking plain HTTP to
//! this port gets a `400` saying so, and its connection is closed.
//!
//! Certificate validity is real time (clients check it against their own
//! clocks), so this module reads the system time, not [`crate::clock`];
//! nothing here logs key material.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

use crate::config::TlsSettings;

/// How long a client may take to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The local CA's common name.
pub const CA_NAME: &str = "sealq local CA";

/// Subdirectory of the data directory that holds the local CA.
pub const CA_DIR: &str = crate::store::durable::TLS_DIR;

/// The CA certificate's file name under [`CA_DIR`].
pub const CA_CERT_FILE: &str = "ca.pem";

/// The CA key's file name under [`CA_DIR`] (mode 0600).
pub const CA_KEY_FILE: &str = "ca.key";

/// Names every certificate made by the local CA holds.
const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// How long the local CA is valid.
const CA_VALIDITY: time::Duration = time::Duration::days(3650);

/// How long a server certificate made at start-up is valid.
const LEAF_VALIDITY: time::Duration = time::Duration::days(365);

/// Why TLS cannot be set up: a bad setting, an unreadable or invalid file,
/// a key that does not match its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(pub String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// The crypto provider of every TLS configuration here: AWS-LC, the
/// library sealq already encrypts with.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Checks a name for the local CA's certificates: an IP address (IPv6
/// possibly in brackets) or a DNS name (letters, digits, `-`, labels of 1
/// to 63 characters, optionally starting with the wildcard label `*`).
/// Returns the name as it will be written in the certificate.
///
/// # Errors
/// A message naming the value.
pub fn parse_hostname(s: &str) -> Result<String, String> {
    let s = s.trim();
    let unbracketed = s.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(s);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    let bad = || format!("`{s}` is neither a DNS name nor an IP address");
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.is_empty() || name.len() > 253 {
        return Err(bad());
    }
    for (i, label) in name.split('.').enumerate() {
        let ok = (i == 0 && label == "*" && name.len() > 1)
            || (!label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !ok {
            return Err(bad());
        }
    }
    Ok(name.to_ascii_lowercase())
}

/// The subject alternative name for a name [`parse_hostname`] accepted.
fn san(name: &str) -> Result<SanType, TlsError> {
    match name.parse::<IpAddr>() {
        Ok(ip) => Ok(SanType::IpAddress(ip)),
        Err(_) => name
            .to_owned()
            .try_into()
            .map(SanType::DnsName)
            .map_err(|e| TlsError(format!("`{name}` cannot be put in a certificate: {e}"))),
    }
}

/// Checks the settings together (after flags, environment and file are
/// merged): a certificate needs its key and the reverse, the other
/// settings need a TLS port, the local CA's settings (`hostnames`,
/// `ca_out`) do not go with a certificate of the user's, and the TLS port
/// is not the plain one. Files are not read here: see [`load_pem`].
///
/// # Errors
/// What is wrong, naming the flags.
pub fn check_settings(s: &TlsSettings, plain_port: u16) -> Result<(), TlsError> {
    let err = |m: &str| Err(TlsError(m.to_owned()));
    match (&s.cert, &s.key) {
        (Some(_), None) => return err("--tls-cert needs --tls-key (the certificate's private key)"),
        (None, Some(_)) => return err("--tls-key needs --tls-cert (the certificate it belongs to)"),
        _ => {}
    }
    let Some(port) = s.port else {
        if s.cert.is_some() || !s.hostnames.is_empty() || s.ca_out.is_some() {
            return err(
                "--tls-cert, --tls-key, --tls-hostnames and --tls-ca-out need --tls-port (HTTPS is off without it)",
            );
        }
        return Ok(());
    };
    if port != 0 && port == plain_port {
        return Err(TlsError(format!(
            "--tls-port {port} is also the plain HTTP port (--port): give them different ports"
        )));
    }
    if s.cert.is_some() && !s.hostnames.is_empty() {
        return err(
            "--tls-hostnames names the hosts of the certificate sealq makes; with --tls-cert the certificate is yours",
        );
    }
    if s.cert.is_some() && s.ca_out.is_some() {
        return err(
            "--tls-ca-out writes the certificate of sealq's local CA, which is not used with --tls-cert",
        );
    }
    Ok(())
}

/// A certificate chain and its private key, ready to serve.
pub struct ServerCert {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for ServerCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCert")
            .field("chain", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl ServerCert {
    /// The rustls configuration serving this certificate: AWS-LC, TLS 1.3
    /// and 1.2, ALPN `http/1.1`.
    ///
    /// # Errors
    /// The key does not match the certificate, or either is not usable.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .map_err(|e| TlsError(format!("TLS configuration: {e}")))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => {
                    TlsError("the private key does not match the certificate".to_owned())
                }
                e => TlsError(format!("the certificate or key cannot be used: {e}")),
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Reads the user's certificate chain and key (PEM) and checks that they
/// can be served: the files are readable, hold a certificate and a private
/// key, and the key matches the certificate.
///
/// # Errors
/// What is wrong, naming the file.
pub fn load_pem(cert: &Path, key: &Path) -> Result<ServerCert, TlsError> {
    let cert_text = std::fs::read(cert)
        .map_err(|e| TlsError(format!("cannot read the certificate {}: {e}", cert.display())))?;
    let chain = CertificateDer::pem_slice_iter(&cert_text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError(format!("{}: not a PEM certificate file: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(TlsError(format!(
            "{}: no certificate in it (expected -----BEGIN CERTIFICATE-----)",
            cert.display()
        )));
    }
    let key_text = Zeroizing::new(
        std::fs::read(key).map_err(|e| TlsError(format!("cannot read the key {}: {e}", key.display())))?,
    );
    let key_der = PrivateKeyDer::from_pem_slice(&key_text).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError(format!(
            "{}: no private key in it (expected -----BEGIN PRIVATE KEY----- or an RSA/EC key)",
            key.display()
        )),
        e => TlsError(format!("{}: not a PEM private key file: {e}", key.display())),
    })?;
    let served = ServerCert { chain, key: key_der };
    served.server_config().map_err(|e| {
        TlsError(format!(
            "--tls-cert {} and --tls-key {}: {e}",
            cert.display(),
            key.display()
        ))
    })?;
    Ok(served)
}

/// sealq's local certificate authority: a CA certificate and its key.
pub struct LocalCa {
    /// The CA certificate, PEM.
    cert_pem: String,
    /// The CA certificate, DER.
    cert_der: CertificateDer<'static>,
    /// Signs server certificates.
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("sha256", &self.fingerprint())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A random positive serial number (16 bytes).
fn serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

/// The CA's parameters apart from serial and validity: what signing a
/// certificate needs (subject, key usages, key identifier method), the
/// same for a new CA and for one read back from the data directory.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, "sealq");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// An rcgen error as a [`TlsError`].
fn rc(what: &str) -> impl FnOnce(rcgen::Error) -> TlsError + '_ {
    move |e| TlsError(format!("{what}: {e}"))
}

impl LocalCa {
    /// A new CA (ECDSA P-256, valid 10 years from an hour ago).
    ///
    /// # Errors
    /// Key generation or signing failed.
    pub fn generate() -> Result<Self, TlsError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(rc("CA key"))?;
        let mut params = ca_params();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + CA_VALIDITY;
        params.serial_number = Some(serial());
        let cert = params.self_signed(&key).map_err(rc("CA certificate"))?;
        Ok(Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(ca_params(), key),
        })
    }

    /// The CA kept in `dir` (`ca.pem` and `ca.key`), made and saved there
    /// (key file mode 0600) when `dir` holds neither file.
    ///
    /// # Errors
    /// `dir` cannot be created or written, one of the two files is missing
    /// or unreadable, or they are not a CA certificate and its key.
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let io =
            |p: &Path, what: &str, e: std::io::Error| TlsError(format!("cannot {what} {}: {e}", p.display()));
        match (cert_path.exists(), key_path.exists()) {
            (false, false) => {
                let ca = Self::generate()?;
                std::fs::create_dir_all(dir).map_err(|e| io(dir, "create", e))?;
                let key_pem = Zeroizing::new(ca.issuer.key().serialize_pem());
                // The key first: a certificate on disk without its key
                // would be trusted by clients yet useless.
                write_atomically(&key_path, key_pem.as_bytes(), 0o600)
                    .map_err(|e| io(&key_path, "write", e))?;
                write_atomically(&cert_path, ca.cert_pem.as_bytes(), 0o644)
                    .map_err(|e| io(&cert_path, "write", e))?;
                tracing::info!(ca = %cert_path.display(), sha256 = %ca.fingerprint(), "local CA created");
                Ok(ca)
            }
            (true, true) => {
                let cert_pem = std::fs::read_to_string(&cert_path).map_err(|e| io(&cert_path, "read", e))?;
                let key_pem =
                    Zeroizing::new(std::fs::read_to_string(&key_path).map_err(|e| io(&key_path, "read", e))?);
                let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
                    .map_err(|e| TlsError(format!("{}: not a PEM certificate: {e}", cert_path.display())))?;
                let key = KeyPair::from_pem(&key_pem)
                    .map_err(|e| TlsError(format!("{}: not a PEM private key: {e}", key_path.display())))?;
                let ca = Self {
                    cert_pem,
                    cert_der,
                    issuer: Issuer::new(ca_params(), key),
                };
                // A certificate it signs must verify against it: the pair
                // belongs together, is still valid and is sealq's CA.
                ca.issue(&[]).map_err(|e| {
                    TlsError(format!(
                        "the local CA in {} cannot be used ({e}); remove {} and {} to make a new one (clients must then trust the new one)",
                        dir.display(),
                        cert_path.display(),
                        key_path.display()
                    ))
                })?;
                tracing::info!(ca = %cert_path.display(), sha256 = %ca.fingerprint(), "local CA reused");
                Ok(ca)
            }
            (has_cert, _) => {
                let (there, missing) = if has_cert {
                    (&cert_path, &key_path)
                } else {
                    (&key_path, &cert_path)
                };
                Err(TlsError(format!(
                    "the local CA in {} is incomplete: {} is there but {} is missing; remove {} to make a new CA",
                    dir.display(),
                    there.display(),
                    missing.display(),
                    there.display()
                )))
            }
        }
    }

    /// The CA certificate, PEM: what clients trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// SHA-256 of the CA certificate (DER), hex with colons, as
    /// `openssl x509 -fingerprint -sha256` prints it.
    pub fn fingerprint(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.cert_der);
        let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }

    /// A server certificate (new ECDSA P-256 key, valid a year from an hour
    /// ago) for `localhost`, `127.0.0.1`, `::1` and `hostnames` (as
    /// [`parse_hostname`] returns them), signed by this CA and verified
    /// against it for every name it holds.
    ///
    /// # Errors
    /// A name cannot be put in a certificate, signing failed, or the
    /// result does not verify (e.g. the CA has expired).
    pub fn issue(&self, hostnames: &[String]) -> Result<ServerCert, TlsError> {
        let mut names: Vec<String> = DEFAULT_NAMES.iter().map(|n| (*n).to_owned()).collect();
        for h in hostnames {
            if !names.contains(h) {
                names.push(h.clone());
            }
        }
        let mut params = CertificateParams::default();
        params.subject_alt_names = names.iter().map(|n| san(n)).collect::<Result<_, _>>()?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "sealq");
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + LEAF_VALIDITY;
        params.serial_number = Some(serial());
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(rc("server key"))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(rc("server certificate"))?;
        let served = ServerCert {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        };
        self.verify(&served, &names)?;
        Ok(served)
    }

    /// Checks that `served` verifies against this CA, as a client trusting
    /// only this CA would, for each of `names`.
    fn verify(&self, served: &ServerCert, names: &[String]) -> Result<(), TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.cert_der.clone())
            .map_err(|e| TlsError(format!("the CA certificate is not usable: {e}")))?;
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| TlsError(format!("the CA certificate is not usable: {e}")))?;
        let leaf = served
            .chain
            .first()
            .ok_or_else(|| TlsError("no certificate was made".to_owned()))?;
        for name in names {
            let server_name = ServerName::try_from(name.as_str())
                .map_err(|e| TlsError(format!("`{name}` is not a server name: {e}")))?;
            rustls::client::danger::ServerCertVerifier::verify_server_cert(
                verifier.as_ref(),
                leaf,
                &[],
                &server_name,
                &[],
                UnixTime::now(),
            )
            .map_err(|e| TlsError(format!("the server certificate does not verify for {name}: {e}")))?;
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` through a temporary file beside it and a
/// rename (readers never see half a file), creating it with `mode` (Unix).
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

/// What the HTTPS listener serves: its rustls configuration and, when
/// sealq made the certificate, the local CA.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The rustls configuration.
    pub config: Arc<ServerConfig>,
    /// The local CA's certificate (PEM), when sealq made the certificate.
    pub ca_pem: Option<String>,
}

impl Identity {
    /// Sets up what `settings` ask for: the user's certificate and key, or
    /// a certificate from the local CA (kept under `data_dir/tls` when
    /// there is a data directory, in memory otherwise), whose certificate
    /// is then written to `settings.ca_out` when given.
    ///
    /// # Errors
    /// See [`load_pem`], [`LocalCa::load_or_create`] and [`LocalCa::issue`];
    /// `ca_out` cannot be written.
    pub fn prepare(settings: &TlsSettings, data_dir: Option<&Path>) -> Result<Self, TlsError> {
        if let (Some(cert), Some(key)) = (&settings.cert, &settings.key) {
            let served = load_pem(cert, key)?;
            tracing::info!(cert = %cert.display(), "serving the given TLS certificate");
            return Ok(Self {
                config: served.server_config()?,
                ca_pem: None,
            });
        }
        let ca = match data_dir {
            Some(dir) => LocalCa::load_or_create(&dir.join(CA_DIR))?,
            None => LocalCa::generate()?,
        };
        let hostnames = settings
            .hostnames
            .iter()
            .map(|h| parse_hostname(h).map_err(TlsError))
            .collect::<Result<Vec<_>, _>>()?;
        let served = ca.issue(&hostnames)?;
        if let Some(out) = &settings.ca_out {
            write_ca(out, ca.cert_pem())?;
        }
        tracing::info!(
            ca_sha256 = %ca.fingerprint(),
            ca_out = settings.ca_out.as_ref().map(|p| p.display().to_string()),
            hostnames = %hostnames.join(","),
            "TLS certificate made by the local CA"
        );
        Ok(Self {
            config: served.server_config()?,
            ca_pem: Some(ca.cert_pem().to_owned()),
        })
    }
}

/// Writes the CA certificate to `path` (`--tls-ca-out`).
///
/// # Errors
/// The file cannot be written.
pub fn write_ca(path: &Path, pem: &str) -> Result<(), TlsError> {
    write_atomically(path, pem.as_bytes(), 0o644)
        .map_err(|e| TlsError(format!("--tls-ca-out: cannot write {}: {e}", path.display())))
}

/// A bound TCP listener and the TLS configuration it serves.
pub struct TlsListener {
    listener: TcpListener,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Serves `config` on `listener`.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> Self {
        Self {
            listener,
            acceptor: TlsAcceptor::from(config),
        }
    }

    /// The address it listens on.
    ///
    /// # Errors
    /// The socket's error.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Where a connection's plain-HTTP refusal points clients.
const PLAIN_HTTP_ANSWER: &str = "This port speaks HTTPS (TLS): use an https:// endpoint.\n";

impl TlsListener {
    /// The listener and the handshake that makes its connections TLS.
    pub fn into_parts(self) -> (TcpListener, Handshake) {
        (self.listener, Handshake(self.acceptor))
    }
}

/// The TLS handshake, as the HTTPS listener's [`crate::listen::Upgrade`]:
/// bounded by [`HANDSHAKE_TIMEOUT`]; a client speaking plain HTTP to this
/// port gets a `400` saying so.
#[derive(Clone)]
pub struct Handshake(TlsAcceptor);

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake").finish_non_exhaustive()
    }
}

impl crate::listen::Upgrade for Handshake {
    type Stream = tokio_rustls::server::TlsStream<TcpStream>;
    const TLS: bool = true;

    async fn upgrade(&self, tcp: TcpStream, peer: SocketAddr) -> Option<Self::Stream> {
        let handshake = async {
            // A TLS connection starts with a handshake record (0x16);
            // anything else is most likely plain HTTP sent to the wrong port.
            let mut first = [0u8; 1];
            if matches!(tcp.peek(&mut first).await, Ok(1)) && first[0] != 0x16 {
                refuse_plain(tcp, peer).await;
                return None;
            }
            match self.0.accept(tcp).await {
                Ok(stream) => Some(stream),
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    None
                }
            }
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(stream) => stream,
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                None
            }
        }
    }
}

/// Answers plain HTTP on the TLS port with `400` and a hint, then closes.
async fn refuse_plain(mut tcp: TcpStream, peer: SocketAddr) {
    tracing::debug!(%peer, "plain HTTP on the TLS port: refused");
    // Read (some of) the request so the client is not reset mid-send.
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut buf)).await;
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{PLAIN_HTTP_ANSWER}",
        PLAIN_HTTP_ANSWER.len()
    );
    let _ = tcp.write_all(answer.as_bytes()).await;
    let _ = tcp.shutdown().await;
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sealq-tls-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn hostnames_are_dns_names_or_ip_addresses() {
        assert_eq!(parse_hostname("Sealq.Example.").unwrap(), "sealq.example");
        assert_eq!(parse_hostname("*.internal").unwrap(), "*.internal");
        assert_eq!(parse_hostname("[::1]").unwrap(), "::1");
        assert_eq!(parse_hostname("10.0.0.7").unwrap(), "10.0.0.7");
        assert_eq!(parse_hostname("sealq").unwrap(), "sealq");
        for bad in ["", "a b", "-x", "x-", "a..b", "*", "a.*.b", "x_y", "é.example"] {
            let e = parse_hostname(bad).unwrap_err();
            assert!(e.contains("neither a DNS name nor an IP address"), "{bad}: {e}");
        }
    }

    #[test]
    fn settings_go_together() {
        let port = |p| TlsSettings {
            port: Some(p),
            ..TlsSettings::default()
        };
        assert!(check_settings(&TlsSettings::default(), 9324).is_ok());
        assert!(check_settings(&port(0), 0).is_ok());
        assert!(check_settings(&port(9443), 9324).is_ok());
        let e = check_settings(&port(9324), 9324).unwrap_err();
        assert!(e.0.contains("different ports"), "{e}");
        let cert = TlsSettings {
            cert: Some("c.pem".into()),
            ..port(9443)
        };
        assert!(
            check_settings(&cert, 9324)
                .unwrap_err()
                .0
                .contains("--tls-cert needs --tls-key")
        );
        let key = TlsSettings {
            key: Some("k.pem".into()),
            ..port(9443)
        };
        assert!(
            check_settings(&key, 9324)
                .unwrap_err()
                .0
                .contains("--tls-key needs --tls-cert")
        );
        let both = TlsSettings {
            key: Some("k.pem".into()),
            ..cert
        };
        assert!(check_settings(&both, 9324).is_ok());
        let off = TlsSettings {
            port: None,
            ..both.clone()
        };
        assert!(
            check_settings(&off, 9324)
                .unwrap_err()
                .0
                .contains("need --tls-port")
        );
        let names = TlsSettings {
            hostnames: vec!["sealq".into()],
            ..both.clone()
        };
        assert!(
            check_settings(&names, 9324)
                .unwrap_err()
                .0
                .contains("--tls-hostnames")
        );
        let out = TlsSettings {
            ca_out: Some("ca.pem".into()),
            ..both
        };
        assert!(check_settings(&out, 9324).unwrap_err().0.contains("--tls-ca-out"));
    }

    #[test]
    fn the_ca_is_kept_and_reused_and_its_key_is_private() {
        let dir = temp_dir("reuse");
        let first = LocalCa::load_or_create(&dir).unwrap();
        let second = LocalCa::load_or_create(&dir).unwrap();
        assert_eq!(first.cert_pem(), second.cert_pem());
        assert!(first.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!format!("{first:?}").contains("PRIVATE"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A certificate signed by the reloaded CA verifies against the
        // first one's certificate (the same CA).
        let served = second
            .issue(&["sealq.test".to_owned(), "10.1.2.3".to_owned()])
            .unwrap();
        first
            .verify(&served, &["sealq.test".to_owned(), "10.1.2.3".to_owned()])
            .unwrap();
        let other = LocalCa::generate().unwrap();
        assert!(other.verify(&served, &["localhost".to_owned()]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_broken_ca_directory_is_refused_with_what_to_do() {
        let dir = temp_dir("broken");
        LocalCa::load_or_create(&dir).unwrap();
        std::fs::remove_file(dir.join(CA_KEY_FILE)).unwrap();
        let e = LocalCa::load_or_create(&dir).unwrap_err();
        assert!(e.0.contains("incomplete") && e.0.contains("ca.key"), "{e}");
        // A key that is not the certificate's.
        let other = LocalCa::generate().unwrap();
        std::fs::write(dir.join(CA_KEY_FILE), other.issuer.key().serialize_pem()).unwrap();
        let e = LocalCa::load_or_create(&dir).unwrap_err();
        assert!(e.0.contains("cannot be used") && e.0.contains("remove"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_users_certificate_must_match_its_key() {
        let dir = temp_dir("user");
        std::fs::create_dir_all(&dir).unwrap();
        let ca = LocalCa::generate().unwrap();
        let served = ca.issue(&[]).unwrap();
        let cert_pem = {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
            params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(1);
            let cert = params.self_signed(&key).unwrap();
            std::fs::write(dir.join("good.key"), key.serialize_pem()).unwrap();
            cert.pem()
        };
        std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
        load_pem(&dir.join("cert.pem"), &dir.join("good.key")).unwrap();
        let ServerCert { key, .. } = served;
        let PrivateKeyDer::Pkcs8(pkcs8) = key else {
            panic!("pkcs8")
        };
        let other = KeyPair::try_from(pkcs8.secret_pkcs8_der()).unwrap();
        std::fs::write(dir.join("other.key"), other.serialize_pem()).unwrap();
        let e = load_pem(&dir.join("cert.pem"), &dir.join("other.key")).unwrap_err();
        assert!(e.0.contains("does not match"), "{e}");
        std::fs::write(dir.join("junk.pem"), "hello\n").unwrap();
        let e = load_pem(&dir.join("junk.pem"), &dir.join("good.key")).unwrap_err();
        assert!(e.0.contains("no certificate"), "{e}");
        let e = load_pem(&dir.join("cert.pem"), &dir.join("junk.pem")).unwrap_err();
        assert!(e.0.contains("no private key"), "{e}");
        let e = load_pem(&dir.join("missing.pem"), &dir.join("good.key")).unwrap_err();
        assert!(e.0.contains("cannot read the certificate"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
