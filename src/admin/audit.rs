//! `GET /_sealq/audit`: the security posture audit of this server's state
//! (`crate::audit`), as JSON (`{"findings": [...], "summary": {...}}`, what
//! the console reads) or, with `?format=sarif`, SARIF 2.1.0.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::audit::render;
use crate::state::AppState;

/// Query parameters of `GET /_sealq/audit`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditParams {
    /// `json` (default) or `sarif`.
    format: Option<String>,
}

/// `GET /_sealq/audit[?format=json|sarif]`.
pub(super) async fn audit(
    State(state): State<AppState>,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let format = match params {
        Ok(Query(p)) => p.format,
        Err(_) => return super::bad_request("GET /_sealq/audit takes only format (json or sarif)"),
    };
    let findings = crate::audit::audit(&state);
    let body: Value = match format.as_deref() {
        None | Some("json") => render::json(&findings),
        Some("sarif") => render::sarif(&findings, None),
        Some(_) => return super::bad_request("format must be json or sarif"),
    };
    Json(body).into_response()
}
