//! The query protocol's XML escaping (`sealq::fuzz::xml_element`), read back
//! by an XML parser: see `xml_check.rs`.
#![no_main]

#[path = "../xml_check.rs"]
mod xml_check;

libfuzzer_sys::fuzz_target!(|text: &str| xml_check::round_trip(text));
