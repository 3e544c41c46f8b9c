//! Query-protocol parameters (`Attribute.1.Name=...`) turned into the same
//! JSON tree the JSON protocol sends, so one decoder serves both.
//!
//! The renames follow the query-era service model's `locationName`s: a
//! flattened list or map is sent under its member's location name (for
//! example `SendMessageBatchRequestEntry.N.*` for `Entries`,
//! `MessageAttribute.N.Name/Value` for `MessageAttributes`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a
/// space, `%XX` a byte; a malformed `%` stays as it is (as browsers and
/// form_urlencoded do). Components without escapes (most message bodies are
/// long runs of plain characters) are borrowed, found with a SIMD search.
fn decode_component(s: &str) -> Result<Cow<'_, str>> {
    let b = s.as_bytes();
    if memchr::memchr2(b'%', b'+', b).is_none() {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(h), Some(l)) = (
                    b.get(i + 1).copied().and_then(hex_value),
                    b.get(i + 2).copied().and_then(hex_value),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| {
        Error::MalformedQueryString(format!("The parameter {s} is not valid percent-encoded UTF-8.").into())
    })
}

/// Splits and decodes a form body or URL query string.
///
/// # Errors
/// `MalformedQueryString` when a decoded component is not UTF-8.
pub(super) fn parse_form(s: &str) -> Result<Vec<(Cow<'_, str>, Cow<'_, str>)>> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((decode_component(k)?, decode_component(v)?))
        })
        .collect()
}

/// How a query key prefix maps to a JSON member.
enum Rule {
    /// A flattened list sent as `Prefix.N`.
    List(&'static str),
    /// A flattened map sent as `Prefix.N.<key>` / `Prefix.N.<value>`.
    Map(&'static str, &'static str, &'static str),
}

fn rule(prefix: &str) -> Option<Rule> {
    Some(match prefix {
        "Attribute" => Rule::Map("Attributes", "Name", "Value"),
        "MessageAttribute" => Rule::Map("MessageAttributes", "Name", "Value"),
        "MessageSystemAttribute" => Rule::Map("MessageSystemAttributes", "Name", "Value"),
        "Tag" => Rule::Map("tags", "Key", "Value"),
        "Tags" => Rule::Map("Tags", "Key", "Value"),
        "AttributeName" => Rule::List("AttributeNames"),
        "MessageAttributeName" => Rule::List("MessageAttributeNames"),
        "MessageSystemAttributeName" => Rule::List("MessageSystemAttributeNames"),
        "TagKey" => Rule::List("TagKeys"),
        "AWSAccountId" => Rule::List("AWSAccountIds"),
        "ActionName" => Rule::List("Actions"),
        "StringListValue" => Rule::List("StringListValues"),
        "BinaryListValue" => Rule::List("BinaryListValues"),
        "SendMessageBatchRequestEntry"
        | "DeleteMessageBatchRequestEntry"
        | "ChangeMessageVisibilityBatchRequestEntry" => Rule::List("Entries"),
        _ => return None,
    })
}

/// Whether `name` is the JSON member a flattened list becomes.
fn is_list_member(name: &str) -> bool {
    matches!(
        name,
        "AttributeNames"
            | "MessageAttributeNames"
            | "MessageSystemAttributeNames"
            | "TagKeys"
            | "AWSAccountIds"
            | "Actions"
            | "StringListValues"
            | "BinaryListValues"
            | "Entries"
    )
}

/// A parsed key tree.
#[derive(Debug)]
enum Tree {
    Leaf(String),
    Node(BTreeMap<String, Self>),
}

/// Most dot-separated parts a meaningful key has
/// (`SendMessageBatchRequestEntry.N.MessageAttribute.N.Value.StringListValue.N`
/// has 7). Deeper keys name nothing SQS knows; they are ignored, as AWS
/// ignores unknown parameters, and never build a deep tree (whose recursive
/// walk and drop could overflow the stack).
const MAX_KEY_PARTS: usize = 10;

fn insert(root: &mut BTreeMap<String, Tree>, key: &str, value: String) {
    if key.split('.').nth(MAX_KEY_PARTS).is_some() {
        return;
    }
    let mut parts = key.split('.').peekable();
    let mut node = root;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.insert(part.to_owned(), Tree::Leaf(value));
            return;
        }
        let child = node
            .entry(part.to_owned())
            .or_insert_with(|| Tree::Node(BTreeMap::new()));
        if let Tree::Leaf(_) = child {
            *child = Tree::Node(BTreeMap::new());
        }
        let Tree::Node(next) = child else { return };
        node = next;
    }
}

/// Children of a list-like node, ordered by their numeric index.
fn indexed(children: BTreeMap<String, Tree>) -> Vec<Tree> {
    let mut v: Vec<(u64, Tree)> = children
        .into_iter()
        .filter_map(|(k, t)| k.parse::<u64>().ok().map(|i| (i, t)))
        .collect();
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, t)| t).collect()
}

