//! Policy conditions: the request context they read, their operators, and
//! policy variables (`${aws:username}`).
//!
//! Operators: the String, Arn, Numeric and Date families, `Bool`,
//! `IpAddress`/`NotIpAddress` and `Null`, each with `...IfExists` (but
//! `Null`), and the set qualifiers `ForAnyValue:` / `ForAllValues:`. Keys
//! are case-insensitive; values are compared as each operator says
//! (`StringEquals` case-sensitive, `StringEqualsIgnoreCase` not, `Arn*`
//! per ARN component). Within one condition block every operator and every
//! key must hold (AND); the values listed for one key are alternatives
//! (OR). A key the request lacks makes a positive operator fail and a
//! negated one hold, as IAM documents; `...IfExists` holds then.

use std::borrow::Cow;
use std::net::IpAddr;

/// The condition keys of one request: lower-case names, each with one or
/// more values.
#[derive(Debug, Default, Clone)]
pub struct Context<'a> {
    entries: Vec<(Cow<'a, str>, Vec<Cow<'a, str>>)>,
}

impl<'a> Context<'a> {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` (any case) to one value.
    pub fn set(&mut self, key: &'a str, value: impl Into<Cow<'a, str>>) -> &mut Self {
        self.set_all(key, vec![value.into()])
    }

    /// Sets `key` (any case) to several values (a multivalued key).
    pub fn set_all(&mut self, key: &'a str, values: Vec<Cow<'a, str>>) -> &mut Self {
        let key: Cow<'a, str> = if key.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(key.to_ascii_lowercase())
        } else {
            Cow::Borrowed(key)
        };
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = values,
            None => self.entries.push((key, values)),
        }
        self
    }

    /// The values of `key` (lower-case), if the request has it.
    pub fn get(&self, key: &str) -> Option<&[Cow<'a, str>]> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
    }

    /// Every key and its values, in the order they were set.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[Cow<'a, str>])> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v.as_slice()))
    }
}

/// The context keys the policy variables of `text` read (`aws:username`
/// in `${aws:username}` or `${aws:username, 'default'}`; not the escapes
/// `${*}`, `${?}`, `${$}`), as written.
pub fn variables(text: &str) -> impl Iterator<Item = &str> {
    text.split("${").skip(1).filter_map(|after| {
        let inner = after.split_once('}')?.0;
        let key = inner.split_once(',').map_or(inner, |(k, _)| k).trim();
        (!matches!(key, "*" | "?" | "$" | "")).then_some(key)
    })
}

/// Resolves the policy variables of `text` (`${aws:username}`, `${*}`,
/// `${?}`, `${$}`, `${key, 'default'}`) from `ctx`; `None` when a variable
/// has no value, which makes the element it stands in match nothing.
pub fn resolve<'t>(text: &'t str, ctx: &Context<'_>) -> Option<Cow<'t, str>> {
    if !text.contains("${") {
        return Some(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Some(Cow::Owned(out));
        };
        let inner = after[..end].trim();
        match inner {
            "*" | "?" | "$" => out.push_str(inner),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    Some((k, d)) => (k.trim(), Some(d.trim().trim_matches('\''))),
                    None => (inner, None),
                };
                match ctx.get(key).and_then(|v| v.first()) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(default?),
                }
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

/// `*` any run of characters, `?` any one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    glob_bytes(pattern.as_bytes(), text.as_bytes(), false)
}

/// [`glob`], ASCII letters compared without case (IAM actions).
pub fn glob_ignore_case(pattern: &str, text: &str) -> bool {
    glob_bytes(pattern.as_bytes(), text.as_bytes(), true)
}

fn glob_bytes(p: &[u8], t: &[u8], ignore_case: bool) -> bool {
    let same = |a: u8, b: u8| a == b || (ignore_case && a.eq_ignore_ascii_case(&b));
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] != b'*' && (p[pi] == b'?' || same(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// ARN matching: each of the six colon-separated parts on its own (the
/// last one keeps its colons), with wildcards in `ArnLike`.
fn arn_matches(pattern: &str, arn: &str, like: bool) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || a.len() != 6 {
        return false;
    }
    p.iter()
        .zip(&a)
        .all(|(p, a)| if like { glob(p, a) } else { p == a })
}

/// Seconds since the epoch of an ISO 8601 date (`2026-01-01`,
/// `2026-01-01T12:00:00Z`, fractions and offsets allowed) or of epoch
/// seconds.
pub fn parse_date(text: &str) -> Option<f64> {
    if let Ok(n) = text.parse::<f64>() {
        return Some(n);
    }
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let d = b.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0, |n, c| n * 10 + u64::from(c - b'0')))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if year < 1970 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut secs = crate::clock::days_from_civil(year, month, day) as f64 * 86_400.0;
    if b.len() == 10 {
        return Some(secs);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 16 || b[13] != b':' {
        return None;
    }
    // Seconds are optional (`2009-01-31T12:00Z`, as the SQS guide writes).
    let with_seconds = b.get(16) == Some(&b':');
    let (h, m) = (num(11..13)?, num(14..16)?);
    let s = if with_seconds { num(17..19)? } else { 0 };
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    secs += (h * 3600 + m * 60 + s) as f64;
    let mut rest = &text[if with_seconds { 19 } else { 16 }..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        secs += format!("0.{}", &frac[..digits]).parse::<f64>().ok()?;
        rest = &frac[digits..];
    }
    match rest {
        "Z" | "z" | "" => Some(secs),
        offset => {
            let sign = match offset.as_bytes().first()? {
                b'+' => -1.0,
                b'-' => 1.0,
                _ => return None,
            };
            let (oh, om) = offset[1..].split_once(':').unwrap_or((&offset[1..], "00"));
            let (oh, om) = (oh.parse::<u64>().ok()?, om.parse::<u64>().ok()?);
            Some(secs + sign * (oh * 3600 + om * 60) as f64)
        }
    }
}

/// Whether `ip` is in `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or one
/// address).
fn in_cidr(cidr: &str, ip: &str) -> bool {
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// One operator family, positive form (negation is separate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    ArnEquals,
    ArnLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    Null,
}

/// How the request's values of a key are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    /// A single-valued key (any of its values, for a multivalued one).
    Single,
    /// `ForAnyValue:`.
    Any,
    /// `ForAllValues:`.
    All,
}

