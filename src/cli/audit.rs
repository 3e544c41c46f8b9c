//! `sealq audit`: the posture audit of a running server (`--endpoint`,
//! which asks `GET /_sealq/audit`) or, offline, of a configuration file
//! (`--config`: applied to a scratch in-memory server, nothing bound, the
//! same rules), printed as a table, JSON or SARIF.

use std::path::PathBuf;

use crate::audit::render::{self, Format};
use crate::audit::{Finding, Severity};

/// What to audit.
#[derive(Debug, Clone)]
pub enum Target {
    /// A running server at this `http://host:port`.
    Endpoint(String),
    /// A configuration file, offline.
    Config(PathBuf),
}

/// What `sealq audit` prints, and whether a finding reached `--fail-on`.
#[derive(Debug)]
pub struct Report {
    /// The rendered findings.
    pub output: String,
    /// Whether any finding is at or above the `--fail-on` level.
    pub failed: bool,
}

/// The audited file's name and where it declares each resource (ARN, line).
type Declared = (String, Vec<(String, usize)>);

/// Audits `target`, rendered as `format`; `fail_on` sets [`Report::failed`].
///
/// # Errors
/// A message for the user (exit 2): an unreachable or malformed endpoint,
/// an answer that is not the audit's JSON, a configuration file that cannot
/// be read or applied (located: `FILE:LINE:COL: field ...`).
pub async fn run(target: &Target, format: Format, fail_on: Option<Severity>) -> Result<Report, String> {
    let (findings, source): (Vec<Finding>, Option<Declared>) = match target {
        Target::Endpoint(endpoint) => {
            let v = crate::admin::inspect::get_json(endpoint, "/_sealq/audit").await?;
            (render::from_json(&v)?, None)
        }
        Target::Config(path) => {
            let file = crate::config::load(path).map_err(|e| e.to_string())?;
            let config = file.server_config(crate::config::Config::default());
            let state = crate::config::scratch_state(&config, &file).map_err(|e| e.to_string())?;
            let lines = file.declarations(&config);
            (
                crate::audit::audit(&state),
                Some((path.display().to_string(), lines)),
            )
        }
    };
    let output = match format {
        Format::Table => render::table(&findings),
        Format::Json => pretty(&render::json(&findings))?,
        Format::Sarif => {
            let source = source
                .as_ref()
                .map(|(uri, lines)| (uri.as_str(), lines.as_slice()));
            pretty(&render::sarif(&findings, source))?
        }
    };
    let failed = fail_on.is_some_and(|level| findings.iter().any(|f| f.severity >= level));
    Ok(Report { output, failed })
}

fn pretty(v: &serde_json::Value) -> Result<String, String> {
    serde_json::to_string_pretty(v)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| e.to_string())
}
