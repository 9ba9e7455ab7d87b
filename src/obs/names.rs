//! Every metric family aegis exports (Prometheus naming: `aegis_` prefix, base units, `_total`
//! for counters, `_seconds`/`_bytes` for units; money in families named by its currency: the KRX
//! engine's in KRW as `_krw`, the US engine's in USD as `_usd`). README.md lists them.

/// Counter `{tr_id, outcome}`.
pub const REST_REQUESTS: &str = "aegis_kis_rest_requests_total";
/// Histogram `{tr_id}`.
pub const REST_DURATION: &str = "aegis_kis_rest_request_duration_seconds";
/// Counter.
pub const REST_EGW00201: &str = "aegis_kis_rest_egw00201_total";
/// Histogram `{priority}`.
pub const LIMITER_WAIT: &str = "aegis_kis_rate_limiter_wait_seconds";
/// Gauge `{priority}`.
pub const LIMITER_QUEUE: &str = "aegis_kis_rate_limiter_queue_depth";
/// Gauge `{group}`.
pub const BREAKER_STATE: &str = "aegis_kis_circuit_breaker_state";
/// Counter `{group}`.
pub const BREAKER_OPENED: &str = "aegis_kis_circuit_breaker_opened_total";
/// Gauge.
pub const TOKEN_EXPIRY: &str = "aegis_kis_token_expiry_timestamp_seconds";
/// Gauge.
pub const TOKEN_REFRESH_AHEAD: &str = "aegis_kis_token_refresh_ahead_seconds";
/// Counter.
pub const TOKEN_ISSUED: &str = "aegis_kis_token_issued_total";
/// Gauge.
pub const WS_CONNECTED: &str = "aegis_ws_connected";
/// Counter.
pub const WS_RECONNECTS: &str = "aegis_ws_reconnects_total";
/// Gauge.
pub const WS_REGISTRATIONS: &str = "aegis_ws_registrations";
/// Gauge `{channel}`.
pub const WS_SINCE_LAST_FRAME: &str = "aegis_ws_seconds_since_last_frame";
/// Counter `{channel}`.
pub const WS_FRAMES: &str = "aegis_ws_frames_total";
/// Counter `{channel}`.
pub const WS_RECORDS: &str = "aegis_ws_records_decoded_total";
/// Counter.
pub const WS_MALFORMED: &str = "aegis_ws_malformed_frames_total";
/// Gauge `{market, status}`.
pub const ORDERS: &str = "aegis_orders";
/// Gauge `{market}`.
pub const ORDERS_SENT: &str = "aegis_orders_sent";
/// Gauge `{market}`.
pub const RISK_MAX_ORDERS: &str = "aegis_risk_max_orders_per_day";
/// Gauge (the KRX engine's, KRW).
pub const RISK_LOSS_LIMIT: &str = "aegis_risk_daily_loss_limit_krw";
/// Gauge (the KRX engine's, KRW).
pub const RISK_LOSS: &str = "aegis_risk_daily_loss_krw";
/// Counter `{market, side}`.
pub const FILLS: &str = "aegis_fills_total";
/// Gauge (the KRX engine's, KRW).
pub const PNL_REALIZED: &str = "aegis_pnl_realized_krw";
/// Gauge (the KRX engine's, KRW).
pub const PNL_UNREALIZED: &str = "aegis_pnl_unrealized_krw";
/// Gauge (the US engine's, USD).
pub const RISK_LOSS_LIMIT_USD: &str = "aegis_risk_daily_loss_limit_usd";
/// Gauge (the US engine's, USD).
pub const RISK_LOSS_USD: &str = "aegis_risk_daily_loss_usd";
/// Gauge (the US engine's, USD).
pub const PNL_REALIZED_USD: &str = "aegis_pnl_realized_usd";
/// Gauge (the US engine's, USD).
pub const PNL_UNREALIZED_USD: &str = "aegis_pnl_unrealized_usd";
/// Gauge `{market, stage, status}`.
pub const STAGE_STATUS: &str = "aegis_stage_status";
/// Histogram `{market, stage, outcome}`.
pub const STAGE_DURATION: &str = "aegis_stage_duration_seconds";
/// Counter `{market, stage, to}`.
pub const STAGE_TRANSITIONS: &str = "aegis_stage_transitions_total";
/// Gauge `{market, stage}`.
pub const STAGE_LAST_TRANSITION: &str = "aegis_stage_last_transition_timestamp_seconds";
/// Counter `{kind}`.
pub const ALERTS: &str = "aegis_alerts_total";
/// Gauge `{channel}`.
pub const OUTBOX_PENDING: &str = "aegis_outbox_pending_messages";
/// Counter `{channel}`.
pub const OUTBOX_DELIVERED: &str = "aegis_outbox_delivered_total";
/// Counter `{channel, final}`.
pub const OUTBOX_FAILURES: &str = "aegis_outbox_delivery_failures_total";
/// Gauge `{lease}`.
pub const LEASE_HELD: &str = "aegis_lease_held";
/// Gauge `{lease}`.
pub const LEASE_EPOCH: &str = "aegis_lease_epoch";
/// Gauge `{lease, holder}`.
pub const LEASE_HOLDER: &str = "aegis_lease_holder_info";
/// Gauge.
pub const READY: &str = "aegis_ready";
/// Gauge (the standard process collector's name).
pub const RSS: &str = "process_resident_memory_bytes";
/// Gauge (the standard process collector's name).
pub const START_TIME: &str = "process_start_time_seconds";
/// Gauge `{version}`.
pub const BUILD_INFO: &str = "aegis_build_info";

/// Every family, for tests and the documentation check (a KRX-only day leaves the `_usd` ones out,
/// and a process without the pipeline lease the `aegis_lease_*` ones).
pub const ALL: &[&str] = &[
    REST_REQUESTS,
    REST_DURATION,
    REST_EGW00201,
    LIMITER_WAIT,
    LIMITER_QUEUE,
    BREAKER_STATE,
    BREAKER_OPENED,
    TOKEN_EXPIRY,
    TOKEN_REFRESH_AHEAD,
    TOKEN_ISSUED,
    WS_CONNECTED,
    WS_RECONNECTS,
    WS_REGISTRATIONS,
    WS_SINCE_LAST_FRAME,
    WS_FRAMES,
    WS_RECORDS,
    WS_MALFORMED,
    ORDERS,
    ORDERS_SENT,
    RISK_MAX_ORDERS,
    RISK_LOSS_LIMIT,
    RISK_LOSS,
    FILLS,
    PNL_REALIZED,
    PNL_UNREALIZED,
    RISK_LOSS_LIMIT_USD,
    RISK_LOSS_USD,
    PNL_REALIZED_USD,
    PNL_UNREALIZED_USD,
    STAGE_STATUS,
    STAGE_DURATION,
    STAGE_TRANSITIONS,
    STAGE_LAST_TRANSITION,
    ALERTS,
    OUTBOX_PENDING,
    OUTBOX_DELIVERED,
    OUTBOX_FAILURES,
    LEASE_HELD,
    LEASE_EPOCH,
    LEASE_HOLDER,
    READY,
    RSS,
    START_TIME,
    BUILD_INFO,
];