/// One operator as written: family, negation, `IfExists`, set qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    kind: Kind,
    negated: bool,
    if_exists: bool,
    set: Set,
}

impl Operator {
    /// Reads an operator name such as `ForAnyValue:StringNotLikeIfExists`.
    ///
    /// # Errors
    /// The name, when sealq does not evaluate it.
    pub fn parse(name: &str) -> Result<Self, String> {
        let unknown = || {
            format!(
                "the condition operator `{name}` is not supported (supported: the String, Arn, Numeric and Date operators, Bool, IpAddress, NotIpAddress and Null, with IfExists and ForAnyValue:/ForAllValues:)"
            )
        };
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Set::Any, r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Set::All, r)
        } else {
            (Set::Single, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let (kind, negated) = match base {
            "StringEquals" => (Kind::StringEquals, false),
            "StringNotEquals" => (Kind::StringEquals, true),
            "StringEqualsIgnoreCase" => (Kind::StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (Kind::StringEqualsIgnoreCase, true),
            "StringLike" => (Kind::StringLike, false),
            "StringNotLike" => (Kind::StringLike, true),
            "ArnEquals" => (Kind::ArnEquals, false),
            "ArnNotEquals" => (Kind::ArnEquals, true),
            "ArnLike" => (Kind::ArnLike, false),
            "ArnNotLike" => (Kind::ArnLike, true),
            "NumericEquals" => (Kind::NumericEquals, false),
            "NumericNotEquals" => (Kind::NumericEquals, true),
            "NumericLessThan" => (Kind::NumericLessThan, false),
            "NumericLessThanEquals" => (Kind::NumericLessThanEquals, false),
            "NumericGreaterThan" => (Kind::NumericGreaterThan, false),
            "NumericGreaterThanEquals" => (Kind::NumericGreaterThanEquals, false),
            "DateEquals" => (Kind::DateEquals, false),
            "DateNotEquals" => (Kind::DateEquals, true),
            "DateLessThan" => (Kind::DateLessThan, false),
            "DateLessThanEquals" => (Kind::DateLessThanEquals, false),
            "DateGreaterThan" => (Kind::DateGreaterThan, false),
            "DateGreaterThanEquals" => (Kind::DateGreaterThanEquals, false),
            "Bool" => (Kind::Bool, false),
            "IpAddress" => (Kind::IpAddress, false),
            "NotIpAddress" => (Kind::IpAddress, true),
            "Null" => (Kind::Null, false),
            _ => return Err(unknown()),
        };
        if kind == Kind::Null && (if_exists || set != Set::Single) {
            return Err(unknown());
        }
        Ok(Self {
            kind,
            negated,
            if_exists,
            set,
        })
    }

    /// Checks a value written in the policy for this operator.
    ///
    /// # Errors
    /// Why the value cannot be compared (not a number, a date, an address).
    pub fn check_value(self, value: &str) -> Result<(), String> {
        let ok = match self.kind {
            Kind::NumericEquals
            | Kind::NumericLessThan
            | Kind::NumericLessThanEquals
            | Kind::NumericGreaterThan
            | Kind::NumericGreaterThanEquals => value.contains("${") || value.parse::<f64>().is_ok(),
            Kind::DateEquals
            | Kind::DateLessThan
            | Kind::DateLessThanEquals
            | Kind::DateGreaterThan
            | Kind::DateGreaterThanEquals => value.contains("${") || parse_date(value).is_some(),
            Kind::IpAddress => {
                let net = value.split_once('/').map_or(value, |(n, _)| n);
                net.parse::<IpAddr>().is_ok()
            }
            Kind::Bool | Kind::Null => {
                value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
            }
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{value}` is not a valid value for this condition operator"
            ))
        }
    }

    /// Whether the request's `actual` matches the policy's `wanted`, before
    /// negation.
    fn matches(self, wanted: &str, actual: &str) -> bool {
        let num = |f: fn(f64, f64) -> bool| match (actual.parse::<f64>(), wanted.parse::<f64>()) {
            (Ok(a), Ok(w)) => f(a, w),
            _ => false,
        };
        let date = |f: fn(f64, f64) -> bool| match (parse_date(actual), parse_date(wanted)) {
            (Some(a), Some(w)) => f(a, w),
            _ => false,
        };
        match self.kind {
            Kind::StringEquals => wanted == actual,
            Kind::StringEqualsIgnoreCase | Kind::Bool => wanted.eq_ignore_ascii_case(actual),
            Kind::StringLike => glob(wanted, actual),
            Kind::ArnEquals => arn_matches(wanted, actual, false),
            Kind::ArnLike => arn_matches(wanted, actual, true),
            #[expect(clippy::float_cmp, reason = "IAM compares the numbers as written")]
            Kind::NumericEquals => num(|a, w| a == w),
            Kind::NumericLessThan => num(|a, w| a < w),
            Kind::NumericLessThanEquals => num(|a, w| a <= w),
            Kind::NumericGreaterThan => num(|a, w| a > w),
            Kind::NumericGreaterThanEquals => num(|a, w| a >= w),
            #[expect(clippy::float_cmp, reason = "whole seconds compared exactly")]
            Kind::DateEquals => date(|a, w| a == w),
            Kind::DateLessThan => date(|a, w| a < w),
            Kind::DateLessThanEquals => date(|a, w| a <= w),
            Kind::DateGreaterThan => date(|a, w| a > w),
            Kind::DateGreaterThanEquals => date(|a, w| a >= w),
            Kind::IpAddress => in_cidr(wanted, actual),
            Kind::Null => false,
        }
    }
}

/// One key of one operator, with the policy's values for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator.
    pub op: Operator,
    /// Lower-case key name.
    pub key: String,
    /// The policy's values (alternatives).
    pub values: Vec<String>,
}

impl Condition {
    /// Whether the condition holds for the request context `ctx`.
    pub fn holds(&self, ctx: &Context<'_>) -> bool {
        let actual = ctx.get(&self.key);
        if self.op.kind == Kind::Null {
            let absent = actual.is_none_or(<[_]>::is_empty);
            return self
                .values
                .iter()
                .any(|v| v.eq_ignore_ascii_case(if absent { "true" } else { "false" }));
        }
        // One request value against the policy's values (their variables
        // resolved; a value without one is borrowed, not copied), negation
        // applied.
        let one = |a: &str| {
            self.values
                .iter()
                .filter_map(|w| resolve(w, ctx))
                .any(|w| self.op.matches(&w, a))
                != self.op.negated
        };
        match (self.op.set, actual) {
            (Set::All, None) => true,
            (Set::All, Some(values)) => values.iter().all(|a| one(a)),
            (Set::Any, None) => false,
            (Set::Any, Some(values)) => values.iter().any(|a| one(a)),
            (Set::Single, None) => self.op.if_exists || self.op.negated,
            (Set::Single, Some(values)) if self.op.negated => values.iter().all(|a| one(a)),
            (Set::Single, Some(values)) => values.iter().any(|a| one(a)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        let op = Operator::parse(op).unwrap();
        Condition {
            op,
            key: key.to_ascii_lowercase(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn string_operators_and_case_rules() {
        let mut ctx = Context::new();
        ctx.set("aws:username", "Alice");
        assert!(cond("StringEquals", "aws:UserName", &["Alice"]).holds(&ctx));
        assert!(!cond("StringEquals", "aws:username", &["alice"]).holds(&ctx));
        assert!(cond("StringEqualsIgnoreCase", "aws:username", &["alice"]).holds(&ctx));
        assert!(cond("StringLike", "aws:username", &["A*", "zz"]).holds(&ctx));
        assert!(cond("StringNotLike", "aws:username", &["B*"]).holds(&ctx));
        assert!(!cond("StringNotEquals", "aws:username", &["Bob", "Alice"]).holds(&ctx));
        // Missing keys: positive fails, negated holds, IfExists holds.
        assert!(!cond("StringEquals", "sts:externalid", &["x"]).holds(&ctx));
        assert!(cond("StringNotEquals", "sts:externalid", &["x"]).holds(&ctx));
        assert!(cond("StringEqualsIfExists", "sts:externalid", &["x"]).holds(&ctx));
        assert!(cond("Null", "sts:externalid", &["true"]).holds(&ctx));
        assert!(!cond("Null", "aws:username", &["true"]).holds(&ctx));
    }

    #[test]
    fn numbers_dates_booleans_and_addresses() {
        let mut ctx = Context::new();
        ctx.set("kms:x", "42")
            .set("aws:currenttime", "2026-12-04T12:00:00Z")
            .set("aws:securetransport", "false")
            .set("aws:sourceip", "10.1.2.3");
        assert!(cond("NumericGreaterThan", "kms:x", &["41.5"]).holds(&ctx));
        assert!(cond("NumericLessThanEquals", "kms:x", &["42"]).holds(&ctx));
        assert!(!cond("NumericEquals", "kms:x", &["43"]).holds(&ctx));
        assert!(cond("DateLessThan", "aws:CurrentTime", &["2027-01-01"]).holds(&ctx));
        assert!(
            cond(
                "DateGreaterThan",
                "aws:CurrentTime",
                &["2026-12-04T11:59:59+00:00"]
            )
            .holds(&ctx)
        );
        assert!(
            !cond(
                "DateGreaterThan",
                "aws:CurrentTime",
                &["2026-12-04T13:00:00+01:00"]
            )
            .holds(&ctx)
        );
        // Seconds may be left out; a bad time is not a date.
        assert_eq!(
            parse_date("2009-01-31T12:00Z"),
            parse_date("2009-01-31T12:00:00Z")
        );
        assert!(cond("DateLessThan", "aws:CurrentTime", &["2026-12-04T12:01Z"]).holds(&ctx));
        assert_eq!(parse_date("2009-01-31T12Z"), None);
        assert_eq!(parse_date("2009-01-31T12:61Z"), None);
        assert!(cond("Bool", "aws:SecureTransport", &["false"]).holds(&ctx));
        assert!(cond("IpAddress", "aws:SourceIp", &["10.0.0.0/8"]).holds(&ctx));
        assert!(cond("NotIpAddress", "aws:SourceIp", &["192.168.0.0/16"]).holds(&ctx));
        assert!(!cond("IpAddress", "aws:SourceIp", &["10.1.3.0/24"]).holds(&ctx));
        assert!(in_cidr("2001:db8::/32", "2001:db8::1"));
        assert!(!in_cidr("2001:db8::/32", "10.0.0.1"));
    }

    #[test]
    fn set_qualifiers_follow_iam() {
        let mut ctx = Context::new();
        ctx.set_all(
            "kms:encryptioncontextkeys",
            vec!["aws:sqs:arn".into(), "extra".into()],
        );
        assert!(
            cond(
                "ForAnyValue:StringEquals",
                "kms:EncryptionContextKeys",
                &["aws:sqs:arn"]
            )
            .holds(&ctx)
        );
        assert!(
            !cond(
                "ForAllValues:StringEquals",
                "kms:EncryptionContextKeys",
                &["aws:sqs:arn"]
            )
            .holds(&ctx)
        );
        assert!(
            cond(
                "ForAllValues:StringEquals",
                "kms:EncryptionContextKeys",
                &["aws:sqs:arn", "extra"]
            )
            .holds(&ctx)
        );
        // ForAllValues holds for a missing key; ForAnyValue does not.
        assert!(cond("ForAllValues:StringEquals", "aws:tagkeys", &["a"]).holds(&ctx));
        assert!(!cond("ForAnyValue:StringEquals", "aws:tagkeys", &["a"]).holds(&ctx));
    }

    #[test]
    fn arns_compare_part_by_part() {
        let mut ctx = Context::new();
        ctx.set("aws:sourcearn", "arn:aws:sqs:us-east-1:111122223333:orders");
        assert!(cond("ArnLike", "aws:SourceArn", &["arn:aws:sqs:*:111122223333:*"]).holds(&ctx));
        assert!(!cond("ArnLike", "aws:SourceArn", &["arn:aws:sqs:*:444455556666:*"]).holds(&ctx));
        assert!(
            cond(
                "ArnEquals",
                "aws:SourceArn",
                &["arn:aws:sqs:us-east-1:111122223333:orders"]
            )
            .holds(&ctx)
        );
        assert!(!arn_matches("arn:aws:sqs:*", "arn:aws:sqs:us-east-1:1:q", true));
    }

    #[test]
    fn variables_resolve_from_the_context() {
        let mut ctx = Context::new();
        ctx.set("aws:username", "alice")
            .set("aws:PrincipalAccount", "111122223333");
        assert_eq!(
            resolve("arn:aws:sqs:*:${aws:PrincipalAccount}:${aws:username}-*", &ctx).as_deref(),
            Some("arn:aws:sqs:*:111122223333:alice-*")
        );
        assert_eq!(resolve("a${*}b${?}c${$}", &ctx).as_deref(), Some("a*b?c$"));
        assert_eq!(resolve("${aws:userid}", &ctx), None);
        assert_eq!(
            resolve("${aws:userid, 'nobody'}", &ctx).as_deref(),
            Some("nobody")
        );
        // A variable in a condition value.
        assert!(cond("StringEquals", "aws:username", &["${aws:username}"]).holds(&ctx));
    }

    #[test]
    fn unknown_operators_and_bad_values_are_refused() {
        for bad in [
            "BinaryEquals",
            "StringEqualz",
            "NullIfExists",
            "ForAnyValue:Null",
            "stringequals",
        ] {
            assert!(Operator::parse(bad).is_err(), "{bad}");
        }
        let n = Operator::parse("NumericLessThan").unwrap();
        assert!(n.check_value("3.5").is_ok());
        assert!(n.check_value("three").is_err());
        let d = Operator::parse("DateGreaterThan").unwrap();
        assert!(d.check_value("2026-01-01T00:00:00Z").is_ok());
        assert!(d.check_value("yesterday").is_err());
        assert!(
            Operator::parse("IpAddress")
                .unwrap()
                .check_value("10.0.0.0/8")
                .is_ok()
        );
        assert!(Operator::parse("IpAddress").unwrap().check_value("ten").is_err());
        assert_eq!(parse_date("2026-12-04"), Some(1_796_342_400.0));
        assert_eq!(parse_date("2026-12-04T00:00:01.5Z"), Some(1_796_342_401.5));
    }
}
