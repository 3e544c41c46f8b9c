//! SigV4 as a verifier sees it, as pure functions: the parts of an
//! `Authorization` header or of a presigned URL's query, the canonical
//! request, the string to sign, the derived signing key (cached per access
//! key, date, region and service) and the constant-time check of a
//! signature. No I/O and no clock: callers pass the time and the request's
//! parts. Never logs, and never keeps a signature or a secret beyond the
//! cache of derived keys (each valid for one date only).
//!
//! The canonical form follows AWS's Signature Version 4 specification:
//! `METHOD\nURI\nQUERY\nHEADERS\n\nSIGNED_HEADERS\nPAYLOAD_HASH`, with the
//! query's pairs percent-encoded (RFC 3986 unreserved characters kept, space
//! as `%20`) and sorted, header names lower-cased and sorted, values trimmed
//! with inner runs of spaces folded to one, and repeated headers joined by
//! commas.

use aws_lc_rs::{digest, hmac};
use dashmap::DashMap;

/// The only algorithm SigV4 names.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Why a signature's parts could not be read. Each maps to an AWS error
/// when requests are verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The algorithm is not `AWS4-HMAC-SHA256`.
    Algorithm(String),
    /// A required part (`Credential`, `SignedHeaders`, `Signature`) is missing.
    Missing(&'static str),
    /// A part appears twice.
    Duplicate(&'static str),
    /// The credential is not `AKID/YYYYMMDD/REGION/SERVICE/aws4_request`.
    Credential(String),
    /// The signature is not 64 hexadecimal digits.
    Signature,
    /// `SignedHeaders` is empty, not lower-case and sorted, or lacks `host`.
    SignedHeaders(String),
    /// `X-Amz-Date` is not `YYYYMMDDTHHMMSSZ`.
    Date(String),
    /// `X-Amz-Expires` is not a number of seconds from 1 to 604800.
    Expires(String),
}

/// The credential scope: `AKID/DATE/REGION/SERVICE/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id.
    pub access_key_id: String,
    /// `YYYYMMDD`.
    pub date: String,
    /// The region the client signed for.
    pub region: String,
    /// The service the client signed for (`sqs`, `kms`, `sts`).
    pub service: String,
}

impl Credential {
    /// Parses `AKID/YYYYMMDD/REGION/SERVICE/aws4_request`.
    ///
    /// # Errors
    /// [`ParseError::Credential`] when a part is missing or malformed.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::Credential(text.to_owned());
        let mut parts = text.split('/');
        let (Some(key), Some(date), Some(region), Some(service), Some(terminator), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
        if key.is_empty()
            || !date_ok
            || region.is_empty()
            || service.is_empty()
            || terminator != "aws4_request"
        {
            return Err(bad());
        }
        Ok(Self {
            access_key_id: key.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        })
    }

    /// `DATE/REGION/SERVICE/aws4_request`, as in the string to sign.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// Who signed, and for which date, region and service.
    pub credential: Credential,
    /// The lower-case header names that were signed, in order.
    pub signed_headers: Vec<String>,
    /// The signature's 32 bytes.
    pub signature: [u8; 32],
}

impl AuthorizationHeader {
    /// Parses the header's value: the algorithm, then `Credential=`,
    /// `SignedHeaders=` and `Signature=`, separated by commas (spaces
    /// around them allowed).
    ///
    /// # Errors
    /// A [`ParseError`] naming what is wrong.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let value = value.trim();
        let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
        if algorithm != ALGORITHM {
            return Err(ParseError::Algorithm(algorithm.to_owned()));
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, v) = part.split_once('=').unwrap_or((part, ""));
            let (slot, label) = match name {
                "Credential" => (&mut credential, "Credential"),
                "SignedHeaders" => (&mut signed, "SignedHeaders"),
                "Signature" => (&mut signature, "Signature"),
                _ => continue,
            };
            if slot.replace(v).is_some() {
                return Err(ParseError::Duplicate(label));
            }
        }
        let credential = Credential::parse(credential.ok_or(ParseError::Missing("Credential"))?)?;
        let signed_headers = signed_headers(signed.ok_or(ParseError::Missing("SignedHeaders"))?)?;
        let signature = signature_bytes(signature.ok_or(ParseError::Missing("Signature"))?)?;
        Ok(Self {
            credential,
            signed_headers,
            signature,
        })
    }
}

