//! The `Order` aggregate: order fields plus status, broker number and fill progress, changed
//! only through [`Order::apply`].
//!
//! Notices and REST snapshots may repeat or overtake each other, so `apply` first absorbs what
//! changes no status: exact repeats ([`Applied::Unchanged`]), a broker number learned after fills
//! ([`Applied::NumberAttached`]) and a refined fill amount at the same quantity
//! ([`Applied::Repriced`]). Everything else goes through the transition table.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{BrokerOrderNo, IdempotencyKey, MAX_INPUT, OrderError, OrderEvent, OrderStatus, transition};
use crate::domain::types::{Exchange, OrderType, Side, Symbol};

/// What a caller wants to order; validated by [`Order::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    /// Idempotency key committed with the row before the broker call.
    pub key: IdempotencyKey,
    /// Instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Limit, market, IOC, FOK.
    pub order_type: OrderType,
    /// Ordered quantity (shares, positive, whole).
    pub qty: Decimal,
    /// Limit price; `None` for market orders.
    pub price: Option<Decimal>,
    /// Venue.
    pub exchange: Exchange,
}

/// Every stored field of an order; the shape the store maps to and from a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Local order id.
    pub id: uuid::Uuid,
    /// The order's request fields.
    pub request: NewOrder,
    /// Broker number once accepted.
    pub broker_order_no: Option<BrokerOrderNo>,
    /// Current status.
    pub status: OrderStatus,
    /// Filled quantity so far.
    pub filled_qty: Decimal,
    /// Filled amount (Σ quantity × price) so far.
    pub filled_amount: Decimal,
    /// Submit attempts proven lost (raised by [`OrderEvent::ResolvedNotFound`]).
    pub attempt: u32,
}

/// An order whose status and fill progress change only through legal transitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    rec: OrderRecord,
}

/// The result of [`Order::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event moved the order (`from` may equal `to` for a legal self-loop such as a partial fill).
    Moved {
        /// Status before.
        from: OrderStatus,
        /// Status after.
        to: OrderStatus,
    },
    /// The event repeats what is already known (duplicate notice or snapshot); nothing changed.
    Unchanged,
    /// The broker number arrived after fills had already moved the order on (a notice overtook the
    /// submit answer): the number is recorded, the status is unchanged.
    NumberAttached,
    /// The filled quantity is unchanged and only the filled amount (average price) was refined, e.g.
    /// when a notice replaced quantity synthesized from a snapshot. Allowed in every status.
    Repriced {
        /// Filled amount before.
        from: Decimal,
        /// Filled amount after.
        to: Decimal,
    },
}

impl Order {
    /// Creates a `New` order after validating quantity and price.
    ///
    /// # Errors
    /// Returns [`OrderError::InvalidOrder`] when the quantity is not a positive whole number within
    /// bounds, a priced order type lacks a positive price, or a market order carries one.
    pub fn new(id: uuid::Uuid, request: NewOrder) -> Result<Self, OrderError> {
        validate_request(&request)?;
        Ok(Self {
            rec: OrderRecord {
                id,
                request,
                broker_order_no: None,
                status: OrderStatus::New,
                filled_qty: Decimal::ZERO,
                filled_amount: Decimal::ZERO,
                attempt: 0,
            },
        })
    }

    /// Rebuilds an order read back from storage.
    ///
    /// # Errors
    /// Returns [`OrderError::InvalidOrder`] when the record breaks an invariant (fills above the
    /// quantity, negative amounts, fills on a status that cannot have them).
    pub fn restore(rec: OrderRecord) -> Result<Self, OrderError> {
        validate_request(&rec.request)?;
        let filled_ok = rec.filled_qty >= Decimal::ZERO
            && rec.filled_qty <= rec.request.qty
            && rec.filled_amount >= Decimal::ZERO
            && rec.filled_qty.is_zero() == rec.filled_amount.is_zero();
        if !filled_ok {
            return Err(OrderError::InvalidOrder("filled quantity/amount out of range"));
        }
        let full = rec.filled_qty == rec.request.qty;
        let status_ok = match rec.status {
            OrderStatus::New | OrderStatus::Sent => rec.filled_qty.is_zero(),
            OrderStatus::Partial => !rec.filled_qty.is_zero() && !full,
            OrderStatus::Filled => full,
            _ => true,
        };
        if !status_ok {
            return Err(OrderError::InvalidOrder("status does not match filled quantity"));
        }
        Ok(Self { rec })
    }

    /// Returns every stored field.
    pub fn record(&self) -> &OrderRecord {
        &self.rec
    }

    /// Returns the local id.
    pub fn id(&self) -> uuid::Uuid {
        self.rec.id
    }

    /// Returns the request fields (symbol, side, type, quantity, price, venue, key).
    pub fn request(&self) -> &NewOrder {
        &self.rec.request
    }

    /// Returns the current status.
    pub fn status(&self) -> OrderStatus {
        self.rec.status
    }

    /// Returns the broker order number once known.
    pub fn broker_order_no(&self) -> Option<&BrokerOrderNo> {
        self.rec.broker_order_no.as_ref()
    }

    /// Returns the filled quantity.
    pub fn filled_qty(&self) -> Decimal {
        self.rec.filled_qty
    }

    /// Returns the quantity still open (ordered − filled).
    pub fn leaves_qty(&self) -> Decimal {
        self.rec.request.qty - self.rec.filled_qty
    }

