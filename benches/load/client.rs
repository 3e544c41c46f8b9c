//! The lean load-generating client: SigV4 signer, prebuilt requests, hand-written HTTP/1.1 connections.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Json,
    Query,
}

impl Proto {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Query => "query",
        }
    }
}

/// What every worker shares: where to send, how to sign, prebuilt bodies.
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) url: String,
    pub(crate) host: String,
    pub(crate) queue_url: String,
    pub(crate) identity: Identity,
    pub(crate) signer: Signer,
    /// SendMessage body, per protocol.
    pub(crate) send: [Bytes; 2],
    /// SendMessageBatch body, per protocol.
    pub(crate) batch: [Bytes; 2],
    /// ReceiveMessage body, per protocol.
    pub(crate) receive: [Bytes; 2],
    /// SigV4 payload hashes of the bodies above, which never change: a
    /// client sending the same bytes again need not hash them again (the
    /// signature itself is computed for every request).
    pub(crate) fixed_hashes: Vec<(usize, usize, String)>,
    /// When set, connections speak TLS (to `addr`, the server's HTTPS port).
    pub(crate) tls: Option<tokio_rustls::TlsConnector>,
}

pub(crate) fn idx(p: Proto) -> usize {
    match p {
        Proto::Json => 0,
        Proto::Query => 1,
    }
}

pub(crate) fn message_body() -> String {
    (0..BODY_SIZE)
        .map(|i| char::from(b'a' + u8::try_from(i % 26).expect("small")))
        .collect()
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> Bytes {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k, v);
    }
    Bytes::from(f.finish())
}