/// `a;b;c`, lower-case, sorted, without repeats, naming `host`.
fn signed_headers(text: &str) -> Result<Vec<String>, ParseError> {
    let names: Vec<String> = text.split(';').map(str::to_owned).collect();
    let sorted = names.windows(2).all(|w| w[0] < w[1]);
    let lower = names
        .iter()
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase()));
    if !sorted || !lower || !names.iter().any(|n| n == "host") {
        return Err(ParseError::SignedHeaders(text.to_owned()));
    }
    Ok(names)
}

/// 64 hexadecimal digits to 32 bytes.
fn signature_bytes(hex: &str) -> Result<[u8; 32], ParseError> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return Err(ParseError::Signature);
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])
            .zip(digit(pair[1]))
            .map(|(h, l)| h << 4 | l)
            .ok_or(ParseError::Signature)?;
    }
    Ok(out)
}

/// Seconds since the Unix epoch of an `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`).
///
/// # Errors
/// [`ParseError::Date`] when it is not such a date.
pub fn parse_amz_date(text: &str) -> Result<u64, ParseError> {
    let bad = || ParseError::Date(text.to_owned());
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return Err(bad());
    }
    // Bytes, not characters: a multi-byte character is not a digit (and
    // must not split a slice of the text).
    let num = |r: std::ops::Range<usize>| -> Result<u64, ParseError> {
        let digits = &b[r];
        if digits.iter().all(u8::is_ascii_digit) {
            Ok(digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
        } else {
            Err(bad())
        }
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if year == 0
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    Ok(crate::clock::days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        _ => 31,
    }
}

/// `YYYYMMDDTHHMMSSZ` of seconds since the Unix epoch.
pub fn format_amz_date(secs: u64) -> String {
    let (year, month, day, hour, minute, second) = crate::clock::civil_from_secs(secs);
    format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z")
}

/// Whether a request signed at `signed_at` may be served at `now` (both
/// seconds since the epoch, `now` from the server's clock), given the
/// service's window of `window_minutes` either way (15 for SQS). The error
/// is AWS's message, e.g. `Signature expired: 20150619T100249Z is now
/// earlier than 20150619T100713Z (20150619T102213Z - 15 min.)`.
///
/// # Errors
/// The message of a `SignatureDoesNotMatch` (SQS) or
/// `InvalidSignatureException` (JSON services).
pub fn check_request_time(signed_at: u64, now: u64, window_minutes: u64) -> Result<(), String> {
    let window = window_minutes * 60;
    if signed_at + window < now {
        return Err(format!(
            "Signature expired: {} is now earlier than {} ({} - {window_minutes} min.)",
            format_amz_date(signed_at),
            format_amz_date(now - window),
            format_amz_date(now)
        ));
    }
    if signed_at > now + window {
        return Err(format!(
            "Signature not yet current: {} is still later than {} ({} + {window_minutes} min.)",
            format_amz_date(signed_at),
            format_amz_date(now + window),
            format_amz_date(now)
        ));
    }
    Ok(())
}

/// The longest a presigned URL may live: 7 days, in seconds.
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

/// The SigV4 parameters of a presigned URL's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// Who signed, and for which date, region and service.
    pub credential: Credential,
    /// `X-Amz-Date`.
    pub amz_date: String,
    /// `X-Amz-Expires`, seconds (1 to 7 days).
    pub expires: u64,
    /// The lower-case header names that were signed.
    pub signed_headers: Vec<String>,
    /// The signature's 32 bytes.
    pub signature: [u8; 32],
    /// `X-Amz-Security-Token`, for temporary credentials.
    pub security_token: Option<String>,
}

