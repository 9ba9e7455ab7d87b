//! `aegis sim` command-line options and the runner that serves until Ctrl-C / SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;

use super::faults::FaultCommand;
use super::market::Activity;
use super::us::{UsConfig, UsHoldingSeed};
use super::{Sim, SimConfig};
use crate::domain::{AccountNo, Mode};

/// Options of `aegis sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to serve REST and WebSocket on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Behave like the live (T… TR ids, 20 req/s) or the paper (V… TR ids, 2 req/s) host.
    #[arg(long, default_value = "paper", value_parser = parse_mode)]
    pub mode: Mode,
    /// Account to serve as CANO-ACNT_PRDT_CD (repeatable; default 50000000-01).
    #[arg(long = "account", value_parser = parse_account)]
    pub accounts: Vec<AccountNo>,
    /// HTS id that receives execution notices (the notice tr_key).
    #[arg(long, default_value = "simuser")]
    pub hts_id: String,
    /// Initial cash per account in KRW.
    #[arg(long, default_value = "100000000")]
    pub cash: Decimal,
    /// Comma-separated instrument codes (default: the built-in catalog).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Seed of the market process, credentials and faults.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Clock speed factor (e.g. 195 plays 09:00-15:30 in two minutes; 0 freezes the clock).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Simulated start time, RFC 3339 (default: now, or the next trading day's 09:00 KST).
    #[arg(long)]
    pub start: Option<DateTime<FixedOffset>>,
    /// Accept only this app key (default: any 36-char key).
    #[arg(long, env = "AEGIS_SIM_APP_KEY", hide_env_values = true)]
    pub app_key: Option<String>,
    /// Accept only this app secret (default: any 180-char secret).
    #[arg(long, env = "AEGIS_SIM_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,
    /// REST requests per second per app key (default 20 live, 2 paper).
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Commission rate charged on every fill.
    #[arg(long, default_value = "0.00015")]
    pub commission_rate: Decimal,
    /// Tax rate charged on sell fills.
    #[arg(long, default_value = "0.0020")]
    pub sell_tax_rate: Decimal,
    /// Seconds between server PINGPONG messages.
    #[arg(long, default_value_t = 60.0)]
    pub pingpong_secs: f64,
    /// Fault: close every WebSocket session every N simulated seconds.
    #[arg(long)]
    pub fault_ws_close_every: Option<u64>,
    /// Fault: delay every REST response by N milliseconds.
    #[arg(long)]
    pub fault_delay_ms: Option<u64>,
    /// Fault: answer the first N REST requests with HTTP 500 (EGW00203).
    #[arg(long)]
    pub fault_rest_5xx: Option<u32>,
    /// Fault: answer the first N REST requests with EGW00201.
    #[arg(long)]
    pub fault_rate_limit_storm: Option<u32>,
    /// Fault: any fault command as admin-API JSON, e.g. '{"fault":"notice_duplicate","count":2}' (repeatable).
    #[arg(long = "fault", value_parser = parse_fault)]
    pub faults: Vec<FaultCommand>,
    /// Market activity of one symbol as SYMBOL=TRADES[:QUOTES] per second, e.g. 005930=3:8;
    /// QUOTES defaults to twice TRADES (repeatable; default by market value: 3:8 for the largest
    /// caps, 1:3 mid, 0.35:1 others).
    #[arg(long = "activity", value_parser = parse_activity)]
    pub activity: Vec<(String, Activity)>,
    /// Number orders in one sequence across days instead of restarting at 0000000001 every
    /// business day (KIS order numbers are unique only within their day).
    #[arg(long)]
    pub continuous_order_numbers: bool,
    /// Comma-separated US tickers (default: AAPL, MSFT, NVDA, TSLA on Nasdaq, KO, JPM on NYSE,
    /// SPY on Amex; unknown tickers are synthetic Nasdaq names).
    #[arg(long, value_delimiter = ',')]
    pub us_symbols: Vec<String>,
    /// Initial USD deposit per account.
    #[arg(long, default_value = "100000")]
    pub usd_cash: Decimal,
    /// A US position every account starts with, TICKER=QTY or TICKER=QTY@AVG_USD (repeatable;
    /// default none).
    #[arg(long = "us-holding", value_parser = parse_us_holding)]
    pub us_holdings: Vec<UsHoldingSeed>,
    /// Commission rate charged on every US fill.
    #[arg(long, default_value = "0.0025")]
    pub us_commission_rate: Decimal,
    /// Fee rate charged on US sell fills.
    #[arg(long, default_value = "0")]
    pub us_sell_fee_rate: Decimal,
    /// KRW per USD for the KRW columns of the overseas inquiries.
    #[arg(long, default_value = "1400")]
    pub usd_krw: Decimal,
    /// Paper TR id of a US sell order (documented VTTT1001U; the vendor code computes VTTT1006U).
    #[arg(long, default_value = "VTTT1001U")]
    pub us_paper_sell_tr: String,
    /// Serve overseas inquire-asking-price (HHDFS76200100) on the paper host too.
    #[arg(long)]
    pub us_paper_asking_price: bool,
    /// Accept HDFSCNT0 / HDFSASP0 on the paper host too (documented live only).
    #[arg(long)]
    pub us_paper_realtime: bool,
    /// Levels of the US book: 1 (17-field HDFSASP0, the vendor samples) or 10 (71 fields).
    #[arg(long, default_value_t = 1)]
    pub us_book_levels: usize,
    /// Send ctx_area_fk200 / ctx_area_nk200 without right-padding them to 200 characters.
    #[arg(long)]
    pub us_ctx_unpadded: bool,
    /// Send overseas inquire-balance output2 as a one-element array instead of an object.
    #[arg(long)]
    pub us_balance_output2_array: bool,
    /// Answer overseas inquire-present-balance output3 in KRW even when WCRC_FRCR_DVSN_CD is 02.
    #[arg(long)]
    pub us_present_output3_krw: bool,
    /// Fields per H0GSCNI0/H0GSCNI9 record: 25 (current), 24 or 21 (older layouts).
    #[arg(long, default_value_t = 25)]
    pub us_notice_fields: usize,
    /// Stamp US order times (ORD_TMD, ord_tmd, STCK_CNTG_HOUR) in New York time instead of KST.
    #[arg(long)]
    pub us_local_times: bool,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse::<Mode>().map_err(|e| e.to_string())
}

