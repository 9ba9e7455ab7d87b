//! The raw KIS REST client: one pooled reqwest client, one function per endpoint named after
//! it, KIS field names in and lower-cased JSON out. Every call logs one line (method, path,
//! tr_id, HTTP status, msg_cd, latency, and the order's correlation id `cid` inside an order
//! action) and nothing secret. `rt_cd` is checked on every reply,
//! whatever the HTTP status.

use std::sync::Arc;
use std::time::Instant;

use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use super::error::KisHttpError;
use super::models::{self, ApprovalResponse, HashkeyResponse, TokenResponse};
use crate::kis::config::{KisConfig, is_allowed_base};
use crate::ports::Secret;

/// A checked reply: HTTP status, the `tr_cont` response header and the lower-cased body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `tr_cont` response header (`F`/`M` more pages, `D`/`E` last page, empty otherwise).
    pub tr_cont: String,
    /// Body with lower-cased keys.
    pub body: Value,
}

impl Reply {
    /// Returns true when the server says more pages follow.
    pub fn has_more(&self) -> bool {
        matches!(self.tr_cont.as_str(), "F" | "M")
    }
}

/// One request to send.
#[derive(Debug)]
pub struct Request<'a> {
    /// HTTP method.
    pub method: Method,
    /// Path below the base URL.
    pub path: &'static str,
    /// TR id header.
    pub tr_id: &'a str,
    /// Access token.
    pub token: &'a Secret,
    /// `tr_cont` request header (`""` or `"N"`).
    pub tr_cont: &'a str,
    /// Query parameters (UPPERCASE names).
    pub query: Vec<(&'static str, String)>,
    /// JSON body for POSTs.
    pub body: Option<Value>,
    /// Hashkey header for order POSTs.
    pub hashkey: Option<String>,
}

/// What the log line of one call says (and all it says): no credentials, tokens or query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// HTTP method.
    pub method: String,
    /// Path (without query).
    pub path: &'static str,
    /// TR id (empty for auth endpoints).
    pub tr_id: String,
    /// HTTP status (0 when no response arrived).
    pub status: u16,
    /// `msg_cd` or `error_code` of the body, if any.
    pub msg_cd: String,
    /// Latency in milliseconds.
    pub latency_ms: u64,
    /// Correlation id of the order action the call belongs to (the order's idempotency key,
    /// see [`crate::ports::correlation`]); `None` outside an order action.
    pub correlation_id: Option<String>,
}

/// A callback that sees every [`CallRecord`] (e.g. for metrics).
pub type CallHook = Arc<dyn Fn(&CallRecord) + Send + Sync>;

/// The raw client.
#[derive(Clone)]
pub struct RawClient {
    http: reqwest::Client,
    base: Url,
    app_key: Secret,
    app_secret: Secret,
    custtype: String,
    hook: Option<CallHook>,
}

impl std::fmt::Debug for RawClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawClient").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

fn transport_error(err: reqwest::Error) -> KisHttpError {
    let err = err.without_url();
    if err.is_connect() {
        KisHttpError::Connect(err.to_string())
    } else if err.is_timeout() {
        KisHttpError::Timeout(err.to_string())
    } else if err.is_builder() {
        KisHttpError::Invalid(err.to_string())
    } else {
        KisHttpError::Transport(err.to_string())
    }
}