impl Presigned {
    /// Reads the `X-Amz-*` parameters of a query string; None when it
    /// carries no `X-Amz-Algorithm`, `X-Amz-Credential` or
    /// `X-Amz-Signature` (not presigned).
    ///
    /// # Errors
    /// A [`ParseError`] for a missing, repeated or malformed parameter.
    pub fn parse(query: &str) -> Result<Option<Self>, ParseError> {
        const NAMES: [&str; 7] = [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
            "X-Amz-Security-Token",
        ];
        let mut found: [Option<String>; 7] = Default::default();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(k);
            if let Some(i) = NAMES.iter().position(|n| n.as_bytes() == key.as_slice()) {
                let value = String::from_utf8_lossy(&percent_decode(v)).into_owned();
                if found[i].replace(value).is_some() {
                    return Err(ParseError::Duplicate(NAMES[i]));
                }
            }
        }
        let [algorithm, credential, date, expires, signed, signature, token] = found;
        if algorithm.is_none() && credential.is_none() && signature.is_none() {
            return Ok(None);
        }
        let algorithm = algorithm.ok_or(ParseError::Missing("X-Amz-Algorithm"))?;
        if algorithm != ALGORITHM {
            return Err(ParseError::Algorithm(algorithm));
        }
        let credential = Credential::parse(&credential.ok_or(ParseError::Missing("X-Amz-Credential"))?)?;
        let amz_date = date.ok_or(ParseError::Missing("X-Amz-Date"))?;
        parse_amz_date(&amz_date)?;
        let expires = expires.ok_or(ParseError::Missing("X-Amz-Expires"))?;
        let expires = match expires.parse::<u64>() {
            Ok(e) if (1..=MAX_PRESIGNED_EXPIRES).contains(&e) => e,
            _ => return Err(ParseError::Expires(expires)),
        };
        let signed_headers = signed_headers(&signed.ok_or(ParseError::Missing("X-Amz-SignedHeaders"))?)?;
        let signature = signature_bytes(&signature.ok_or(ParseError::Missing("X-Amz-Signature"))?)?;
        Ok(Some(Self {
            credential,
            amz_date,
            expires,
            signed_headers,
            signature,
            security_token: token,
        }))
    }
}

/// Percent-encodes as SigV4 does: RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`) stay, every other byte is `%XY`, upper-case hex.
pub fn uri_encode(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

/// Decodes `%XY` escapes; a `%` not followed by two hex digits stays as it
/// is (clients do not send it; it must not fail the request here).
fn percent_decode(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            #[expect(clippy::cast_possible_truncation, reason = "two hex digits fit a byte")]
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The canonical URI of a request path as it arrived (percent-encoded).
/// Empty is `/`. With `double` (every AWS service but S3, and what the
/// AWS SDKs do for SQS, KMS and STS) each segment is encoded again, so a
/// `%` becomes `%25`; without it the path is decoded and encoded once.
pub fn canonical_uri(path: &str, double: bool) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(path.len() + 8);
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if double {
            uri_encode(segment.as_bytes(), &mut out);
        } else {
            uri_encode(&percent_decode(segment), &mut out);
        }
    }
    out
}

/// The canonical query string of a raw query (`a=1&b=2`): each name and
/// value decoded and encoded again, the pairs sorted by name then value,
/// `skip` (e.g. `X-Amz-Signature` of a presigned URL) left out.
pub fn canonical_query(raw: &str, skip: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let key = percent_decode(k);
            if skip.is_some_and(|s| s.as_bytes() == key.as_slice()) {
                return None;
            }
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&key, &mut ek);
            uri_encode(&percent_decode(v), &mut ev);
            Some((ek, ev))
        })
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// A header value as SigV4 canonicalizes it: trimmed, each inner run of
/// spaces folded to one. None when it is not visible ASCII, space or tab.
fn canonical_value(value: &[u8], out: &mut String) -> Option<()> {
    let mut pending_space = false;
    let mut any = false;
    for &b in value {
        match b {
            b' ' | b'\t' => pending_space = any,
            0x21..=0x7e => {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(char::from(b));
                any = true;
            }
            _ => return None,
        }
    }
    Some(())
}

