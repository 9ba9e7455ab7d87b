//! OAuth endpoints: `tokenP` (24 h token, same token within 6 h, one issuance per minute),
//! `revokeP`, the WebSocket `Approval` key and `hashkey`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode};
use base64::Engine;
use chrono::TimeDelta;
use sha2::{Digest, Sha256};

use super::super::Shared;
use super::super::state::{IssuedApprovalKey, Token, mask};
use super::super::wire::{self, J, msg, obj, s};
use super::{check_app, check_rate};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn body_str(v: &serde_json::Value, key: &str) -> String {
    v.get(key).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned()
}

/// Validates body credentials the way the token endpoints do (403 `error_code` bodies).
fn check_body_app(shared: &Shared, appkey: &str, secret: &str) -> Result<(), Response<Body>> {
    let st = shared.lock();
    if appkey.len() != 36 || st.cfg.app_key.as_ref().is_some_and(|k| k != appkey) {
        return Err(wire::token_error("EGW00103", msg::EGW00103));
    }
    if secret.len() != 180 || st.cfg.app_secret.as_ref().is_some_and(|k| k != secret) {
        return Err(wire::token_error("EGW00105", msg::EGW00105));
    }
    Ok(())
}

fn parse(body: &Bytes) -> Result<serde_json::Value, Response<Body>> {
    serde_json::from_slice(body).map_err(|_| wire::token_error("EGW00101", "유효하지 않은 요청입니다."))
}

/// `POST /oauth2/tokenP`.
pub async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response<Body> {
    let v = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if body_str(&v, "grant_type") != "client_credentials" {
        return wire::token_error("EGW00116", msg::EGW00116);
    }
    let appkey = body_str(&v, "appkey");
    if let Err(r) = check_body_app(&shared, &appkey, &body_str(&v, "appsecret")) {
        return r;
    }
    let now = shared.clock.now();
    let mut st = shared.lock();
    let reuse = st
        .tokens
        .iter()
        .rev()
        .find(|t| t.appkey == appkey && !t.revoked && now < t.expires && now - t.issued < TimeDelta::hours(6))
        .cloned();
    let throttled = st.token_calls.get(&appkey).is_some_and(|last| now - *last < TimeDelta::minutes(1));
    if throttled && (st.cfg.throttle_every_token_call || reuse.is_none()) {
        return wire::token_error("EGW00133", msg::EGW00133);
    }
    st.token_calls.insert(appkey.clone(), now);
    let t = match reuse {
        Some(t) => t,
        None => {
            let header = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9";
            let claims = format!(
                r#"{{"sub":"token","aud":"{}","prdt_cd":"","iss":"unogw","exp":{},"iat":{},"jti":"{}"}}"#,
                st.random_uuid(),
                (now + TimeDelta::hours(24)).timestamp(),
                now.timestamp(),
                st.random_string(16, ALNUM)
            );
            let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
            let sig = st.random_string(86, ALNUM);
            let token = format!("{header}.{payload}.{sig}");
            let t = Token {
                masked: mask(&token),
                token,
                appkey: appkey.clone(),
                appkey_masked: mask(&appkey),
                issued: now,
                expires: now + TimeDelta::hours(24),
                revoked: false,
            };
            st.tokens.push(t.clone());
            t
        }
    };
    let body = obj([
        ("access_token", s(&t.token)),
        ("access_token_token_expired", s(t.expires.format("%Y-%m-%d %H:%M:%S"))),
        ("token_type", s("Bearer")),
        ("expires_in", J::N((t.expires - now).num_seconds().max(0))),
    ]);
    wire::respond(StatusCode::OK, None, None, &body)
}

/// `POST /oauth2/revokeP`.
pub async fn revoke(State(shared): State<Arc<Shared>>, body: Bytes) -> Response<Body> {
    let v = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let appkey = body_str(&v, "appkey");
    if let Err(r) = check_body_app(&shared, &appkey, &body_str(&v, "appsecret")) {
        return r;
    }
    let token = body_str(&v, "token");
    let mut st = shared.lock();
    match st.tokens.iter_mut().find(|t| t.token == token && t.appkey == appkey && !t.revoked) {
        Some(t) => {
            t.revoked = true;
            let body = obj([("code", J::N(200)), ("message", s("접근토큰 폐기에 성공하였습니다"))]);
            wire::respond(StatusCode::OK, None, None, &body)
        }
        None => wire::token_error("EGW00121", msg::EGW00121),
    }
}

/// `POST /oauth2/Approval` (the secret travels as `secretkey`).
pub async fn approval(State(shared): State<Arc<Shared>>, body: Bytes) -> Response<Body> {
    let v = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if body_str(&v, "grant_type") != "client_credentials" {
        return wire::token_error("EGW00116", msg::EGW00116);
    }
    let appkey = body_str(&v, "appkey");
    if let Err(r) = check_body_app(&shared, &appkey, &body_str(&v, "secretkey")) {
        return r;
    }
    let now = shared.clock.now();
    let mut st = shared.lock();
    let key = st.random_uuid();
    st.approvals.push(IssuedApprovalKey { masked: mask(&key), key: key.clone(), appkey, issued: now });
    wire::respond(StatusCode::OK, None, None, &obj([("approval_key", s(key))]))
}

/// Returns the hash the simulator expects in an order's `hashkey` header.
pub fn hash_of(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// `POST /uapi/hashkey`.
pub async fn hashkey(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let appkey = match check_app(&shared, &headers, None) {
        Ok(k) => k,
        Err(r) => return r,
    };
    if let Err(r) = check_rate(&shared, &appkey, None) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return wire::gateway("OPSQ9997", msg::OPSQ9997, None);
    };
    let body = obj([("BODY", J::Raw(v)), ("HASH", s(hash_of(&body)))]);
    wire::respond(StatusCode::OK, None, None, &body)
}
