//! An in-memory [`Broker`] for pure service-layer tests: records every call, accepts, rejects
//! or fills orders as configured, and emits the matching notices and fill notices on its
//! channels. A fill can also be lost with the socket ([`FakeBroker::fill_unnoticed`]) and the
//! socket "reconnected" ([`FakeBroker::reconnect`]), as the real feed reports it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tokio::sync::mpsc;

use super::{Broker, BrokerError, BrokerFuture, BrokerStreams, Clock};
use crate::domain::Symbol;
use crate::domain::market::{
    AccountSnapshot, BrokerFill, BrokerOrder, CancelRequest, DailyBar, ExecutionEvent, FeedStatus,
    FillNotice, Holiday, MarketBatch, MarketEvent, ModifyRequest, NoticeKind, OrderAck, OrderBook,
    OrderNotice, OrderRequest, Quote, Subscription, to_kst,
};

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeCall {
    /// `authenticate`.
    Authenticate,
    /// `approval_key`.
    ApprovalKey,
    /// `account`.
    Account,
    /// `open_orders`.
    OpenOrders,
    /// `todays_orders`.
    TodaysOrders,
    /// `todays_fills`.
    TodaysFills,
    /// `place_order`.
    Place(OrderRequest),
    /// `modify_order`.
    Modify(ModifyRequest),
    /// `cancel_order`.
    Cancel(CancelRequest),
    /// `quote`.
    Quote(Symbol),
    /// `order_book`.
    OrderBook(Symbol),
    /// `daily_bars`.
    DailyBars(Symbol),
    /// `holidays`.
    Holidays(NaiveDate),
    /// `subscribe`.
    Subscribe(Subscription),
    /// `unsubscribe`.
    Unsubscribe(Subscription),
    /// `connect`.
    Connect,
    /// `disconnect`.
    Disconnect,
}

/// How the fake treats accepted orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FillPolicy {
    /// Orders rest until [`FakeBroker::fill`] is called.
    #[default]
    Rest,
    /// Orders fill completely at their price right after acceptance.
    Immediate,
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<FakeCall>,
    orders: Vec<BrokerOrder>,
    next_no: u64,
    policy: FillPolicy,
    fail_next: Option<BrokerError>,
    account: Option<AccountSnapshot>,
    quotes: HashMap<Symbol, Quote>,
    books: HashMap<Symbol, OrderBook>,
    bars: Vec<DailyBar>,
    holidays: Vec<Holiday>,
    subscriptions: BTreeSet<Subscription>,
    /// The correlation id in force at each order call (place, modify, cancel), in order.
    correlations: Vec<Option<String>>,
}

/// The in-memory broker.
#[derive(Debug)]
pub struct FakeBroker {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    market_tx: mpsc::Sender<MarketBatch>,
    exec_tx: mpsc::UnboundedSender<ExecutionEvent>,
    streams: Mutex<Option<BrokerStreams>>,
}

const BRANCH: &str = "06010";

impl FakeBroker {
    /// Returns an empty fake using `clock` for timestamps.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let (market_tx, market) = mpsc::channel(1024);
        let (exec_tx, executions) = mpsc::unbounded_channel();
        Self {
            clock,
            state: Mutex::new(State::default()),
            market_tx,
            exec_tx,
            streams: Mutex::new(Some(BrokerStreams { market, executions })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Returns every call so far, in order.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.with(|s| s.calls.clone())
    }

    /// Makes the next call fail with `err`.
    pub fn fail_next(&self, err: BrokerError) {
        self.with(|s| s.fail_next = Some(err));
    }

    /// Sets the fill policy.
    pub fn set_fill_policy(&self, policy: FillPolicy) {
        self.with(|s| s.policy = policy);
    }

    /// Sets the account snapshot returned by `account`.
    pub fn set_account(&self, account: AccountSnapshot) {
        self.with(|s| s.account = Some(account));
    }

    /// Sets the quote returned for its symbol.
    pub fn set_quote(&self, quote: Quote) {
        self.with(|s| s.quotes.insert(quote.symbol.clone(), quote));
    }

    /// Sets the order book returned for its symbol.
    pub fn set_order_book(&self, book: OrderBook) {
        self.with(|s| s.books.insert(book.symbol.clone(), book));
    }

    /// Sets the daily bars and holidays returned by the chart and calendar calls.
    pub fn set_history(&self, bars: Vec<DailyBar>, holidays: Vec<Holiday>) {
        self.with(|s| {
            s.bars = bars;
            s.holidays = holidays;
        });
    }

    /// Publishes a market event to the market channel (as a batch of one).
    pub fn push_market(&self, event: MarketEvent) {
        let _ = self.market_tx.try_send(vec![event]);
    }

    /// Returns the active subscriptions.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.with(|s| s.subscriptions.iter().cloned().collect())
    }