impl Target {
    pub(crate) fn new(addr: SocketAddr, queue_url: String) -> Self {
        let body = message_body();
        let send_json = json!({"QueueUrl": queue_url, "MessageBody": body}).to_string();
        let send_query = form(&[
            ("Action", "SendMessage"),
            ("Version", "2012-11-05"),
            ("QueueUrl", &queue_url),
            ("MessageBody", &body),
        ]);
        let entries: Vec<Value> = (0..10)
            .map(|i| json!({"Id": format!("m{i}"), "MessageBody": body}))
            .collect();
        let batch_json = json!({"QueueUrl": queue_url, "Entries": entries}).to_string();
        let mut pairs: Vec<(String, String)> = vec![
            ("Action".into(), "SendMessageBatch".into()),
            ("Version".into(), "2012-11-05".into()),
            ("QueueUrl".into(), queue_url.clone()),
        ];
        for i in 1..=10 {
            pairs.push((format!("SendMessageBatchRequestEntry.{i}.Id"), format!("m{i}")));
            pairs.push((
                format!("SendMessageBatchRequestEntry.{i}.MessageBody"),
                body.clone(),
            ));
        }
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let batch_query = form(&refs);
        let receive_json =
            json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0}).to_string();
        let receive_query = form(&[
            ("Action", "ReceiveMessage"),
            ("Version", "2012-11-05"),
            ("QueueUrl", &queue_url),
            ("MaxNumberOfMessages", "10"),
            ("WaitTimeSeconds", "0"),
        ]);
        let send = [Bytes::from(send_json), send_query];
        let batch = [Bytes::from(batch_json), batch_query];
        let receive = [Bytes::from(receive_json), receive_query];
        let fixed_hashes = send
            .iter()
            .chain(&batch)
            .chain(&receive)
            .map(|b| (b.as_ptr() as usize, b.len(), payload_hash(b)))
            .collect();
        Self {
            addr,
            url: format!("http://{addr}/"),
            host: addr.to_string(),
            queue_url,
            identity: Credentials::new("AKIDBENCH", "benchsecret", None, None, "bench").into(),
            signer: Signer::new("AKIDBENCH", "benchsecret"),
            send,
            batch,
            receive,
            fixed_hashes,
            tls: None,
        }
    }

    /// The same target reached over TLS at `addr`, trusting `ca_pem`.
    pub(crate) fn over_tls(mut self, addr: SocketAddr, ca_pem: &str) -> Self {
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("CA root");
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        self.addr = addr;
        self.host = addr.to_string();
        self.url = format!("https://{addr}/");
        self.tls = Some(tokio_rustls::TlsConnector::from(Arc::new(config)));
        self
    }

    /// The payload hash of `body`: looked up for the fixed bodies, computed
    /// for the others (DeleteMessageBatch, CreateQueue, ...).
    pub(crate) fn hash_of(&self, body: &Bytes) -> String {
        let key = (body.as_ptr() as usize, body.len());
        self.fixed_hashes
            .iter()
            .find(|(p, n, _)| (*p, *n) == key)
            .map_or_else(|| payload_hash(body), |(_, _, h)| h.clone())
    }

    pub(crate) fn delete_batch(&self, proto: Proto, handles: &[String]) -> Bytes {
        match proto {
            Proto::Json => {
                let entries: Vec<Value> = handles
                    .iter()
                    .enumerate()
                    .map(|(i, h)| json!({"Id": format!("d{i}"), "ReceiptHandle": h}))
                    .collect();
                Bytes::from(json!({"QueueUrl": self.queue_url, "Entries": entries}).to_string())
            }
            Proto::Query => {
                let mut f = form_urlencoded::Serializer::new(String::new());
                f.append_pair("Action", "DeleteMessageBatch");
                f.append_pair("Version", "2012-11-05");
                f.append_pair("QueueUrl", &self.queue_url);
                for (i, h) in handles.iter().enumerate() {
                    let n = i + 1;
                    f.append_pair(
                        &format!("DeleteMessageBatchRequestEntry.{n}.Id"),
                        &format!("d{n}"),
                    );
                    f.append_pair(&format!("DeleteMessageBatchRequestEntry.{n}.ReceiptHandle"), h);
                }
                Bytes::from(f.finish())
            }
        }
    }

    /// The headers every request of `proto` carries, before signing.
    pub(crate) fn headers<'a>(&'a self, proto: Proto, target: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut headers: Vec<(&str, &str)> = vec![("host", &self.host)];
        match proto {
            Proto::Json => {
                headers.push(("content-type", JSON_10));
                headers.push(("x-amz-target", target));
            }
            Proto::Query => headers.push(("content-type", FORM)),
        }
        headers
    }

    /// A signed request for `action` with `body`, signed by [`Signer`] (a
    /// lean SigV4 signer, checked against aws-sigv4 at start-up, so the load
    /// generator does not spend most of the shared CPU on signing).
    pub(crate) fn request(&self, proto: Proto, action: &str, body: Bytes) -> http::Request<Full<Bytes>> {
        let target = format!("AmazonSQS.{action}");
        let headers = self.headers(proto, &target);
        let hash = self.hash_of(&body);
        let (amz_date, authorization) = self.signer.sign(&headers, &hash, SystemTime::now());
        let mut b = http::Request::builder().method("POST").uri("/");
        for (k, v) in &headers {
            b = b.header(*k, *v);
        }
        b = b
            .header("x-amz-date", amz_date)
            .header("authorization", authorization);
        b.body(Full::new(body)).expect("request")
    }

    /// A signed KMS (JSON 1.1) request.
    pub(crate) fn kms_request(&self, action: &str, body: Bytes) -> http::Request<Full<Bytes>> {
        let target = format!("TrentService.{action}");
        let headers: Vec<(&str, &str)> = vec![
            ("host", &self.host),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &target),
        ];
        let (amz_date, authorization) = self
            .signer
            .sign(&headers, &payload_hash(&body), SystemTime::now());
        let mut b = http::Request::builder().method("POST").uri("/");
        for (k, v) in &headers {
            b = b.header(*k, *v);
        }
        b.header("x-amz-date", amz_date)
            .header("authorization", authorization)
            .body(Full::new(body))
            .expect("request")
    }

    /// The `Authorization` header aws-sigv4 computes for the same request.
    pub(crate) fn reference_authorization(
        &self,
        proto: Proto,
        action: &str,
        body: &[u8],
        time: SystemTime,
    ) -> String {
        let target = format!("AmazonSQS.{action}");
        let headers = self.headers(proto, &target);
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region("us-east-1")
            .name("sqs")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .expect("signing params")
            .into();
        let signable = SignableRequest::new(
            "POST",
            &self.url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        let mut req = http::Request::builder()
            .method("POST")
            .uri(&self.url)
            .body(())
            .expect("request");
        instructions.apply_to_request_http1x(&mut req);
        req.headers()["authorization"].to_str().expect("ascii").to_owned()
    }

    /// Panics unless [`Signer`] and aws-sigv4 agree on every request shape.
    pub(crate) fn check_signer(&self) {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600 + 3_723);
        for (proto, action) in [Proto::Json, Proto::Query]
            .into_iter()
            .flat_map(|p| [(p, "SendMessage"), (p, "SendMessageBatch")])
        {
            let body = if action == "SendMessage" {
                &self.send[idx(proto)]
            } else {
                &self.batch[idx(proto)]
            };
            let want = self.reference_authorization(proto, action, body, time);
            let target = format!("AmazonSQS.{action}");
            let (_, got) = self
                .signer
                .sign(&self.headers(proto, &target), &self.hash_of(body), time);
            assert_eq!(
                got,
                want,
                "the bench's SigV4 signer disagrees with aws-sigv4 ({})",
                proto.name()
            );
        }
    }
}

