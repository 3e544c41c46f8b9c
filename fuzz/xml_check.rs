//! The XML round trip of the `xml_escape` target, shared with the test that
//! replays its corpus (`tests/fuzz_corpus.rs`).

use quick_xml::events::Event;

/// `text` escaped as the query protocol writes it must read back, through
/// an XML parser (quick-xml), as `text`. Text XML 1.0 cannot carry at all
/// (control characters, U+FFFE, U+FFFF), escaped or not, is skipped: SQS
/// refuses it in message bodies and attribute values.
pub(crate) fn round_trip(text: &str) {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    if !text.chars().all(allowed) {
        return;
    }
    let xml = sealq::fuzz::xml_element(text);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut read = String::new();
    loop {
        match reader.read_event().expect("escaped XML parses") {
            Event::Text(t) => read.push_str(&t.unescape().expect("its entities resolve")),
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(read, text, "read back from {xml}");
}
