//! Replays the fuzz targets' corpora through the same entry points
//! (`sealq::fuzz`): the seeds recorded from the test suites and kept after
//! minimizing (`fuzz/corpus/TARGET/`), and every input a fuzzer ever
//! found to crash (`fuzz/regressions/TARGET/`), so a fixed defect stays
//! fixed without running a fuzzer.

use std::path::Path;

#[path = "../fuzz/xml_check.rs"]
mod xml_check;

/// Every file under `fuzz/{corpus,regressions}/TARGET`; how many there were.
fn replay(target: &str, run: impl Fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let data = std::fs::read(&path).expect("a corpus file");
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&data)));
            assert!(outcome.is_ok(), "{} fails (see the panic above)", path.display());
            n += 1;
        }
    }
    n
}

/// The corpus of `target` is there and every input of it passes.
fn corpus_passes(target: &str, run: impl Fn(&[u8])) {
    let n = replay(target, run);
    assert!(n > 0, "fuzz/corpus/{target} is empty");
}

#[test]
fn query_corpus() {
    corpus_passes("query", sealq::fuzz::query);
}

#[test]
fn sqs_json_corpus() {
    corpus_passes("sqs_json", sealq::fuzz::sqs_json);
}

#[test]
fn kms_json_corpus() {
    corpus_passes("kms_json", sealq::fuzz::kms_json);
}

#[test]
fn ciphertext_blob_corpus() {
    corpus_passes("ciphertext_blob", sealq::fuzz::ciphertext_blob);
}

#[test]
fn sigv4_corpus() {
    corpus_passes("sigv4", sealq::fuzz::sigv4);
}

#[test]
fn config_toml_corpus() {
    corpus_passes("config_toml", sealq::fuzz::config_toml);
}

#[test]
fn admin_corpus() {
    corpus_passes("admin", sealq::fuzz::admin);
}

#[test]
fn xml_escape_corpus() {
    corpus_passes("xml_escape", |data| {
        if let Ok(text) = std::str::from_utf8(data) {
            xml_check::round_trip(text);
        }
    });
}