    fn note_correlation(&self) {
        let cid = crate::ports::correlation::current().map(|c| c.to_string());
        self.with(|s| s.correlations.push(cid));
    }

    /// Returns the correlation id in force at each order call (place, modify, cancel), in order:
    /// what a real client writes into the call's log line.
    pub fn order_correlations(&self) -> Vec<Option<String>> {
        self.with(|s| s.correlations.clone())
    }

    /// Fills `qty` of a resting order at `price` and emits its fill notice.
    ///
    /// # Errors
    /// Returns [`BrokerError::Rejected`] when the order is unknown or `qty` exceeds its remainder.
    pub fn fill(
        &self,
        broker_order_no: &str,
        qty: Decimal,
        price: Decimal,
    ) -> Result<FillNotice, BrokerError> {
        let fill = self.fill_unnoticed(broker_order_no, qty, price)?;
        let _ = self.exec_tx.send(ExecutionEvent::Fill(fill.clone()));
        Ok(fill)
    }

    /// Fills `qty` of a resting order at `price` without emitting the notice, as when the notice
    /// is lost with the socket: only the broker's order state (`todays_orders`) shows the fill.
    /// Returns the notice that was lost.
    ///
    /// # Errors
    /// As [`FakeBroker::fill`].
    pub fn fill_unnoticed(
        &self,
        broker_order_no: &str,
        qty: Decimal,
        price: Decimal,
    ) -> Result<FillNotice, BrokerError> {
        let now = to_kst(self.clock.now());
        self.with(|s| {
            let order = s
                .orders
                .iter_mut()
                .find(|o| o.broker_order_no == broker_order_no)
                .ok_or_else(|| reject("APBK0000", "unknown order"))?;
            if qty <= Decimal::ZERO || qty > order.remaining_qty {
                return Err(reject("APBK1359", "fill exceeds remaining quantity"));
            }
            order.filled_amount += qty * price;
            order.filled_qty += qty;
            order.remaining_qty -= qty;
            order.avg_fill_price = order.filled_amount / order.filled_qty;
            Ok(FillNotice {
                trade_date: order.trade_date(),
                exec_time: now.time(),
                broker_order_no: order.broker_order_no.clone(),
                branch: order.branch.clone(),
                symbol: order.symbol.clone(),
                side: order.side,
                qty,
                price,
            })
        })
    }

    /// Reports a socket drop and reconnect as the real feed does: `Disconnected`, `Connected`
    /// with the active registrations, then `Reconnected` (notices sent meanwhile are lost).
    pub fn reconnect(&self, reason: &str) {
        let registrations = self.with(|s| s.subscriptions.len());
        for status in [
            FeedStatus::Disconnected { reason: reason.into() },
            FeedStatus::Connected { registrations },
            FeedStatus::Reconnected,
        ] {
            let _ = self.exec_tx.send(ExecutionEvent::Status(status));
        }
    }

    fn begin(&self, call: FakeCall) -> Result<(), BrokerError> {
        self.with(|s| {
            s.calls.push(call);
            s.fail_next.take().map_or(Ok(()), Err)
        })
    }

    fn notice(&self, kind: NoticeKind, order: &BrokerOrder, original: Option<String>) {
        let _ = self.exec_tx.send(ExecutionEvent::Notice(OrderNotice {
            kind,
            trade_date: order.trade_date(),
            broker_order_no: order.broker_order_no.clone(),
            branch: order.branch.clone(),
            original_order_no: original,
            symbol: order.symbol.clone(),
            side: order.side,
            qty: order.qty,
            price: order.price,
            at: self.clock.now(),
        }));
    }

    fn next_no(s: &mut State) -> String {
        s.next_no += 1;
        format!("{:010}", s.next_no)
    }

    fn do_place(&self, req: &OrderRequest) -> Result<OrderAck, BrokerError> {
        self.note_correlation();
        self.begin(FakeCall::Place(req.clone()))?;
        if req.qty <= Decimal::ZERO {
            return Err(reject("APBK0000", "quantity must be positive"));
        }
        let at = self.clock.now();
        let (order, policy) = self.with(|s| {
            let order = BrokerOrder {
                broker_order_no: Self::next_no(s),
                branch: BRANCH.into(),
                original_order_no: None,
                symbol: req.symbol.clone(),
                side: req.side,
                order_type: Some(req.order_type),
                qty: req.qty,
                price: req.price,
                filled_qty: Decimal::ZERO,
                avg_fill_price: Decimal::ZERO,
                filled_amount: Decimal::ZERO,
                remaining_qty: req.qty,
                canceled: false,
                rejected: false,
                ordered_at: at,
            };
            s.orders.push(order.clone());
            (order, s.policy)
        });
        self.notice(NoticeKind::Accepted, &order, None);
        if policy == FillPolicy::Immediate {
            self.fill(&order.broker_order_no, order.qty, order.price)?;
        }
        Ok(OrderAck { broker_order_no: order.broker_order_no, branch: order.branch, at })
    }