fn to_value(t: Tree) -> Value {
    match t {
        Tree::Leaf(s) => Value::String(s),
        Tree::Node(children) => {
            if !children.is_empty() && children.keys().all(|k| k.parse::<u64>().is_ok()) {
                Value::Array(indexed(children).into_iter().map(to_value).collect())
            } else {
                Value::Object(convert(children))
            }
        }
    }
}

fn convert(node: BTreeMap<String, Tree>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, child) in node {
        match (rule(&k), child) {
            (Some(Rule::List(name)), Tree::Node(items)) => {
                out.insert(
                    name.to_owned(),
                    Value::Array(indexed(items).into_iter().map(to_value).collect()),
                );
            }
            // A bare `Prefix=` is how the query protocol sends an empty
            // list (botocore does so for `[]`).
            (Some(Rule::List(name)), Tree::Leaf(s)) => {
                let items = if s.is_empty() {
                    vec![]
                } else {
                    vec![Value::String(s)]
                };
                out.insert(name.to_owned(), Value::Array(items));
            }
            (Some(Rule::Map(name, key, value)), Tree::Node(items)) => {
                let mut m = Map::new();
                for item in indexed(items) {
                    let Tree::Node(mut fields) = item else { continue };
                    let Some(Tree::Leaf(k)) = fields.remove(key) else {
                        continue;
                    };
                    let v = fields.remove(value).map_or(Value::Null, to_value);
                    m.insert(k, v);
                }
                out.insert(name.to_owned(), Value::Object(m));
            }
            (Some(Rule::Map(..)), Tree::Leaf(_)) => {}
            // So is a bare `Member=` under the list's JSON-era name.
            (None, Tree::Leaf(s)) if s.is_empty() && is_list_member(&k) => {
                out.insert(k, Value::Array(vec![]));
            }
            (None, t) => {
                out.insert(k, to_value(t));
            }
        }
    }
    out
}

/// Turns query parameters into a JSON object shaped like the JSON protocol's
/// request body. `Action` and `Version` are left in; callers take them out.
pub(super) fn params_to_json<'a>(
    pairs: impl IntoIterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
) -> Map<String, Value> {
    let mut root = BTreeMap::new();
    for (k, v) in pairs {
        insert(&mut root, &k, v.into_owned());
    }
    convert(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(q: &str) -> Value {
        Value::Object(params_to_json(parse_form(q).unwrap()))
    }

    #[test]
    fn form_components_decode_plus_and_percent_and_refuse_bad_utf8() {
        let pairs = parse_form("a=x+y%21%e2%9c%93&b&c=%zz&&d=100%").unwrap();
        let got: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        assert_eq!(
            got,
            [("a", "x y!\u{2713}"), ("b", ""), ("c", "%zz"), ("d", "100%")]
        );
        assert!(matches!(
            parse_form("a=%FF%FE"),
            Err(Error::MalformedQueryString(_))
        ));
        assert!(matches!(parse_form("plain=body"), Ok(v) if matches!(v[0].1, Cow::Borrowed(_))));
    }

    #[test]
    fn flattened_maps_and_lists_become_json_members() {
        let v = parse(
            "Action=SendMessageBatch&QueueUrl=u\
             &SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two\
             &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=k\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v",
        );
        assert_eq!(
            v,
            json!({
                "Action": "SendMessageBatch", "QueueUrl": "u",
                "Entries": [
                    {"Id": "a", "MessageBody": "one", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
                    {"Id": "b", "MessageBody": "two"}
                ]
            })
        );
    }

    #[test]
    fn absurdly_deep_keys_are_ignored() {
        let deep = format!("Action=ListQueues&{}=1", vec!["x"; 100_000].join("."));
        assert_eq!(parse(&deep), json!({"Action": "ListQueues"}));
    }

    #[test]
    fn list_indices_sort_numerically() {
        let q: String = (1..=11).map(|i| format!("AttributeName.{i}=n{i}&")).collect();
        let v = parse(&q);
        assert_eq!(v["AttributeNames"][1], "n2");
        assert_eq!(v["AttributeNames"][10], "n11");
    }

    #[test]
    fn a_bare_list_name_is_the_empty_list() {
        for q in [
            "MessageAttributeNames=&AttributeNames=&TagKeys=&Actions=&AWSAccountIds=&MessageSystemAttributeNames=",
            "MessageAttributeName=&AttributeName=&TagKey=&ActionName=&AWSAccountId=&MessageSystemAttributeName=",
        ] {
            let v = parse(q);
            for name in [
                "MessageAttributeNames",
                "AttributeNames",
                "TagKeys",
                "Actions",
                "AWSAccountIds",
                "MessageSystemAttributeNames",
            ] {
                assert_eq!(v[name], json!([]), "{q}: {name}");
            }
        }
        assert_eq!(parse("QueueUrl=")["QueueUrl"], "");
    }

    #[test]
    fn queue_attributes_and_tags_map_by_name() {
        let v = parse(
            "Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=5&Tag.1.Key=team&Tag.1.Value=x&Tags.1.Key=a&Tags.1.Value=b",
        );
        assert_eq!(v["Attributes"], json!({"VisibilityTimeout": "5"}));
        assert_eq!(v["tags"], json!({"team": "x"}));
        assert_eq!(v["Tags"], json!({"a": "b"}));
    }
}