    /// Returns the average fill price, `None` before the first fill.
    pub fn avg_fill_price(&self) -> Option<Decimal> {
        self.rec.filled_amount.checked_div(self.rec.filled_qty)
    }

    /// Returns `(attempt, rank, filled quantity)`: it never decreases, whatever events are applied.
    pub fn progress(&self) -> (u32, u8, Decimal) {
        (self.rec.attempt, self.rec.status.rank(), self.rec.filled_qty)
    }

    /// Builds the fill event for a cumulative quantity and amount (as a fill ledger reports them).
    pub fn fill_event(&self, cum_qty: Decimal, cum_amount: Decimal) -> OrderEvent {
        OrderEvent::Fill { cum_qty, cum_amount, leaves_qty: self.rec.request.qty - cum_qty }
    }

    /// Applies an event: duplicates are acknowledged without change, illegal moves are refused.
    ///
    /// # Errors
    /// Returns [`OrderError::InvalidTransition`] for a move the table refuses,
    /// [`OrderError::FillExceedsQuantity`] / [`OrderError::InconsistentFill`] for bad fill numbers and
    /// [`OrderError::BrokerOrderNoConflict`] when an acceptance names another broker order. The order
    /// is unchanged after any error.
    pub fn apply(&mut self, event: &OrderEvent) -> Result<Applied, OrderError> {
        if self.is_duplicate(event)? {
            return Ok(Applied::Unchanged);
        }
        if let OrderEvent::Accepted { broker_order_no } = event
            && self.rec.broker_order_no.is_none()
            && self.rec.status.rank() > OrderStatus::Sent.rank()
            && self.rec.status != OrderStatus::Rejected
        {
            self.rec.broker_order_no = Some(broker_order_no.clone());
            return Ok(Applied::NumberAttached);
        }
        if let OrderEvent::Fill { cum_qty, cum_amount, leaves_qty } = event {
            self.check_fill(*cum_qty, *cum_amount, *leaves_qty)?;
            if *cum_qty == self.rec.filled_qty {
                let from = std::mem::replace(&mut self.rec.filled_amount, *cum_amount);
                return Ok(Applied::Repriced { from, to: *cum_amount });
            }
        }
        let from = self.rec.status;
        let to = transition(from, event)?;
        match event {
            OrderEvent::Accepted { broker_order_no } => {
                self.rec.broker_order_no = Some(broker_order_no.clone())
            }
            OrderEvent::Fill { cum_qty, cum_amount, .. } => {
                self.rec.filled_qty = *cum_qty;
                self.rec.filled_amount = *cum_amount;
            }
            OrderEvent::ResolvedNotFound => {
                self.rec.attempt = self.rec.attempt.saturating_add(1);
                self.rec.broker_order_no = None;
            }
            _ => {}
        }
        self.rec.status = to;
        Ok(Applied::Moved { from, to })
    }

    fn is_duplicate(&self, event: &OrderEvent) -> Result<bool, OrderError> {
        let status = self.rec.status;
        Ok(match event {
            OrderEvent::Accepted { broker_order_no } => match &self.rec.broker_order_no {
                // A listing without the branch (the overseas order listings name none) names the
                // same order as the answer that had it.
                Some(known)
                    if known.number == broker_order_no.number
                        && (known.branch == broker_order_no.branch
                            || known.branch.is_empty()
                            || broker_order_no.branch.is_empty()) =>
                {
                    true
                }
                Some(known) => {
                    return Err(OrderError::BrokerOrderNoConflict {
                        known: known.clone(),
                        got: broker_order_no.clone(),
                    });
                }
                None => false,
            },
            OrderEvent::Fill { cum_qty, cum_amount, .. } => {
                *cum_qty == self.rec.filled_qty && *cum_amount == self.rec.filled_amount && !cum_qty.is_zero()
            }
            OrderEvent::CancelConfirmed => status == OrderStatus::Canceled,
            OrderEvent::Rejected { .. } => status == OrderStatus::Rejected,
            OrderEvent::CancelRequested => status == OrderStatus::Canceled,
            _ => false,
        })
    }

    fn check_fill(
        &self,
        cum_qty: Decimal,
        cum_amount: Decimal,
        leaves_qty: Decimal,
    ) -> Result<(), OrderError> {
        let order_qty = self.rec.request.qty;
        if cum_qty > order_qty {
            return Err(OrderError::FillExceedsQuantity { cum_qty, order_qty });
        }
        let consistent = cum_qty > Decimal::ZERO
            && cum_amount > Decimal::ZERO
            && cum_qty >= self.rec.filled_qty
            && leaves_qty == order_qty - cum_qty;
        if consistent {
            Ok(())
        } else {
            Err(OrderError::InconsistentFill { cum_qty, cum_amount, leaves_qty })
        }
    }
}

fn validate_request(r: &NewOrder) -> Result<(), OrderError> {
    if r.qty <= Decimal::ZERO || r.qty > MAX_INPUT || !r.qty.fract().is_zero() {
        return Err(OrderError::InvalidOrder("quantity must be a positive whole number"));
    }
    match (r.order_type.has_price(), r.price) {
        (true, Some(p)) if p > Decimal::ZERO && p <= MAX_INPUT => Ok(()),
        (true, _) => Err(OrderError::InvalidOrder("a priced order needs a positive price")),
        (false, None) => Ok(()),
        (false, Some(_)) => Err(OrderError::InvalidOrder("a market order carries no price")),
    }
}