    fn do_amend(&self, no: &str, call: FakeCall, price: Option<Decimal>) -> Result<OrderAck, BrokerError> {
        let cancel = matches!(call, FakeCall::Cancel(_));
        self.note_correlation();
        self.begin(call)?;
        let at = self.clock.now();
        let order = self.with(|s| {
            let new_no = Self::next_no(s);
            let order = s
                .orders
                .iter_mut()
                .find(|o| o.broker_order_no == no && o.remaining_qty > Decimal::ZERO && !o.canceled)
                .ok_or_else(|| reject("APBK1359", "no open quantity to modify or cancel"))?;
            if let Some(p) = price {
                order.price = p;
            } else {
                order.canceled = true;
                order.remaining_qty = Decimal::ZERO;
            }
            let mut receipt = order.clone();
            receipt.broker_order_no = new_no;
            Ok::<_, BrokerError>(receipt)
        })?;
        let kind = if cancel { NoticeKind::CancelAccepted } else { NoticeKind::ModifyAccepted };
        self.notice(kind, &order, Some(no.to_owned()));
        Ok(OrderAck { broker_order_no: order.broker_order_no, branch: order.branch, at })
    }

    fn lookup<T: Clone>(
        &self,
        call: FakeCall,
        f: impl FnOnce(&State) -> Option<T>,
    ) -> Result<T, BrokerError> {
        self.begin(call)?;
        self.with(|s| f(s))
            .ok_or_else(|| BrokerError::Api { msg_cd: "FAKE0001".into(), msg1: "not set".into() })
    }
}

fn reject(msg_cd: &str, msg1: &str) -> BrokerError {
    BrokerError::Rejected { msg_cd: msg_cd.into(), msg1: msg1.into() }
}

