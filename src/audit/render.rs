//! The audit's three outputs: a table for terminals and CI logs, JSON (the
//! shape `GET /_sealq/audit` serves and the console reads), and SARIF
//! 2.1.0 as GitHub code scanning reads it.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Finding, RULES, Severity, summary};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text.
    Table,
    /// `{"findings": [...], "summary": {...}}`.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

impl Format {
    /// The format a name (`table`, `json`, `sarif`) names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "table" => Some(Self::Table),
            "json" => Some(Self::Json),
            "sarif" => Some(Self::Sarif),
            _ => None,
        }
    }
}

/// The JSON document: `findings` (each `rule`, `severity`, `resource`,
/// `title`, `why`, `fix`) and `summary` (a count per severity).
pub fn json(findings: &[Finding]) -> Value {
    let list: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "rule": f.rule,
                "severity": f.severity.label(),
                "resource": f.resource,
                "title": f.title,
                "why": f.why,
                "fix": f.fix,
            })
        })
        .collect();
    let summary: serde_json::Map<String, Value> = summary(findings)
        .into_iter()
        .map(|(s, n)| (s.label().to_owned(), json!(n)))
        .collect();
    json!({ "findings": list, "summary": summary })
}

/// Severity as the findings' JSON shows it, back (for findings read from a
/// server).
fn severity_of(v: &Value) -> Severity {
    v.as_str().and_then(Severity::parse).unwrap_or(Severity::Info)
}

/// Findings back from the JSON document (what `sealq audit --endpoint`
/// reads from a server).
///
/// # Errors
/// When the document does not have the shape [`json`] writes.
pub fn from_json(v: &Value) -> Result<Vec<Finding>, String> {
    let list = v["findings"]
        .as_array()
        .ok_or("the answer has no findings list")?;
    list.iter()
        .map(|f| {
            let id = f["rule"].as_str().ok_or("a finding without a rule")?;
            let rule = RULES
                .iter()
                .find(|r| r.id == id)
                .ok_or_else(|| format!("unknown rule {id} (is the server a newer sealq?)"))?;
            Ok(Finding {
                rule: rule.id,
                severity: severity_of(&f["severity"]),
                resource: f["resource"].as_str().unwrap_or_default().to_owned(),
                title: f["title"].as_str().unwrap_or_default().to_owned(),
                why: rule.why,
                fix: f["fix"].as_str().unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// Wraps `text` at `width` columns for a line that starts at column
/// `indent` (its label), every line after the first indented as much. A
/// word longer than the line (an ARN, a policy) gets a line of its own.
fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut col = indent;
    for word in text.split_whitespace() {
        if col > indent && col + 1 + word.len() > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if col > indent {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out
}

/// The readable table: one block per finding (severity, rule, resource,
/// then what, why and fix wrapped at 100 columns), then a count per
/// severity.
pub fn table(findings: &[Finding]) -> String {
    let mut o = String::new();
    if findings.is_empty() {
        o.push_str("No findings.\n");
    }
    let rule_width = findings.iter().map(|f| f.rule.len()).max().unwrap_or(0);
    for f in findings {
        let _ = writeln!(
            o,
            "{:<8}  {:<rule_width$}  {}",
            f.severity.label().to_uppercase(),
            f.rule,
            f.resource
        );
        let _ = writeln!(o, "          what: {}", wrap(&f.title, 100, 16));
        let _ = writeln!(o, "          why:  {}", wrap(f.why, 100, 16));
        let _ = writeln!(o, "          fix:  {}", wrap(&f.fix, 100, 16));
        o.push('\n');
    }
    let counts: Vec<String> = summary(findings)
        .into_iter()
        .map(|(s, n)| format!("{n} {}", s.label()))
        .collect();
    let _ = writeln!(o, "{} finding(s): {}", findings.len(), counts.join(", "));
    o
}

/// SARIF `level` of a severity.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` (a CVSS-like score) of a severity.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// SARIF 2.1.0 for `findings`: one run of the tool `sealq` with every rule
/// described, one result per finding. `source` is the configuration file
/// audited (URI as given) with the line where each resource ARN is
/// declared; results on a resource it declares point there, the others
/// (and every result of a server audit) carry the ARN as a logical
/// location.
pub fn sarif(findings: &[Finding], source: Option<(&str, &[(String, usize)])>) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.id,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.why },
                "help": { "text": r.help },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": {
                    "security-severity": security_severity(r.severity),
                    "tags": ["security"],
                    "severity": r.severity.label(),
                },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let index = RULES.iter().position(|r| r.id == f.rule).unwrap_or(0);
            let mut location = json!({
                "logicalLocations": [{ "fullyQualifiedName": f.resource, "kind": "resource" }],
            });
            if let Some((uri, lines)) = source {
                let line = lines
                    .iter()
                    .find(|(arn, _)| *arn == f.resource)
                    .map_or(1, |(_, l)| (*l).max(1));
                location["physicalLocation"] = json!({
                    "artifactLocation": { "uri": uri },
                    "region": { "startLine": line },
                });
            }
            json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": format!("{}: {}. Fix: {}", f.resource, f.title, f.fix) },
                "locations": [location],
                "partialFingerprints": { "sealqResource/v1": format!("{}:{}", f.rule, f.resource) },
                "properties": { "severity": f.severity.label() },
            })
        })
        .collect();
    let mut run = json!({
        "tool": {
            "driver": {
                "name": "sealq",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }
        },
        "results": results,
    });
    if let Some((uri, _)) = source {
        run["artifacts"] = json!([{ "location": { "uri": uri } }]);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    })
}
