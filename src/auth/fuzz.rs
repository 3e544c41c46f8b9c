//! Mutation fuzzing of what reads a client's signature: the
//! `Authorization` header, presigned query strings, credential scopes,
//! dates, and [`super::Principals::authenticate`] over whole requests.
//!
//! Each case starts from valid inputs and mutates them (bytes flipped,
//! cut, repeated, separators and multi-byte characters inserted, parts
//! duplicated); every outcome must be an answer (`Ok` or an error), never
//! a panic. The seed is fixed so a failure replays; `SEALQ_FUZZ_ITERATIONS`
//! runs longer by hand (default 20,000 per target).

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use super::sigv4::{AuthorizationHeader, Credential, Presigned, RequestParts, parse_amz_date};
use super::{AuthMode, Expect, Principals, SecretAccessKey, SignedRequest};

const HEADER: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sqs/aws4_request, \
    SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
const PRESIGNED: &str = "Action=ListQueues&X-Amz-Algorithm=AWS4-HMAC-SHA256\
    &X-Amz-Credential=ASIAEXAMPLE%2F20150830%2Fus-east-1%2Fsqs%2Faws4_request\
    &X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host\
    &X-Amz-Security-Token=tok%2Fen%3D&X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

/// Pieces worth inserting: separators of the formats, escapes, bytes that
/// are not ASCII, long runs.
const PIECES: &[&str] = &[
    ",",
    ", ",
    "=",
    "/",
    ";",
    "&",
    "%",
    "%2F",
    "%ZZ",
    "%",
    " ",
    "\t",
    "Credential=",
    "SignedHeaders=",
    "Signature=",
    "X-Amz-Expires=",
    "X-Amz-Date=",
    "aws4_request",
    "AWS4-HMAC-SHA256",
    "é",
    "\u{1F600}",
    "\0",
    "\u{FFFD}",
    "99999999999999999999",
    "-1",
    "T",
    "Z",
    "",
];

fn iterations() -> usize {
    std::env::var("SEALQ_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// `seed` mutated one to four times.
fn mutate(rng: &mut StdRng, seed: &str) -> String {
    let mut s: Vec<char> = seed.chars().collect();
    for _ in 0..rng.random_range(1..=4) {
        let at = rng.random_range(0..=s.len());
        match rng.random_range(0..6) {
            0 => s.truncate(at),
            1 if !s.is_empty() => {
                let i = at.min(s.len() - 1);
                s[i] = char::from(rng.random_range(0x20u8..0x7f));
            }
            2 => {
                let piece = PIECES[rng.random_range(0..PIECES.len())];
                s.splice(at..at, piece.chars());
            }
            3 if !s.is_empty() => {
                // Repeat a slice (duplicate parameters, doubled parts).
                let from = rng.random_range(0..s.len());
                let to = rng.random_range(from..=s.len().min(from + 80));
                let copy: Vec<char> = s[from..to].to_vec();
                s.splice(at..at, copy);
            }
            4 if !s.is_empty() => {
                let from = rng.random_range(0..s.len());
                let to = rng.random_range(from..=s.len());
                s.drain(from..to);
            }
            _ => s.extend(std::iter::repeat_n('A', rng.random_range(0..300))),
        }
    }
    s.into_iter().collect()
}

#[test]
fn parsers_answer_every_mutated_input() {
    let mut rng = StdRng::seed_from_u64(0x5ea1_0001);
    for _ in 0..iterations() {
        let h = mutate(&mut rng, HEADER);
        let _ = AuthorizationHeader::parse(&h);
        let q = mutate(&mut rng, PRESIGNED);
        let _ = Presigned::parse(&q);
        let c = mutate(&mut rng, "AKIDEXAMPLE/20150830/us-east-1/sqs/aws4_request");
        let _ = Credential::parse(&c);
        let d = mutate(&mut rng, "20150830T123600Z");
        let _ = parse_amz_date(&d);
    }
}

#[test]
fn authenticate_answers_every_mutated_request() {
    let p = Principals::new("000000000000");
    p.register(
        "AKIDEXAMPLE",
        "arn:aws:iam::000000000000:user/example",
        Some(SecretAccessKey::new(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
        )),
    );
    let issued = p
        .issue_session(
            "arn:aws:sts::000000000000:assumed-role/r/s",
            "AROAX:s",
            0,
            2_000_000_000,
        )
        .expect("in memory");
    let session_header = HEADER.replace("AKIDEXAMPLE", &issued.access_key_id);
    let mut rng = StdRng::seed_from_u64(0x5ea1_0002);
    for i in 0..iterations() {
        let seed = if i % 2 == 0 { HEADER } else { &session_header };
        let header = mutate(&mut rng, seed);
        let date = mutate(&mut rng, "20150830T123600Z");
        let token = mutate(&mut rng, issued.session_token.expose());
        let query = if i % 3 == 0 {
            mutate(&mut rng, PRESIGNED)
        } else {
            String::new()
        };
        let mut headers: Vec<(&str, &[u8])> = vec![
            ("host", b"localhost"),
            ("x-amz-date", date.as_bytes()),
            ("x-amz-security-token", token.as_bytes()),
            ("x-amz-content-sha256", b"UNSIGNED-PAYLOAD"),
        ];
        if i % 3 != 0 {
            headers.push(("authorization", header.as_bytes()));
        }
        let req = SignedRequest {
            parts: RequestParts {
                method: "POST",
                path: if i % 5 == 0 { "/%2e%2E/a//b/%" } else { "/" },
                query: &query,
                headers: &headers,
            },
            body: b"Action=ListQueues",
        };
        for mode in [AuthMode::Open, AuthMode::Verify] {
            let expect = Expect {
                mode,
                now_secs: 1_440_938_160,
                service: "sqs",
            };
            let _ = p.authenticate(&req, expect);
        }
    }
}

#[test]
fn inputs_the_fuzzer_found_are_answered() {
    // A multi-byte character where the hour's digits are; year zero (its
    // day count would underflow).
    for d in ["20150830T\u{FFFD}120Z", "00000101T000000Z", "00000301T000000Z"] {
        assert!(parse_amz_date(d).is_err(), "{d}");
    }
}
