//! `sealq::fuzz::kms_json`: see its documentation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sealq::fuzz::kms_json(data));