/// What a request brings to its canonical form.
#[derive(Debug)]
pub struct RequestParts<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path as it arrived (percent-encoded), without the query.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// Every header, by name (any case) and raw value, repeats included.
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// The canonical request, or the name of a signed header the request does
/// not carry (or carries with a value that cannot be signed).
/// `payload_hash` is the payload's hash as the client signed it: the hex
/// SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
///
/// # Errors
/// The missing or unusable signed header's name.
pub fn canonical_request(
    parts: &RequestParts<'_>,
    payload_hash: &str,
    signed_headers: &[String],
    double_encode: bool,
    skip_query: Option<&str>,
) -> Result<String, String> {
    let mut out = String::with_capacity(512);
    out.push_str(parts.method);
    out.push('\n');
    out.push_str(&canonical_uri(parts.path, double_encode));
    out.push('\n');
    out.push_str(&canonical_query(parts.query, skip_query));
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for (_, value) in parts.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if !first {
                out.push(',');
            }
            first = false;
            canonical_value(value, &mut out).ok_or_else(|| name.clone())?;
        }
        if first {
            return Err(name.clone());
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}

/// Lower-case hex of SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// Lower-case hex of SHA-256, on the stack (the verifier's hot path
/// allocates no string for its hashes).
#[derive(Clone, Copy)]
pub struct Sha256Hex([u8; 64]);

impl Sha256Hex {
    /// The hex digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let d = digest::digest(&digest::SHA256, data);
        let mut out = [0u8; 64];
        for (i, b) in d.as_ref().iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 0xF)];
        }
        Self(out)
    }

    /// The digest as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xF)]));
    }
    s
}

/// `AWS4-HMAC-SHA256\nAMZ_DATE\nSCOPE\nHEX(SHA256(canonical request))`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The signing key: HMAC chain over date, region, service and
/// `aws4_request`, keyed first by `AWS4` + the secret.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let step = |key: &[u8], data: &str| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes());
    let k_date = step(format!("AWS4{secret}").as_bytes(), date);
    let k_region = step(k_date.as_ref(), region);
    let k_service = step(k_region.as_ref(), service);
    let k_signing = step(k_service.as_ref(), "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

/// The signature (hex) of a string to sign.
pub fn sign(key: &hmac::Key, string_to_sign: &str) -> String {
    hex(hmac::sign(key, string_to_sign.as_bytes()).as_ref())
}

/// Whether `signature` is the signature of `string_to_sign` under `key`,
/// compared in constant time.
pub fn verify(key: &hmac::Key, string_to_sign: &str, signature: &[u8; 32]) -> bool {
    hmac::verify(key, string_to_sign.as_bytes(), signature).is_ok()
}

/// [`verify`] of the string to sign of a request signed at `amz_date`
/// for `credential`'s scope, whose canonical request hashes to
/// `canonical_hash`: the string to sign is fed to the HMAC in pieces,
/// never built.
pub fn verify_request(
    key: &hmac::Key,
    amz_date: &str,
    credential: &Credential,
    canonical_hash: &Sha256Hex,
    signature: &[u8; 32],
) -> bool {
    let mut ctx = hmac::Context::with_key(key);
    for piece in [
        ALGORITHM,
        "\n",
        amz_date,
        "\n",
        &credential.date,
        "/",
        &credential.region,
        "/",
        &credential.service,
        "/aws4_request\n",
        canonical_hash.as_str(),
    ] {
        ctx.update(piece.as_bytes());
    }
    aws_lc_rs::constant_time::verify_slices_are_equal(ctx.sign().as_ref(), signature).is_ok()
}

/// Derived signing keys, per (access key id, date, region, service), so a
/// request costs two HMACs (and the SHA-256 of its canonical request)
/// instead of six. A lookup allocates nothing. Each access key keeps its
/// few latest derivations (one per region and service it signs for); keys
/// of other dates are dropped when the cache grows past its bound.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: DashMap<String, Vec<Derived>>,
}

/// One derived signing key and the scope it is for.
#[derive(Debug)]
struct Derived {
    date: String,
    region: String,
    service: String,
    key: hmac::Key,
}

/// How many access keys the cache holds before it forgets old dates.
const KEY_CACHE_BOUND: usize = 10_000;
/// Derivations kept per access key (region × service pairs in use).
const PER_KEY: usize = 8;

