//! The [`Broker`](crate::ports::Broker) port on the overseas (US) endpoints: the port's
//! market-neutral requests and answers mapped to and from the typed overseas calls of
//! `http/client/overseas.rs`, and its real-time registrations to the US channels.
//!
//! A US order's trading date is the New York date (KIS lists overseas orders by their
//! exchange-local date); prices are USD.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::America::New_York;
use rust_decimal::Decimal;

use super::broker::KisBroker;
use crate::domain::market::{
    AccountHolding, AccountSnapshot, BOOK_DEPTH, BookLevel, BrokerFill, BrokerOrder, CancelRequest,
    ModifyRequest, OrderAck, OrderBook, OrderRequest, Quote, Subscription,
};
use crate::domain::overseas::{
    Ticker, UsAmendRequest, UsBrokerOrder, UsExchange, UsOrderRequest, UsOrderType,
};
use crate::domain::price::{TickTable, tick_size};
use crate::domain::{Exchange, OrderType, Symbol};
use crate::ports::BrokerError;

/// Returns the New York date at `at`: the trading date of the US session running then.
pub fn us_trade_date(at: DateTime<Utc>) -> NaiveDate {
    crate::domain::sessions::trade_date_in(crate::domain::MarketRegion::Us, at)
}

fn ticker(symbol: &Symbol) -> Result<Ticker, BrokerError> {
    Ticker::new(symbol.as_str()).map_err(|e| BrokerError::Invalid { message: e.to_string() })
}

fn symbol(ticker: &Ticker) -> Result<Symbol, BrokerError> {
    Symbol::new(ticker.as_str()).map_err(|e| BrokerError::Invalid { message: e.to_string() })
}

fn us_exchange(exchange: Exchange) -> Result<UsExchange, BrokerError> {
    exchange.us().ok_or_else(|| BrokerError::Invalid { message: format!("{exchange} is not a US exchange") })
}

/// The US order types the port's types map to: limit only (the paper host takes nothing else, and
/// KIS offers no plain market order for US stocks).
fn us_order_type(order_type: OrderType) -> Result<UsOrderType, BrokerError> {
    match order_type {
        OrderType::Limit => Ok(UsOrderType::Limit),
        other => {
            Err(BrokerError::Invalid { message: format!("{other} orders are not offered for US stocks") })
        }
    }
}

/// Converts a listed US order. The overseas listings give no cancel flag: an order that is not
/// refused, has nothing open and is not wholly filled was canceled (or expired at the close).
fn broker_order(o: &UsBrokerOrder) -> Result<BrokerOrder, BrokerError> {
    let canceled = !o.rejected && o.unfilled_qty.is_zero() && o.filled_qty < o.qty;
    let midnight = New_York.from_local_datetime(&o.order_date.and_time(NaiveTime::MIN)).earliest();
    Ok(BrokerOrder {
        broker_order_no: o.broker_order_no.clone(),
        branch: String::new(),
        original_order_no: (!o.original_order_no.is_empty()).then(|| o.original_order_no.clone()),
        symbol: symbol(&o.ticker)?,
        side: o.side,
        order_type: Some(OrderType::Limit),
        qty: o.qty,
        price: o.price,
        filled_qty: o.filled_qty,
        avg_fill_price: o.avg_fill_price,
        filled_amount: o.filled_qty * o.avg_fill_price,
        remaining_qty: if o.rejected { Decimal::ZERO } else { o.unfilled_qty },
        canceled,
        rejected: o.rejected,
        ordered_at: o.received_at.or_else(|| midnight.map(|t| t.with_timezone(&Utc))).unwrap_or_default(),
    })
}

impl KisBroker {
    /// Returns the US exchange of `symbol` from the adapter's venues.
    fn venue(&self, symbol: &Symbol) -> Result<UsExchange, BrokerError> {
        self.us_venues.get(symbol).copied().ok_or_else(|| BrokerError::Invalid {
            message: format!("no US exchange is configured for {symbol}"),
        })
    }

    /// Maps a registration of the port to the channel of this adapter's market: on the US side
    /// quotes, trades and execution notices are the overseas channels.
    pub(super) fn registration(&self, subscription: Subscription) -> Result<Subscription, BrokerError> {
        Ok(match (self.region, subscription) {
            (crate::domain::MarketRegion::Us, Subscription::Quotes(s)) => {
                Subscription::UsQuotes(self.venue(&s)?.into(), s)
            }
            (crate::domain::MarketRegion::Us, Subscription::Trades(s)) => {
                Subscription::UsTrades(self.venue(&s)?.into(), s)
            }
            (crate::domain::MarketRegion::Us, Subscription::Executions) => Subscription::UsExecutions,
            (_, other) => other,
        })
    }

