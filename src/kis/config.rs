//! Settings of the KIS adapter with the documented defaults.

use std::time::Duration;

use url::Url;

use super::breaker::BreakerConfig;
use super::retry::RequestRetry;
use crate::domain::Mode;
use crate::ports::Secret;

/// Live REST host.
pub const LIVE_REST: &str = "https://openapi.koreainvestment.com:9443";
/// Paper REST host.
pub const PAPER_REST: &str = "https://openapivts.koreainvestment.com:29443";
/// Live WebSocket URL.
pub const LIVE_WS: &str = "ws://ops.koreainvestment.com:21000/tryitout";
/// Paper WebSocket URL.
pub const PAPER_WS: &str = "ws://ops.koreainvestment.com:31000/tryitout";

/// Settings of the real-time feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedConfig {
    /// WebSocket URL.
    pub url: Url,
    /// Client heartbeat interval (`None` switches it off).
    pub heartbeat: Option<Duration>,
    /// Reconnect when neither data nor PINGPONG arrived for this long.
    pub idle_timeout: Duration,
    /// Reconnect attempts before asking the pipeline to stop trading (`None`: reconnect for as
    /// long as it takes; new orders pause meanwhile and resume once the feed is back).
    pub reconnect_attempts: Option<u32>,
    /// First reconnect delay (doubles per attempt, with ±20 % jitter).
    pub reconnect_base: Duration,
    /// Longest delay between two reconnect attempts.
    pub reconnect_max: Duration,
    /// Registration cap per session.
    pub max_registrations: usize,
    /// Capacity of the market-data channel, in batches (one per data frame).
    pub market_buffer: usize,
}

/// Settings of the KIS adapter.
#[derive(Debug, Clone)]
pub struct KisConfig {
    /// Live or paper.
    pub mode: Mode,
    /// REST base URL (`https`, or plain `http` on loopback only).
    pub rest_base: Url,
    /// App key.
    pub app_key: Secret,
    /// App secret.
    pub app_secret: Secret,
    /// HTS login id (the tr_key of execution notices).
    pub hts_id: Secret,
    /// Customer type (`P` individual, `B` corporate).
    pub custtype: String,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Read timeout.
    pub read_timeout: Duration,
    /// Refresh the access token this long before it expires.
    pub refresh_ahead: Duration,
    /// Minimum spacing of two token issuances (KIS: one per minute).
    pub token_issue_spacing: Duration,
    /// Requests per second per app key.
    pub requests_per_second: u32,
    /// Retry policy for transient failures.
    pub retry: RequestRetry,
    /// Circuit breaker settings (per endpoint group).
    pub breaker: BreakerConfig,
    /// Send a hashkey header on order POSTs.
    pub hashkey: bool,
    /// Use legacy TR ids.
    pub legacy_tr_ids: bool,
    /// Pause between pages of pageable inquiries.
    pub page_delay: Duration,
    /// The paper host's TR id of a US sell (documented `VTTT1001U`; the vendor's sample code
    /// computes `VTTT1006U`: UNCONFIRMED, so configurable).
    pub us_paper_sell_tr_id: String,
    /// Real-time feed.
    pub feed: FeedConfig,
}

impl KisConfig {
    /// Returns the documented defaults for `mode`: the vendor hosts, 20 requests/s live and
    /// 2/s paper, 5 s timeouts, refresh 30 min ahead, hashkey on, heartbeat 30 s, idle 10 min.
    ///
    /// # Errors
    /// Never in practice: only if a built-in host URL failed to parse.
    pub fn defaults(
        mode: Mode,
        app_key: Secret,
        app_secret: Secret,
        hts_id: Secret,
    ) -> Result<Self, url::ParseError> {
        let (rest, ws, rps, page_ms) = match mode {
            Mode::Live => (LIVE_REST, LIVE_WS, 20, 50),
            Mode::Paper => (PAPER_REST, PAPER_WS, 2, 500),
        };
        Ok(Self {
            mode,
            rest_base: Url::parse(rest)?,
            app_key,
            app_secret,
            hts_id,
            custtype: "P".into(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(5),
            refresh_ahead: Duration::from_secs(30 * 60),
            token_issue_spacing: Duration::from_secs(60),
            requests_per_second: rps,
            retry: RequestRetry::default(),
            breaker: BreakerConfig::default(),
            hashkey: true,
            legacy_tr_ids: false,
            page_delay: Duration::from_millis(page_ms),
            us_paper_sell_tr_id: crate::kis::http::client::DEFAULT_US_PAPER_SELL_TR.to_owned(),
            feed: FeedConfig {
                url: Url::parse(ws)?,
                heartbeat: Some(Duration::from_secs(30)),
                idle_timeout: Duration::from_secs(600),
                reconnect_attempts: None,
                reconnect_base: Duration::from_secs(1),
                reconnect_max: Duration::from_secs(30),
                max_registrations: 41,
                market_buffer: 4096,
            },
        })
    }

    /// Points the REST client and the feed at another server (e.g. the simulator).
    #[must_use]
    pub fn with_endpoints(mut self, rest_base: Url, ws_url: Url) -> Self {
        self.rest_base = rest_base;
        self.feed.url = ws_url;
        self
    }
}

/// Returns true when `url` uses TLS, or plain text towards a loopback host only.
pub fn is_allowed_base(url: &Url) -> bool {
    match url.scheme() {
        "https" | "wss" => true,
        "http" | "ws" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        for (url, ok) in [
            ("https://openapi.koreainvestment.com:9443", true),
            ("http://127.0.0.1:8080", true),
            ("http://localhost:1", true),
            ("http://[::1]:1", true),
            ("http://openapi.koreainvestment.com:9443", false),
            ("http://10.0.0.1", false),
            ("ftp://127.0.0.1", false),
        ] {
            assert_eq!(is_allowed_base(&Url::parse(url).unwrap()), ok, "{url}");
        }
    }

    #[test]
    fn defaults_follow_mode() {
        let s = || Secret::new("x");
        let live = KisConfig::defaults(Mode::Live, s(), s(), s()).unwrap();
        let paper = KisConfig::defaults(Mode::Paper, s(), s(), s()).unwrap();
        assert_eq!((live.requests_per_second, paper.requests_per_second), (20, 2));
        assert_eq!(paper.rest_base.as_str(), "https://openapivts.koreainvestment.com:29443/");
        assert_eq!(live.feed.url.port(), Some(21000));
    }
}
