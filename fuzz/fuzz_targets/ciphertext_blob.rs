//! `sealq::fuzz::ciphertext_blob`: see its documentation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sealq::fuzz::ciphertext_blob(data));