/// SigV4 for this benchmark's requests: POST to `/`, no query string, the
/// headers given, payload hash unsigned-header style (as aws-sigv4 does for
/// SQS). The signing key is derived once per day.
pub(crate) struct Signer {
    pub(crate) access_key: &'static str,
    pub(crate) secret: &'static str,
    pub(crate) keys: std::sync::Mutex<Option<(String, [u8; 32])>>,
}

pub(crate) type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Hex SHA-256 of a request body (SigV4's payload hash).
pub(crate) fn payload_hash(body: &[u8]) -> String {
    use sha2::Digest;
    hex32(&sha2::Sha256::digest(body))
}

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut m = HmacSha256::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

pub(crate) fn hex32(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `YYYYMMDDTHHMMSSZ` for a time.
pub(crate) fn amz_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let days = i64::try_from(secs / 86_400).expect("small");
    let rem = secs % 86_400;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Signer {
    pub(crate) fn new(access_key: &'static str, secret: &'static str) -> Self {
        Self {
            access_key,
            secret,
            keys: std::sync::Mutex::new(None),
        }
    }

    pub(crate) fn signing_key(&self, date: &str) -> [u8; 32] {
        let mut cache = self.keys.lock().expect("signer lock");
        if let Some((d, k)) = cache.as_ref()
            && d == date
        {
            return *k;
        }
        let k_date = hmac(format!("AWS4{}", self.secret).as_bytes(), date.as_bytes());
        let k = hmac(&hmac(&hmac(&k_date, b"us-east-1"), b"sqs"), b"aws4_request");
        *cache = Some((date.to_owned(), k));
        k
    }

    /// `(x-amz-date, authorization)` for a POST to `/` with these headers
    /// and a body whose SHA-256 (hex) is `payload_hash`.
    pub(crate) fn sign(
        &self,
        headers: &[(&str, &str)],
        payload_hash: &str,
        time: SystemTime,
    ) -> (String, String) {
        use sha2::Digest;
        let amz = amz_date(time);
        let date = &amz[..8];
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.push(("x-amz-date", &amz));
        all.sort_by(|a, b| a.0.cmp(b.0));
        let mut canonical = String::with_capacity(256);
        canonical.push_str("POST\n/\n\n");
        for (k, v) in &all {
            canonical.push_str(k);
            canonical.push(':');
            canonical.push_str(v.trim());
            canonical.push('\n');
        }
        let signed: Vec<&str> = all.iter().map(|(k, _)| *k).collect();
        let signed = signed.join(";");
        canonical.push('\n');
        canonical.push_str(&signed);
        canonical.push('\n');
        canonical.push_str(payload_hash);
        let scope = format!("{date}/us-east-1/sqs/aws4_request");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz}\n{scope}\n{}",
            hex32(&sha2::Sha256::digest(canonical.as_bytes()))
        );
        let signature = hex32(&hmac(&self.signing_key(date), to_sign.as_bytes()));
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            self.access_key
        );
        (amz, auth)
    }
}

/// One keep-alive HTTP/1.1 connection, spoken by hand: each request is
/// written as one buffer and the response is read by its Content-Length.
/// The generator shares the machine's two cores with the server, so it must
/// be lean: hyper's client cost about as much CPU per request as the server.
pub(crate) struct Conn {
    pub(crate) stream: Box<dyn Io>,
    pub(crate) buf: BytesMut,
    pub(crate) out: Vec<u8>,
}

/// A connection's byte stream: TCP, or TLS over TCP.
pub(crate) trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

impl Conn {
    /// A plain connection to `addr`.
    pub(crate) async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self::over(Box::new(stream))
    }

    /// A connection to `t`: over TLS when `t` says so (the handshake is
    /// done here, before any request is timed).
    pub(crate) async fn open_to(t: &Target) -> Self {
        let Some(connector) = &t.tls else {
            return Self::open(t.addr).await;
        };
        let stream = TcpStream::connect(t.addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let name = rustls::pki_types::ServerName::IpAddress(t.addr.ip().into());
        let tls = connector.connect(name, stream).await.expect("TLS handshake");
        Self::over(Box::new(tls))
    }

    pub(crate) fn over(stream: Box<dyn Io>) -> Self {
        Self {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            out: Vec::with_capacity(16 * 1024),
        }
    }

    /// Sends and returns (status, body).
    pub(crate) async fn call(&mut self, req: http::Request<Full<Bytes>>) -> (u16, Bytes) {
        self.write_request(req).await;
        self.read_response().await
    }

    /// Writes a request (one buffer).
    pub(crate) async fn write_request(&mut self, req: http::Request<Full<Bytes>>) {
        use tokio::io::AsyncWriteExt;
        let (parts, body) = req.into_parts();
        let body = body.collect().await.expect("full body").to_bytes();
        self.out.clear();
        self.out.extend_from_slice(b"POST / HTTP/1.1\r\n");
        for (k, v) in &parts.headers {
            self.out.extend_from_slice(k.as_str().as_bytes());
            self.out.extend_from_slice(b": ");
            self.out.extend_from_slice(v.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        let _ = write!(LenWriter(&mut self.out), "content-length: {}\r\n\r\n", body.len());
        self.out.extend_from_slice(&body);
        self.stream.write_all(&self.out).await.expect("write request");
    }

    /// Reads one response: (status, body).
    pub(crate) async fn read_response(&mut self) -> (u16, Bytes) {
        use tokio::io::AsyncReadExt;
        loop {
            if let Some(end) = memchr::memmem::find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).expect("ascii head");
                let status: u16 = head.get(9..12).and_then(|c| c.parse().ok()).expect("status line");
                let len = content_length(head).expect("content-length");
                while self.buf.len() < end + 4 + len {
                    assert!(
                        self.stream.read_buf(&mut self.buf).await.expect("read") > 0,
                        "connection closed"
                    );
                }
                let mut whole = self.buf.split_to(end + 4 + len);
                return (status, whole.split_off(end + 4).freeze());
            }
            assert!(
                self.stream.read_buf(&mut self.buf).await.expect("read") > 0,
                "connection closed"
            );
        }
    }
}