    fn today_us(&self) -> NaiveDate {
        us_trade_date(self.rest.clock().now())
    }

    fn ack(&self, broker_order_no: String, branch: String) -> OrderAck {
        OrderAck { broker_order_no, branch, at: self.rest.clock().now() }
    }

    pub(super) async fn us_account_snapshot(&self) -> Result<AccountSnapshot, BrokerError> {
        let holdings = self.rest.us_holdings().await?;
        let account = self.rest.us_account().await?;
        // The paper host answers only the summary (`output3`) correctly: the orderable USD comes
        // from the buying-power inquiry when an instrument is known, else from the deposit row.
        let orderable = match self.us_venues.iter().next() {
            Some((s, exchange)) => {
                let quote = self.rest.us_quote(*exchange, &ticker(s)?).await?;
                self.rest.us_buying_power(*exchange, &ticker(s)?, quote.last.max(Decimal::ONE)).await?.cash
            }
            None => account.usd_withdrawable.or(account.usd_deposit).unwrap_or_default(),
        };
        let mut lines = Vec::with_capacity(holdings.len());
        for h in &holdings {
            lines.push(AccountHolding {
                symbol: symbol(&h.ticker)?,
                name: String::new(),
                qty: h.qty,
                sellable_qty: h.sellable_qty,
                avg_price: h.avg_price,
                purchase_amount: h.qty * h.avg_price,
                current_price: h.price,
                eval_amount: h.qty * h.price,
                unrealized_pnl: h.unrealized_pnl,
            });
        }
        let purchase_total = lines.iter().map(|h| h.purchase_amount).sum();
        let eval_total = lines.iter().map(|h| h.eval_amount).sum();
        let unrealized_pnl_total = lines.iter().map(|h| h.unrealized_pnl).sum();
        Ok(AccountSnapshot {
            orderable_cash: orderable,
            cash_d0: account.usd_deposit.unwrap_or(orderable),
            cash_d2: account.usd_withdrawable.unwrap_or(orderable),
            holdings: lines,
            purchase_total,
            eval_total,
            unrealized_pnl_total,
            account_total: account.total_assets,
            net_asset: account.total_assets,
        })
    }

    pub(super) async fn us_open_orders(&self) -> Result<Vec<BrokerOrder>, BrokerError> {
        self.rest.us_open_orders().await?.iter().map(broker_order).collect()
    }

    pub(super) async fn us_todays_orders(&self) -> Result<Vec<BrokerOrder>, BrokerError> {
        let today = self.today_us();
        self.rest.us_orders(today, today).await?.iter().map(broker_order).collect()
    }

    pub(super) async fn us_todays_fills(&self) -> Result<Vec<BrokerFill>, BrokerError> {
        Ok(self.us_todays_orders().await?.iter().filter_map(BrokerFill::from_order).collect())
    }

    pub(super) async fn us_place_order(&self, order: &OrderRequest) -> Result<OrderAck, BrokerError> {
        let request = UsOrderRequest {
            exchange: us_exchange(order.exchange)?,
            ticker: ticker(&order.symbol)?,
            side: order.side,
            order_type: us_order_type(order.order_type)?,
            qty: order.qty,
            price: order.price,
        };
        let ack = self.rest.us_place_order(&request).await?;
        Ok(self.ack(ack.broker_order_no, ack.branch))
    }

    /// The open quantity of a resting order (an overseas modify or cancel names it).
    async fn open_qty(&self, broker_order_no: &str) -> Result<Decimal, BrokerError> {
        self.rest
            .us_open_orders()
            .await?
            .into_iter()
            .find(|o| o.broker_order_no == broker_order_no)
            .map(|o| o.unfilled_qty)
            .ok_or_else(|| BrokerError::Rejected {
                msg_cd: "NOT_OPEN".into(),
                msg1: format!("order {broker_order_no} has nothing open"),
            })
    }

    async fn amend(
        &self,
        symbol: &Symbol,
        exchange: Exchange,
        no: &str,
        qty: Option<Decimal>,
        new_price: Option<Decimal>,
    ) -> Result<OrderAck, BrokerError> {
        let qty = match qty {
            Some(q) => q,
            None => self.open_qty(no).await?,
        };
        let amend = UsAmendRequest {
            exchange: us_exchange(exchange)?,
            ticker: ticker(symbol)?,
            broker_order_no: no.to_owned(),
            qty,
            new_price,
        };
        let ack = self.rest.us_amend_order(&amend).await?;
        Ok(self.ack(ack.broker_order_no, ack.branch))
    }