impl KeyCache {
    /// `f` applied to the signing key of `credential`, if derived before
    /// (the key is lent, not copied).
    pub fn get<R>(&self, credential: &Credential, f: impl FnOnce(&hmac::Key) -> R) -> Option<R> {
        let entries = self.keys.get(credential.access_key_id.as_str())?;
        entries
            .iter()
            .find(|d| {
                d.date == credential.date && d.region == credential.region && d.service == credential.service
            })
            .map(|d| f(&d.key))
    }

    /// The signing key of `credential` with `secret`, derived once.
    pub fn key(&self, credential: &Credential, secret: &str) -> hmac::Key {
        if let Some(k) = self.get(credential, hmac::Key::clone) {
            return k;
        }
        let key = signing_key(secret, &credential.date, &credential.region, &credential.service);
        if self.keys.len() >= KEY_CACHE_BOUND {
            self.keys.retain(|_, entries| {
                entries.retain(|d| d.date == credential.date);
                !entries.is_empty()
            });
        }
        let mut entries = self.keys.entry(credential.access_key_id.clone()).or_default();
        if entries.len() >= PER_KEY {
            entries.remove(0);
        }
        entries.push(Derived {
            date: credential.date.clone(),
            region: credential.region.clone(),
            service: credential.service.clone(),
            key: key.clone(),
        });
        key
    }

    /// Forgets every key derived for `access_key_id` (its secret changed).
    pub fn forget(&self, access_key_id: &str) {
        self.keys.remove(access_key_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The credentials, date and scope of AWS's SigV4 test suite.
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20150830T123600Z";
    const SCOPE: &str = "20150830/us-east-1/service/aws4_request";
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn suite_signature(
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &[u8])],
        payload_hash: &str,
    ) -> (String, String) {
        let signed: Vec<String> = {
            let mut names: Vec<String> = headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
            names.sort();
            names.dedup();
            names
        };
        let parts = RequestParts {
            method,
            path,
            query,
            headers,
        };
        let canonical = canonical_request(&parts, payload_hash, &signed, false, None).expect("canonical");
        let key = signing_key(SECRET, "20150830", "us-east-1", "service");
        let sts = string_to_sign(DATE, SCOPE, &canonical);
        let signature = sign(&key, &sts);
        // The streaming verifier agrees with the string to sign, and only
        // with the right signature.
        let credential = Credential::parse(&format!("AKIDEXAMPLE/{SCOPE}")).expect("scope");
        let hash = Sha256Hex::of(canonical.as_bytes());
        let mut bytes = signature_bytes(&signature).expect("hex");
        assert!(verify_request(&key, DATE, &credential, &hash, &bytes));
        assert!(verify(&key, &sts, &bytes));
        bytes[31] ^= 1;
        assert!(!verify_request(&key, DATE, &credential, &hash, &bytes));
        (canonical, signature)
    }

    const HOST: (&str, &[u8]) = ("Host", b"example.amazonaws.com");
    const X_AMZ_DATE: (&str, &[u8]) = ("X-Amz-Date", DATE.as_bytes());

