//! A small XML writer for query-protocol responses, escaping text as real
//! SQS does: besides `&`, `<` and `>`, it writes `"` as `&quot;` and CR as
//! `&#xD;` (so clients get the carriage returns back).

/// Appends `text` to `out`, escaped for an XML text node.
pub(super) fn escape_into(out: &mut String, text: &str) {
    let mut last = 0;
    for (i, b) in text.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\r' => "&#xD;",
            _ => continue,
        };
        out.push_str(&text[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&text[last..]);
}

/// Appends `<name>text</name>`.
pub(super) fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_sqs() {
        let mut s = String::new();
        element(&mut s, "Body", "a&b<c>\"d\"\r\n'é");
        assert_eq!(s, "<Body>a&amp;b&lt;c&gt;&quot;d&quot;&#xD;\n'é</Body>");
    }
}