impl Broker for FakeBroker {
    fn authenticate(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async move { self.begin(FakeCall::Authenticate) })
    }

    fn approval_key(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async move { self.begin(FakeCall::ApprovalKey) })
    }

    fn account(&self) -> BrokerFuture<'_, AccountSnapshot> {
        Box::pin(async move { self.lookup(FakeCall::Account, |s| s.account.clone()) })
    }

    fn open_orders(&self) -> BrokerFuture<'_, Vec<BrokerOrder>> {
        Box::pin(async move {
            self.begin(FakeCall::OpenOrders)?;
            Ok(self.with(|s| s.orders.iter().filter(|o| o.remaining_qty > Decimal::ZERO).cloned().collect()))
        })
    }

    fn todays_orders(&self) -> BrokerFuture<'_, Vec<BrokerOrder>> {
        Box::pin(async move {
            self.begin(FakeCall::TodaysOrders)?;
            Ok(self.with(|s| s.orders.clone()))
        })
    }

    fn todays_fills(&self) -> BrokerFuture<'_, Vec<BrokerFill>> {
        Box::pin(async move {
            self.begin(FakeCall::TodaysFills)?;
            Ok(self.with(|s| s.orders.iter().filter_map(BrokerFill::from_order).collect()))
        })
    }

    fn place_order<'a>(&'a self, order: &'a OrderRequest) -> BrokerFuture<'a, OrderAck> {
        Box::pin(async move { self.do_place(order) })
    }

    fn modify_order<'a>(&'a self, request: &'a ModifyRequest) -> BrokerFuture<'a, OrderAck> {
        Box::pin(async move {
            self.do_amend(&request.broker_order_no, FakeCall::Modify(request.clone()), Some(request.price))
        })
    }

    fn cancel_order<'a>(&'a self, request: &'a CancelRequest) -> BrokerFuture<'a, OrderAck> {
        Box::pin(
            async move { self.do_amend(&request.broker_order_no, FakeCall::Cancel(request.clone()), None) },
        )
    }

    fn quote<'a>(&'a self, symbol: &'a Symbol) -> BrokerFuture<'a, Quote> {
        Box::pin(
            async move { self.lookup(FakeCall::Quote(symbol.clone()), |s| s.quotes.get(symbol).cloned()) },
        )
    }

    fn order_book<'a>(&'a self, symbol: &'a Symbol) -> BrokerFuture<'a, OrderBook> {
        Box::pin(
            async move { self.lookup(FakeCall::OrderBook(symbol.clone()), |s| s.books.get(symbol).cloned()) },
        )
    }

    fn daily_bars<'a>(
        &'a self,
        symbol: &'a Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> BrokerFuture<'a, Vec<DailyBar>> {
        Box::pin(async move {
            self.begin(FakeCall::DailyBars(symbol.clone()))?;
            Ok(self.with(|s| {
                s.bars
                    .iter()
                    .filter(|b| &b.symbol == symbol && b.date >= from && b.date <= to)
                    .cloned()
                    .collect()
            }))
        })
    }

    fn holidays(&self, from: NaiveDate) -> BrokerFuture<'_, Vec<Holiday>> {
        Box::pin(async move {
            self.begin(FakeCall::Holidays(from))?;
            Ok(self.with(|s| s.holidays.iter().filter(|h| h.date >= from).copied().collect()))
        })
    }

    fn subscribe(&self, subscription: Subscription) -> BrokerFuture<'_, ()> {
        Box::pin(async move {
            self.begin(FakeCall::Subscribe(subscription.clone()))?;
            self.with(|s| s.subscriptions.insert(subscription));
            Ok(())
        })
    }

    fn unsubscribe(&self, subscription: Subscription) -> BrokerFuture<'_, ()> {
        Box::pin(async move {
            self.begin(FakeCall::Unsubscribe(subscription.clone()))?;
            self.with(|s| s.subscriptions.remove(&subscription));
            Ok(())
        })
    }

    fn take_streams(&self) -> Option<BrokerStreams> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn connect(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async move { self.begin(FakeCall::Connect) })
    }

    fn disconnect(&self) -> BrokerFuture<'_, ()> {
        Box::pin(async move {
            self.begin(FakeCall::Disconnect)?;
            self.with(|s| s.subscriptions.clear());
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::{Exchange, OrderType, Side};
    use crate::ports::FakeClock;

    fn broker() -> FakeBroker {
        FakeBroker::new(Arc::new(FakeClock::new(DateTime::from_timestamp(1_700_000_000, 0).unwrap())))
    }

    fn ack_date(ack: &OrderAck) -> NaiveDate {
        to_kst(ack.at).date_naive()
    }

    fn buy(qty: Decimal) -> OrderRequest {
        OrderRequest {
            symbol: Symbol::new("005930").unwrap(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            qty,
            price: dec!(70000),
            exchange: Exchange::Krx,
        }
    }

    #[tokio::test]
    async fn places_fills_and_reports_through_channels() {
        let b = broker();
        let mut streams = b.take_streams().unwrap();
        assert!(b.take_streams().is_none());
        let ack = b.place_order(&buy(dec!(10))).await.unwrap();
        assert_eq!(ack.broker_order_no, "0000000001");
        b.fill(&ack.broker_order_no, dec!(4), dec!(70000)).unwrap();
        assert!(b.fill(&ack.broker_order_no, dec!(7), dec!(70000)).is_err());
        let Some(ExecutionEvent::Notice(n)) = streams.executions.recv().await else { panic!("notice") };
        assert_eq!(n.kind, NoticeKind::Accepted);
        let Some(ExecutionEvent::Fill(f)) = streams.executions.recv().await else { panic!("fill") };
        assert_eq!((f.qty, f.price, f.trade_date), (dec!(4), dec!(70000), ack_date(&ack)));
        // A fill lost with the socket shows only in the order state; a reconnect is reported.
        b.fill_unnoticed(&ack.broker_order_no, dec!(1), dec!(70000)).unwrap();
        b.reconnect("eof");
        let statuses: Vec<_> = std::iter::from_fn(|| streams.executions.try_recv().ok()).collect();
        assert!(statuses.iter().all(|e| matches!(e, ExecutionEvent::Status(_))), "{statuses:?}");
        assert_eq!(statuses.last(), Some(&ExecutionEvent::Status(FeedStatus::Reconnected)));
        let fills = b.todays_fills().await.unwrap();
        assert_eq!(fills[0].filled_qty, dec!(5));
        assert_eq!(b.open_orders().await.unwrap()[0].remaining_qty, dec!(5));
    }

    #[tokio::test]
    async fn configured_failures_and_cancels() {
        let b = broker();
        b.fail_next(BrokerError::OutcomeUnknown { message: "timeout".into() });
        assert!(matches!(b.place_order(&buy(dec!(1))).await, Err(BrokerError::OutcomeUnknown { .. })));
        assert!(matches!(b.place_order(&buy(dec!(0))).await, Err(BrokerError::Rejected { .. })));
        b.set_fill_policy(FillPolicy::Immediate);
        let ack = b.place_order(&buy(dec!(2))).await.unwrap();
        let cancel = CancelRequest {
            symbol: Symbol::new("005930").unwrap(),
            broker_order_no: ack.broker_order_no.clone(),
            branch: ack.branch,
            qty: None,
            exchange: Exchange::Krx,
        };
        assert!(b.cancel_order(&cancel).await.is_err(), "fully filled orders cannot be cancelled");
        assert_eq!(b.calls().len(), 4);
        assert!(b.quote(&Symbol::new("005930").unwrap()).await.is_err());
    }
}