/// The `content-length` of an HTTP message head.
pub(crate) fn content_length(head: &str) -> Option<usize> {
    head.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// `fmt::Write` into a byte buffer.
pub(crate) struct LenWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for LenWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Receipt handles in a ReceiveMessage response.
pub(crate) fn receipt_handles(proto: Proto, body: &[u8]) -> Vec<String> {
    match proto {
        Proto::Json => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            v.get("Messages")
                .and_then(Value::as_array)
                .map(|ms| {
                    ms.iter()
                        .filter_map(|m| m.get("ReceiptHandle").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        }
        Proto::Query => {
            let text = std::str::from_utf8(body).unwrap_or("");
            let mut out = Vec::new();
            let mut rest = text;
            while let Some(i) = rest.find("<ReceiptHandle>") {
                rest = &rest[i + "<ReceiptHandle>".len()..];
                let Some(j) = rest.find("</ReceiptHandle>") else {
                    break;
                };
                out.push(xml_unescape(&rest[..j]));
                rest = &rest[j..];
            }
            out
        }
    }
}

pub(crate) fn xml_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#xD;", "\r")
        .replace("&#13;", "\r")
        .replace("&amp;", "&")
}

/// Entries a DeleteMessageBatch / SendMessageBatch response reports as failed.
pub(crate) fn batch_failures(proto: Proto, body: &[u8]) -> usize {
    match proto {
        Proto::Json => serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("Failed").and_then(Value::as_array).map(Vec::len))
            .unwrap_or(0),
        Proto::Query => std::str::from_utf8(body)
            .unwrap_or("")
            .matches("<BatchResultErrorEntry>")
            .count(),
    }
}

/// How the benchmark queue encrypts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enc {
    /// `SqsManagedSseEnabled=false`.
    Plain,
    /// SSE-SQS (service-owned key).
    SseSqs,
    /// SSE-KMS with a customer key made by CreateKey.
    SseKms,
}

impl Enc {
    /// Suffix of scenario names.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Plain => "",
            Self::SseSqs => " sse-sqs",
            Self::SseKms => " sse-kms",
        }
    }
}

pub(crate) async fn create_queue(addr: SocketAddr, name: &str, enc: Enc) -> String {
    let t = Target::new(addr, String::new());
    let mut c = Conn::open(addr).await;
    let attributes = match enc {
        Enc::Plain => json!({"SqsManagedSseEnabled": "false"}),
        Enc::SseSqs => json!({"SqsManagedSseEnabled": "true"}),
        Enc::SseKms => {
            let (status, resp) = c
                .call(t.kms_request("CreateKey", Bytes::from_static(b"{}")))
                .await;
            assert_eq!(status, 200, "CreateKey: {}", String::from_utf8_lossy(&resp));
            let v: Value = serde_json::from_slice(&resp).expect("CreateKey JSON");
            let key = v["KeyMetadata"]["KeyId"].as_str().expect("KeyId");
            json!({"KmsMasterKeyId": key})
        }
    };
    let body = Bytes::from(json!({"QueueName": name, "Attributes": attributes}).to_string());
    let (status, resp) = c.call(t.request(Proto::Json, "CreateQueue", body)).await;
    assert_eq!(status, 200, "CreateQueue: {}", String::from_utf8_lossy(&resp));
    let v: Value = serde_json::from_slice(&resp).expect("CreateQueue JSON");
    v["QueueUrl"].as_str().expect("QueueUrl").to_owned()
}