impl RawClient {
    /// Builds the pooled client (rustls, TLS 1.2 minimum, connect/read timeouts).
    ///
    /// # Errors
    /// Returns [`KisHttpError::Invalid`] for a plain-http base URL that is not loopback, or
    /// when the TLS client cannot be built.
    pub fn new(config: &KisConfig) -> Result<Self, KisHttpError> {
        if !is_allowed_base(&config.rest_base) {
            return Err(KisHttpError::Invalid(
                "REST base must be https (plain http only on loopback)".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .tls_version_min(reqwest::tls::Version::TLS_1_2)
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .timeout(config.connect_timeout + config.read_timeout)
            .pool_max_idle_per_host(8)
            .build()
            .map_err(transport_error)?;
        Ok(Self {
            http,
            base: config.rest_base.clone(),
            app_key: config.app_key.clone(),
            app_secret: config.app_secret.clone(),
            custtype: config.custtype.clone(),
            hook: None,
        })
    }

    /// Adds a callback that sees the record of every call.
    #[must_use]
    pub fn with_call_hook(mut self, hook: CallHook) -> Self {
        self.hook = Some(hook);
        self
    }

    fn record(&self, record: &CallRecord, error: Option<&KisHttpError>) {
        let CallRecord { method, path, tr_id, status, msg_cd, latency_ms, correlation_id } = record;
        let cid = correlation_id.as_deref();
        match error {
            Some(error) => {
                tracing::warn!(target: "aegis::kis::http", %method, path, %tr_id, status, %msg_cd, latency_ms, cid, %error, "kis call");
            }
            None => {
                tracing::info!(target: "aegis::kis::http", %method, path, %tr_id, status, %msg_cd, latency_ms, cid, "kis call")
            }
        }
        if let Some(hook) = &self.hook {
            hook(record);
        }
    }

    fn url(&self, path: &str) -> Result<Url, KisHttpError> {
        self.base.join(path).map_err(|e| KisHttpError::Invalid(format!("bad path {path}: {e}")))
    }

    async fn send(
        &self,
        method: &Method,
        path: &'static str,
        tr_id: &str,
        builder: reqwest::RequestBuilder,
    ) -> Result<(u16, String, Value), KisHttpError> {
        let started = Instant::now();
        let result = async {
            let resp = builder.send().await.map_err(transport_error)?;
            let status = resp.status().as_u16();
            let tr_cont =
                resp.headers().get("tr_cont").and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_owned();
            let bytes = resp.bytes().await.map_err(transport_error)?;
            Ok::<_, KisHttpError>((status, tr_cont, bytes))
        }
        .await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut record = CallRecord {
            method: method.to_string(),
            path,
            tr_id: tr_id.to_owned(),
            status: 0,
            msg_cd: String::new(),
            latency_ms,
            correlation_id: crate::ports::correlation::current().map(|c| c.to_string()),
        };
        let (status, tr_cont, bytes) = match result {
            Ok(ok) => ok,
            Err(err) => {
                crate::obs::record::rest_call(
                    metric_tr(path, tr_id),
                    err.metric_outcome(),
                    started.elapsed(),
                );
                self.record(&record, Some(&err));
                return Err(err);
            }
        };
        let body = serde_json::from_slice::<Value>(&bytes).map(models::lowercase_keys);
        let msg_cd = body
            .as_ref()
            .ok()
            .and_then(|b| b.get("msg_cd").or_else(|| b.get("error_code")))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        record.status = status;
        record.msg_cd = msg_cd;
        crate::obs::record::rest_call(
            metric_tr(path, tr_id),
            reply_outcome(status, body.as_ref().ok()),
            started.elapsed(),
        );
        self.record(&record, None);
        match body {
            Ok(body) => Ok((status, tr_cont, body)),
            Err(_) if status == 401 => Err(KisHttpError::TokenRejected("HTTP 401".into())),
            Err(_) if status >= 500 => Err(KisHttpError::Server { status, msg_cd: String::new() }),
            Err(e) => Err(KisHttpError::Decode(format!("HTTP {status}: body is not JSON: {e}"))),
        }
    }

    /// Sends an API request (bearer token, app credentials, TR id) and checks the envelope.
    ///
    /// # Errors
    /// Any [`KisHttpError`]; `rt_cd != "0"` is classified by `msg_cd`.
    pub async fn call(&self, req: Request<'_>) -> Result<Reply, KisHttpError> {
        let mut builder = self
            .http
            .request(req.method.clone(), self.url(req.path)?)
            .header("content-type", "application/json; charset=utf-8")
            .header("authorization", format!("Bearer {}", req.token.expose()))
            .header("appkey", self.app_key.expose())
            .header("appsecret", self.app_secret.expose())
            .header("tr_id", req.tr_id)
            .header("tr_cont", req.tr_cont)
            .header("custtype", &self.custtype);
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(hash) = &req.hashkey {
            builder = builder.header("hashkey", hash);
        }
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let (status, tr_cont, body) = self.send(&req.method, req.path, req.tr_id, builder).await?;
        check_envelope(status, &body)?;
        Ok(Reply { status, tr_cont, body })
    }

    /// `POST /oauth2/tokenP`: issues an access token.
    ///
    /// # Errors
    /// [`KisHttpError::TokenThrottled`] for `EGW00133`, [`KisHttpError::Credentials`] for other
    /// refusals, transport errors otherwise.
    pub async fn oauth2_token_p(&self) -> Result<TokenResponse, KisHttpError> {
        let body = json!({"grant_type": "client_credentials", "appkey": self.app_key.expose(), "appsecret": self.app_secret.expose()});
        let builder = self.http.post(self.url("/oauth2/tokenP")?).json(&body);
        let (status, _, body) = self.send(&Method::POST, "/oauth2/tokenP", "", builder).await?;
        check_auth_reply(status, &body)?;
        models::decode(body)
    }

    /// `POST /oauth2/Approval`: issues a WebSocket approval key (`secretkey` carries the secret).
    ///
    /// # Errors
    /// As [`RawClient::oauth2_token_p`].
    pub async fn oauth2_approval(&self) -> Result<ApprovalResponse, KisHttpError> {
        let body = json!({"grant_type": "client_credentials", "appkey": self.app_key.expose(), "secretkey": self.app_secret.expose()});
        let builder = self.http.post(self.url("/oauth2/Approval")?).json(&body);
        let (status, _, body) = self.send(&Method::POST, "/oauth2/Approval", "", builder).await?;
        check_auth_reply(status, &body)?;
        models::decode(body)
    }

    /// `POST /uapi/hashkey`: returns the hash of an order body.
    ///
    /// # Errors
    /// Any [`KisHttpError`].
    pub async fn uapi_hashkey(&self, order_body: &Value) -> Result<String, KisHttpError> {
        let builder = self
            .http
            .post(self.url("/uapi/hashkey")?)
            .header("content-type", "application/json; charset=utf-8")
            .header("appkey", self.app_key.expose())
            .header("appsecret", self.app_secret.expose())
            .json(order_body);
        let (status, _, body) = self.send(&Method::POST, "/uapi/hashkey", "", builder).await?;
        if body.get("rt_cd").is_some() {
            check_envelope(status, &body)?;
        } else if status >= 400 {
            return Err(KisHttpError::from_envelope(status, "", ""));
        }
        Ok(models::decode::<HashkeyResponse>(body)?.hash)
    }
}

/// The `tr_id` label of a call: its TR id, or the endpoint for the auth and hashkey calls.
fn metric_tr<'a>(path: &'a str, tr_id: &'a str) -> &'a str {
    if tr_id.is_empty() { path.rsplit('/').next().unwrap_or(path) } else { tr_id }
}

/// The `outcome` label of a reply that arrived (see [`KisHttpError::metric_outcome`]).
fn reply_outcome(status: u16, body: Option<&Value>) -> &'static str {
    let Some(body) = body else {
        return if status >= 500 { "server_error" } else { "decode_error" };
    };
    let failure = if body.get("rt_cd").is_some() {
        check_envelope(status, body).err()
    } else if body.get("error_code").is_some() {
        check_auth_reply(status, body).err()
    } else if status >= 400 {
        Some(KisHttpError::from_envelope(status, "", ""))
    } else {
        None
    };
    failure.map_or("ok", |e| e.metric_outcome())
}

/// Checks the `rt_cd` envelope of an API reply.
///
/// # Errors
/// Returns the classified error when `rt_cd != "0"` or the envelope is missing.
pub fn check_envelope(status: u16, body: &Value) -> Result<(), KisHttpError> {
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
    match body.get("rt_cd").and_then(Value::as_str) {
        Some("0") if status < 400 => Ok(()),
        Some(_) => Err(KisHttpError::from_envelope(status, text("msg_cd"), text("msg1"))),
        None if status == 401 => Err(KisHttpError::TokenRejected("HTTP 401".into())),
        None if status >= 500 => Err(KisHttpError::Server { status, msg_cd: String::new() }),
        None => Err(KisHttpError::Decode(format!("HTTP {status}: reply without rt_cd"))),
    }
}

fn check_auth_reply(status: u16, body: &Value) -> Result<(), KisHttpError> {
    if let Some(code) = body.get("error_code").and_then(Value::as_str) {
        let text = body.get("error_description").and_then(Value::as_str).unwrap_or("");
        return Err(match KisHttpError::from_envelope(status, code, text) {
            e @ (KisHttpError::TokenThrottled | KisHttpError::Server { .. } | KisHttpError::RateLimited) => e,
            _ => KisHttpError::Credentials { code: code.to_owned(), message: text.trim().to_owned() },
        });
    }
    if status >= 500 {
        return Err(KisHttpError::Server { status, msg_cd: String::new() });
    }
    if status >= 400 {
        return Err(KisHttpError::Credentials { code: format!("HTTP {status}"), message: String::new() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_checked_whatever_the_status() {
        let ok = json!({"rt_cd": "0", "msg_cd": "KIOK0510", "msg1": ""});
        assert!(check_envelope(200, &ok).is_ok());
        let limited = json!({"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."});
        assert_eq!(check_envelope(500, &limited), Err(KisHttpError::RateLimited));
        assert_eq!(
            check_envelope(200, &limited),
            Err(KisHttpError::RateLimited),
            "gateway errors inside HTTP 200"
        );
        let rejected = json!({"rt_cd": "7", "msg_cd": "APBK0406", "msg1": "x"});
        assert!(matches!(check_envelope(200, &rejected), Err(KisHttpError::Api { .. })));
        assert!(matches!(check_envelope(200, &json!({})), Err(KisHttpError::Decode(_))));
        assert!(matches!(check_envelope(502, &json!({})), Err(KisHttpError::Server { status: 502, .. })));
    }

    #[test]
    fn replies_are_labelled_by_outcome() {
        let ok = json!({"rt_cd": "0", "msg_cd": "KIOK0510"});
        assert_eq!(reply_outcome(200, Some(&ok)), "ok");
        let limited = json!({"rt_cd": "1", "msg_cd": "EGW00201"});
        assert_eq!(reply_outcome(500, Some(&limited)), "rate_limited");
        let rejected = json!({"rt_cd": "7", "msg_cd": "APBK0406", "msg1": "x"});
        assert_eq!(reply_outcome(200, Some(&rejected)), "rejected");
        assert_eq!(reply_outcome(502, None), "server_error");
        assert_eq!(reply_outcome(200, Some(&json!({"access_token": "t"}))), "ok");
        assert_eq!(reply_outcome(403, Some(&json!({"error_code": "EGW00133"}))), "token_throttled");
        assert_eq!(metric_tr("/oauth2/tokenP", ""), "tokenP");
        assert_eq!(metric_tr("/uapi/x", "VTTC0012U"), "VTTC0012U");
    }

    #[test]
    fn auth_replies_map_codes() {
        let throttled = json!({"error_code": "EGW00133", "error_description": "1분당 1회"});
        assert_eq!(check_auth_reply(403, &throttled), Err(KisHttpError::TokenThrottled));
        let bad_key = json!({"error_code": "EGW00103", "error_description": "유효하지 않은 AppKey입니다."});
        assert!(matches!(check_auth_reply(403, &bad_key), Err(KisHttpError::Credentials { .. })));
    }

    #[test]
    fn refuses_plain_http_to_remote_hosts() {
        let s = || Secret::new("x");
        let mut cfg = KisConfig::defaults(crate::domain::Mode::Paper, s(), s(), s()).unwrap();
        cfg.rest_base = Url::parse("http://openapivts.koreainvestment.com:29443").unwrap();
        assert!(matches!(RawClient::new(&cfg), Err(KisHttpError::Invalid(_))));
        cfg.rest_base = Url::parse("http://127.0.0.1:9").unwrap();
        assert!(RawClient::new(&cfg).is_ok());
    }
}
