//! `sealq::fuzz::sigv4`: see its documentation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sealq::fuzz::sigv4(data));