    #[test]
    fn get_vanilla() {
        let (canonical, sig) = suite_signature("GET", "/", "", &[HOST, X_AMZ_DATE], EMPTY);
        assert_eq!(
            canonical,
            format!("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:{DATE}\n\nhost;x-amz-date\n{EMPTY}")
        );
        assert_eq!(
            sig,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let (_, sig) = suite_signature(
            "GET",
            "/",
            "Param2=value2&Param1=value1",
            &[HOST, X_AMZ_DATE],
            EMPTY,
        );
        assert_eq!(
            sig,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn get_utf8() {
        let (canonical, sig) = suite_signature("GET", "/%E1%88%B4", "", &[HOST, X_AMZ_DATE], EMPTY);
        assert!(canonical.starts_with("GET\n/%E1%88%B4\n"), "{canonical}");
        assert_eq!(
            sig,
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
        );
    }

    #[test]
    fn post_vanilla() {
        let (_, sig) = suite_signature("POST", "/", "", &[HOST, X_AMZ_DATE], EMPTY);
        assert_eq!(
            sig,
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        let body_hash = sha256_hex(b"Param1=value1");
        assert_eq!(
            body_hash,
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
        let headers = [
            ("Content-Type", &b"application/x-www-form-urlencoded"[..]),
            HOST,
            X_AMZ_DATE,
        ];
        let (canonical, sig) = suite_signature("POST", "/", "", &headers, &body_hash);
        let sts = string_to_sign(DATE, SCOPE, &canonical);
        assert!(
            sts.ends_with("\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
            "{sts}"
        );
        assert_eq!(
            sig,
            "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
    }

    #[test]
    fn repeated_headers_join_and_values_fold() {
        let headers = [
            HOST,
            ("My-Header1", &b"  value2 "[..]),
            ("my-header1", b"a   b\t c"),
            X_AMZ_DATE,
        ];
        let (canonical, _) = suite_signature("GET", "/", "", &headers, EMPTY);
        assert!(canonical.contains("\nmy-header1:value2,a b c\n"), "{canonical}");
    }

    #[test]
    fn verify_is_the_signature_and_nothing_else() {
        let (_, sig) = suite_signature("GET", "/", "", &[HOST, X_AMZ_DATE], EMPTY);
        let header = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{SCOPE}, SignedHeaders=host;x-amz-date, Signature={sig}"
        );
        let parsed = AuthorizationHeader::parse(&header).expect("parses");
        let cache = KeyCache::default();
        let key = cache.key(&parsed.credential, SECRET);
        let parts = RequestParts {
            method: "GET",
            path: "/",
            query: "",
            headers: &[HOST, X_AMZ_DATE],
        };
        let canonical = canonical_request(&parts, EMPTY, &parsed.signed_headers, false, None).unwrap();
        let sts = string_to_sign(DATE, &parsed.credential.scope(), &canonical);
        assert!(verify(&key, &sts, &parsed.signature));
        let other = cache.key(&parsed.credential, "another secret");
        assert!(
            verify(&other, &sts, &parsed.signature),
            "the cache keeps the first derivation"
        );
        cache.forget("AKIDEXAMPLE");
        let other = cache.key(&parsed.credential, "another secret");
        assert!(!verify(&other, &sts, &parsed.signature));
        let mut flipped = parsed.signature;
        flipped[31] ^= 1;
        assert!(!verify(&key, &sts, &flipped));
    }

    #[test]
    fn authorization_headers_are_parsed_strictly() {
        let sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let ok = format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sqs/aws4_request,SignedHeaders=host;x-amz-date,Signature={sig}"
        );
        let h = AuthorizationHeader::parse(&ok).unwrap();
        assert_eq!(h.credential.access_key_id, "AKID");
        assert_eq!(h.credential.service, "sqs");
        assert_eq!(h.signed_headers, ["host", "x-amz-date"]);
        let cases = [
            (
                "AWS4-HMAC-SHA512 Credential=x",
                ParseError::Algorithm("AWS4-HMAC-SHA512".into()),
            ),
            (
                "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
                ParseError::Missing("Credential"),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sqs/aws4_request, Signature=00",
                ParseError::Missing("SignedHeaders"),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/2015083/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
                ParseError::Credential("AKID/2015083/us-east-1/sqs/aws4_request".into()),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=a, Credential=b, SignedHeaders=host, Signature=00",
                ParseError::Duplicate("Credential"),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sqs/aws4_request, SignedHeaders=x-amz-date;host, Signature=00",
                ParseError::SignedHeaders("x-amz-date;host".into()),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sqs/aws4_request, SignedHeaders=x-amz-date, Signature=00",
                ParseError::SignedHeaders("x-amz-date".into()),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=zz",
                ParseError::Signature,
            ),
        ];
        for (header, want) in cases {
            assert_eq!(AuthorizationHeader::parse(header), Err(want), "{header}");
        }
    }

    /// What the AWS SDKs send (the aws-sigv4 crate signs for aws-sdk-sqs):
    /// a JSON-protocol POST, and a query-protocol GET with a space and a
    /// slash in its values, verify here.
    #[test]
    fn the_sdk_signer_verifies() {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign as sdk_sign};
        let identity =
            aws_credential_types::Credentials::new("AKIDSDK", "sdk-secret", None, None, "t").into();
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name("sqs")
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let body = br#"{"QueueUrl":"http://localhost:9324/000000000000/orders","MessageBody":"hi"}"#;
        let cases: [(&str, &str, &[u8]); 2] = [
            ("POST", "http://localhost:9324/", &body[..]),
            (
                "GET",
                "http://localhost:9324/000000000000/orders?Action=SendMessage&MessageBody=a%20b%2Fc&Version=2012-11-05",
                b"",
            ),
        ];
        for (method, url, body) in cases {
            let base = [
                ("host", "localhost:9324"),
                ("x-amz-target", "AmazonSQS.SendMessage"),
            ];
            let signable =
                SignableRequest::new(method, url, base.iter().copied(), SignableBody::Bytes(body)).unwrap();
            let (instructions, _) = sdk_sign(signable, &params).unwrap().into_parts();
            let added: Vec<(String, String)> = instructions
                .headers()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect();
            let mut headers: Vec<(&str, &[u8])> = base.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
            headers.extend(added.iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
            let auth = added
                .iter()
                .find(|(n, _)| n == "authorization")
                .expect("authorization")
                .1
                .clone();
            let date = added
                .iter()
                .find(|(n, _)| n == "x-amz-date")
                .expect("x-amz-date")
                .1
                .clone();
            let parsed = AuthorizationHeader::parse(&auth).expect("parses");
            let (path, query) = url["http://localhost:9324".len()..]
                .split_once('?')
                .unwrap_or((&url[21..], ""));
            let hash = sha256_hex(body);
            let parts = RequestParts {
                method,
                path,
                query,
                headers: &headers,
            };
            let canonical = canonical_request(&parts, &hash, &parsed.signed_headers, true, None).unwrap();
            let sts = string_to_sign(&date, &parsed.credential.scope(), &canonical);
            let key = KeyCache::default().key(&parsed.credential, "sdk-secret");
            assert!(
                verify(&key, &sts, &parsed.signature),
                "{method} {url}: {canonical}"
            );
            let wrong = signing_key("wrong", &parsed.credential.date, "eu-west-1", "sqs");
            assert!(!verify(&wrong, &sts, &parsed.signature));
        }
    }

    #[test]
    fn request_time_window_messages() {
        // The recorded SQS answer: signed 10:02:49, received 10:22:13.
        let signed = parse_amz_date("20150619T100249Z").unwrap();
        let now = parse_amz_date("20150619T102213Z").unwrap();
        assert_eq!(
            check_request_time(signed, now, 15),
            Err("Signature expired: 20150619T100249Z is now earlier than 20150619T100713Z (20150619T102213Z - 15 min.)".into())
        );
        // A recorded 5-minute service answer, the other way.
        let signed = parse_amz_date("20130730T204752Z").unwrap();
        let now = parse_amz_date("20130730T203623Z").unwrap();
        assert_eq!(
            check_request_time(signed, now, 5),
            Err("Signature not yet current: 20130730T204752Z is still later than 20130730T204123Z (20130730T203623Z + 5 min.)".into())
        );
        assert_eq!(check_request_time(now, now + 900, 15), Ok(()));
        assert!(check_request_time(now, now + 901, 15).is_err());
        assert_eq!(check_request_time(now + 900, now, 15), Ok(()));
        for secs in [0, 951_782_400, 1_440_938_160, 1_709_164_800, 4_102_444_799] {
            assert_eq!(parse_amz_date(&format_amz_date(secs)), Ok(secs));
        }
    }

    #[test]
    fn presigned_parameters() {
        let sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let base = format!(
            "Action=ListQueues&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fsqs%2Faws4_request&X-Amz-Date={DATE}&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature={sig}"
        );
        let p = Presigned::parse(&base).unwrap().expect("presigned");
        assert_eq!(p.credential.access_key_id, "AKID");
        assert_eq!(p.expires, 300);
        assert_eq!(p.signed_headers, ["host"]);
        assert_eq!(p.security_token, None);
        let with_token = format!("{base}&X-Amz-Security-Token=abc%2B%2F");
        assert_eq!(
            Presigned::parse(&with_token)
                .unwrap()
                .unwrap()
                .security_token
                .as_deref(),
            Some("abc+/")
        );
        assert_eq!(Presigned::parse("Action=ListQueues&Version=2012-11-05"), Ok(None));
        assert_eq!(
            Presigned::parse(&base.replace("X-Amz-Expires=300", "X-Amz-Expires=604801")),
            Err(ParseError::Expires("604801".into()))
        );
        assert_eq!(
            Presigned::parse(&format!("{base}&X-Amz-Date={DATE}")),
            Err(ParseError::Duplicate("X-Amz-Date"))
        );
        assert_eq!(
            Presigned::parse(&base.replace("&X-Amz-SignedHeaders=host", "")),
            Err(ParseError::Missing("X-Amz-SignedHeaders"))
        );
        assert_eq!(
            Presigned::parse(&base.replace(DATE, "2015-08-30")),
            Err(ParseError::Date("2015-08-30".into()))
        );
        // The signature is not part of the canonical query it signs.
        assert!(!canonical_query(&base, Some("X-Amz-Signature")).contains("X-Amz-Signature"));
    }

    /// A presigned query-protocol GET made by the aws-sigv4 crate verifies.
    #[test]
    fn an_sdk_presigned_url_verifies() {
        use aws_sigv4::http_request::{
            SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign as sdk_sign,
        };
        let identity =
            aws_credential_types::Credentials::new("AKIDSDK", "sdk-secret", None, None, "t").into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(std::time::Duration::from_secs(300));
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("sqs")
            .time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000))
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let url = "http://localhost:9324/000000000000/orders?Action=GetQueueAttributes&AttributeName.1=All&Version=2012-11-05";
        let host = [("host", "localhost:9324")];
        let signable =
            SignableRequest::new("GET", url, host.iter().copied(), SignableBody::Bytes(b"")).unwrap();
        let (instructions, _) = sdk_sign(signable, &params).unwrap().into_parts();
        let mut query = url.split_once('?').unwrap().1.to_owned();
        for (name, value) in instructions.params() {
            let mut v = String::new();
            uri_encode(value.as_bytes(), &mut v);
            query.push_str(&format!("&{name}={v}"));
        }
        let p = Presigned::parse(&query).unwrap().expect("presigned");
        assert_eq!(p.expires, 300);
        let headers: [(&str, &[u8]); 1] = [("host", b"localhost:9324")];
        let parts = RequestParts {
            method: "GET",
            path: "/000000000000/orders",
            query: &query,
            headers: &headers,
        };
        let canonical =
            canonical_request(&parts, EMPTY, &p.signed_headers, true, Some("X-Amz-Signature")).unwrap();
        let sts = string_to_sign(&p.amz_date, &p.credential.scope(), &canonical);
        let key = signing_key("sdk-secret", &p.credential.date, "us-east-1", "sqs");
        assert!(verify(&key, &sts, &p.signature), "{canonical}");
    }

    #[test]
    fn amz_dates() {
        assert_eq!(parse_amz_date(DATE), Ok(1_440_938_160));
        assert_eq!(parse_amz_date("19700101T000000Z"), Ok(0));
        assert_eq!(parse_amz_date("20240229T000000Z"), Ok(1_709_164_800));
        for bad in [
            "20230229T000000Z",
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "20151330T000000Z",
            "20150830T246000Z",
            "",
        ] {
            assert!(parse_amz_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn encoding() {
        let mut s = String::new();
        uri_encode("a b+c/~é".as_bytes(), &mut s);
        assert_eq!(s, "a%20b%2Bc%2F~%C3%A9");
        assert_eq!(
            canonical_uri("/000000000000/orders", true),
            "/000000000000/orders"
        );
        assert_eq!(canonical_uri("/a%20b", true), "/a%2520b");
        assert_eq!(canonical_uri("/a%20b", false), "/a%20b");
        assert_eq!(canonical_uri("", true), "/");
        assert_eq!(
            canonical_query("b=2&a=%7e&X-Amz-Signature=ff&a=1&c", Some("X-Amz-Signature")),
            "a=1&a=~&b=2&c="
        );
        assert_eq!(canonical_query("k=100%", None), "k=100%25");
    }
}
