//! `/_sealq/*`: health and the virtual clock. Admin endpoints never return
//! message bodies of encrypted queues or key material. Like `protocol`, this
//! is a wire surface, so it may use serde_json.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::state::AppState;

/// Routes under `/_sealq`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/clock", get(clock).post(advance_clock))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn clock(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "now_ms": state.clock.now_ms() }))
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "message": message }))).into_response()
}

/// `POST /_sealq/clock {"advance_seconds": N}`: moves every timer forward.
async fn advance_clock(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("body must be a JSON object like {\"advance_seconds\": 60}");
    };
    let Some(secs) = v
        .get("advance_seconds")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
    else {
        return bad_request("advance_seconds must be a non-negative number");
    };
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked finite and non-negative"
    )]
    let ms = (secs * 1000.0).round() as u64;
    state.clock.advance(ms);
    Json(json!({ "now_ms": state.clock.now_ms() })).into_response()
}