fn parse_account(s: &str) -> Result<AccountNo, String> {
    AccountNo::parse(s).map_err(|e| e.to_string())
}

fn parse_activity(s: &str) -> Result<(String, Activity), String> {
    let (symbol, rates) =
        s.split_once('=').ok_or_else(|| format!("expected SYMBOL=TRADES[:QUOTES], got {s:?}"))?;
    Ok((symbol.trim().to_owned(), Activity::parse(rates)?))
}

fn parse_us_holding(s: &str) -> Result<UsHoldingSeed, String> {
    UsHoldingSeed::parse(s)
}

fn parse_fault(s: &str) -> Result<FaultCommand, String> {
    serde_json::from_str(s).map_err(|e| format!("invalid fault JSON: {e}"))
}

impl SimArgs {
    /// Converts the options into a [`SimConfig`].
    pub fn into_config(self) -> SimConfig {
        let mut cfg = SimConfig {
            listen: self.listen,
            mode: self.mode,
            hts_id: self.hts_id,
            cash: self.cash,
            seed: self.seed,
            speed: self.speed,
            start: self.start,
            app_key: self.app_key,
            app_secret: self.app_secret,
            rate_limit: self.rate_limit,
            commission_rate: self.commission_rate,
            sell_tax_rate: self.sell_tax_rate,
            pingpong_interval: Duration::from_secs_f64(self.pingpong_secs.clamp(0.01, 86_400.0)),
            daily_order_numbers: !self.continuous_order_numbers,
            activity: self.activity.into_iter().collect(),
            ..SimConfig::default()
        };
        let us_default = UsConfig::default();
        cfg.us = UsConfig {
            symbols: if self.us_symbols.is_empty() {
                us_default.symbols.clone()
            } else {
                self.us_symbols
                    .into_iter()
                    .map(|s| s.trim().to_ascii_uppercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            },
            cash: self.usd_cash,
            holdings: self.us_holdings,
            commission_rate: self.us_commission_rate,
            sell_fee_rate: self.us_sell_fee_rate,
            usd_krw: self.usd_krw,
            paper_sell_tr: self.us_paper_sell_tr,
            paper_asking_price: self.us_paper_asking_price,
            paper_realtime: self.us_paper_realtime,
            book_levels: self.us_book_levels,
            pad_ctx200: !self.us_ctx_unpadded,
            balance_output2_array: self.us_balance_output2_array,
            present_output3_krw: self.us_present_output3_krw,
            notice_fields: self.us_notice_fields,
            local_times: self.us_local_times,
            ..us_default
        };
        if !self.accounts.is_empty() {
            cfg.accounts = self.accounts;
        }
        if !self.symbols.is_empty() {
            cfg.symbols =
                self.symbols.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        }
        let mut faults = Vec::new();
        if let Some(every) = self.fault_ws_close_every {
            faults.push(FaultCommand::WsClose { at: None, every_secs: Some(every) });
        }
        if let Some(ms) = self.fault_delay_ms {
            faults.push(FaultCommand::Delay { ms });
        }
        if let Some(count) = self.fault_rest_5xx {
            faults.push(FaultCommand::Rest5xx { count, status: None });
        }
        if let Some(count) = self.fault_rate_limit_storm {
            faults.push(FaultCommand::RateLimitStorm { count });
        }
        faults.extend(self.faults);
        cfg.faults = faults;
        cfg
    }
}

/// Starts the simulator, prints `aegis sim listening rest=http://ADDR ws=ws://ADDR` once ready
/// and serves until Ctrl-C or SIGTERM.
///
/// # Errors
/// Returns an error when the configuration is invalid or the address cannot be bound.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let handle = Sim::start(args.into_config()).await.context("starting the simulator")?;
    println!("aegis sim listening rest={} ws={}", handle.rest_url, handle.ws_url);
    shutdown_signal().await;
    handle.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    #[test]
    fn parses_every_option() {
        let cli = Cli::try_parse_from([
            "aegis",
            "--listen",
            "127.0.0.1:0",
            "--mode",
            "live",
            "--account",
            "12345678-01",
            "--account",
            "12345678-22",
            "--hts-id",
            "me",
            "--cash",
            "5000000",
            "--symbols",
            "005930,000660",
            "--seed",
            "7",
            "--speed",
            "195",
            "--start",
            "2026-03-03T09:00:00+09:00",
            "--rate-limit",
            "5",
            "--fault-ws-close-every",
            "30",
            "--fault",
            r#"{"fault":"malformed_frame"}"#,
            "--activity",
            "000660=2.5:6",
            "--continuous-order-numbers",
        ])
        .unwrap();
        let cfg = cli.sim.into_config();
        assert_eq!(cfg.mode, Mode::Live);
        assert_eq!(cfg.accounts.len(), 2);
        assert_eq!(cfg.symbols, vec!["005930", "000660"]);
        assert_eq!(cfg.rate_limit(), 5);
        assert_eq!(cfg.faults.len(), 2);
        assert_eq!(cfg.activity.get("000660"), Some(&Activity { trades_per_sec: 2.5, quotes_per_sec: 6.0 }));
        assert!(!cfg.daily_order_numbers);
        assert_eq!(cfg.us, UsConfig::default(), "US defaults");
        let us = Cli::try_parse_from([
            "aegis",
            "--us-symbols",
            "aapl,KO",
            "--usd-cash",
            "2500.50",
            "--us-holding",
            "AAPL=3@150",
            "--us-paper-sell-tr",
            "VTTT1006U",
            "--us-paper-realtime",
            "--us-book-levels",
            "10",
            "--us-ctx-unpadded",
            "--us-notice-fields",
            "24",
        ])
        .unwrap()
        .sim
        .into_config();
        assert_eq!(us.us.symbols, vec!["AAPL", "KO"]);
        assert_eq!(us.us.cash, Decimal::new(250_050, 2));
        assert_eq!(us.us.holdings.len(), 1);
        assert_eq!(us.us.paper_sell_tr, "VTTT1006U");
        assert!(us.us.paper_realtime && !us.us.pad_ctx200);
        assert_eq!((us.us.book_levels, us.us.notice_fields), (10, 24));
        assert!(Cli::try_parse_from(["aegis", "--us-holding", "AAPL"]).is_err());
        assert!(Cli::try_parse_from(["aegis"]).unwrap().sim.into_config().daily_order_numbers);
        assert!(Cli::try_parse_from(["aegis", "--account", "123"]).is_err());
        assert!(Cli::try_parse_from(["aegis", "--activity", "005930"]).is_err());
        assert!(Cli::try_parse_from(["aegis", "--activity", "005930=fast"]).is_err());
    }
}