    pub(super) async fn us_modify_order(&self, m: &ModifyRequest) -> Result<OrderAck, BrokerError> {
        us_order_type(m.order_type)?;
        self.amend(&m.symbol, m.exchange, &m.broker_order_no, m.qty, Some(m.price)).await
    }

    pub(super) async fn us_cancel_order(&self, c: &CancelRequest) -> Result<OrderAck, BrokerError> {
        self.amend(&c.symbol, c.exchange, &c.broker_order_no, c.qty, None).await
    }

    /// A US quote: the price inquiry gives the last price, the change and the volume (no daily
    /// band: US stocks have none, so the limits are zero).
    pub(super) async fn us_quote(&self, symbol: &Symbol) -> Result<Quote, BrokerError> {
        let exchange = self.venue(symbol)?;
        let q = self.rest.us_quote(exchange, &ticker(symbol)?).await?;
        Ok(Quote {
            symbol: symbol.clone(),
            exchange: exchange.into(),
            price: q.last,
            change: q.diff,
            change_rate: q.rate,
            open: q.last,
            high: q.last,
            low: q.last,
            volume: q.volume,
            upper_limit: Decimal::ZERO,
            lower_limit: Decimal::ZERO,
            base_price: q.base,
            tick_size: tick_size(q.last, TickTable::UsEquity),
            halted: false,
        })
    }

    /// A US book snapshot: level 1 of the free (Nasdaq market center) book, the other levels
    /// empty; no auction price.
    pub(super) async fn us_order_book(&self, symbol: &Symbol) -> Result<OrderBook, BrokerError> {
        let book = self.rest.us_asking_price(self.venue(symbol)?, &ticker(symbol)?).await?;
        let mut asks = [BookLevel::default(); BOOK_DEPTH];
        let mut bids = [BookLevel::default(); BOOK_DEPTH];
        asks[0] = BookLevel { price: book.top.ask, qty: book.top.ask_qty };
        bids[0] = BookLevel { price: book.top.bid, qty: book.top.bid_qty };
        Ok(OrderBook {
            symbol: symbol.clone(),
            at: book.top.at,
            asks,
            bids,
            total_ask_qty: book.total_ask_qty,
            total_bid_qty: book.total_bid_qty,
            expected_price: Decimal::ZERO,
        })
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::Side;

    fn listed(qty: Decimal, filled: Decimal, unfilled: Decimal, rejected: bool) -> UsBrokerOrder {
        UsBrokerOrder {
            order_date: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
            broker_order_no: "0000000007".into(),
            original_order_no: String::new(),
            ticker: Ticker::new("AAPL").unwrap(),
            side: Side::Buy,
            qty,
            filled_qty: filled,
            unfilled_qty: unfilled,
            price: dec!(187.23),
            avg_fill_price: if filled.is_zero() { Decimal::ZERO } else { dec!(187.2) },
            exchange: UsExchange::Nasdaq,
            status: String::new(),
            rejected,
            received_at: None,
        }
    }

    #[test]
    fn listed_orders_map_with_their_end() {
        let open = broker_order(&listed(dec!(10), dec!(4), dec!(6), false)).unwrap();
        assert!(!open.canceled && !open.rejected);
        assert_eq!((open.remaining_qty, open.filled_amount), (dec!(6), dec!(748.8)));
        assert_eq!(open.symbol.as_str(), "AAPL");
        assert_eq!(open.ordered_at.to_rfc3339(), "2026-12-04T05:00:00+00:00", "midnight in New York");
        let filled = broker_order(&listed(dec!(10), dec!(10), dec!(0), false)).unwrap();
        assert!(!filled.canceled);
        let canceled = broker_order(&listed(dec!(10), dec!(4), dec!(0), false)).unwrap();
        assert!(canceled.canceled);
        let refused = broker_order(&listed(dec!(10), dec!(0), dec!(10), true)).unwrap();
        assert!(refused.rejected && !refused.canceled);
        assert_eq!(refused.remaining_qty, Decimal::ZERO);
    }

    #[test]
    fn the_us_trade_date_is_new_yorks() {
        // 23:40 KST on Monday 7 December = 09:40 in New York the same day (winter).
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 14, 40, 0).unwrap();
        assert_eq!(us_trade_date(at), NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
        // 05:30 KST on Tuesday is still Monday's session in New York.
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 20, 30, 0).unwrap();
        assert_eq!(us_trade_date(at), NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
    }

    #[test]
    fn only_limit_orders_map() {
        assert_eq!(us_order_type(OrderType::Limit).unwrap(), UsOrderType::Limit);
        assert!(us_order_type(OrderType::Market).is_err());
        assert!(us_exchange(Exchange::Krx).is_err());
        assert_eq!(us_exchange(Exchange::Nyse).unwrap(), UsExchange::Nyse);
    }
}
