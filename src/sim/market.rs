//! The synthetic market of one symbol: a seeded price process with other participants' trades,
//! a ten-level book, minute bars and daily history, kept on the KRX grid inside the daily band
//! (or, for a US instrument, on the US grid in 0.0001 USD units during the New York session).
//!
//! Market activity is a Poisson process in continuous simulated time: trades and book updates
//! arrive at the rates of the instrument's [`Activity`], each at its own instant, so the market
//! moves the same way whether the clock runs at real time or thousands of times faster.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Timelike};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use serde::Serialize;

use super::clock::at;
use super::instruments::Instrument;
pub use super::krx::{
    Calendar, on_grid, price_band, session_close, session_open, tick_down, tick_size, tick_up,
};
use super::us::rules as us_rules;

/// How busy an instrument's market is: the mean number of trades and of book updates without a
/// trade per simulated second during the continuous session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Activity {
    /// Trades printed per second.
    pub trades_per_sec: f64,
    /// Book updates between trades per second (quotes change more often than trades).
    pub quotes_per_sec: f64,
}

impl Activity {
    /// The largest caps (market value of at least 100 trillion KRW): several prints a second.
    pub const LARGE: Self = Self { trades_per_sec: 3.0, quotes_per_sec: 8.0 };
    /// Mid caps (at least 10 trillion KRW).
    pub const MID: Self = Self { trades_per_sec: 1.0, quotes_per_sec: 3.0 };
    /// Everything else.
    pub const SMALL: Self = Self { trades_per_sec: 0.35, quotes_per_sec: 1.0 };

    /// Returns the default activity of an instrument by its market value. US names (valued at
    /// 1,400 KRW a dollar) are at most [`Self::MID`], so that the overnight US session of a
    /// multi-day run stays cheap; `--activity` raises them.
    pub fn default_for(inst: &Instrument) -> Self {
        let value = i128::from(inst.base_price) * i128::from(inst.listed_shares);
        if inst.listing.is_us() {
            let krw = value * 1_400 / i128::from(us_rules::UNIT);
            return if krw >= 10_000_000_000_000 { Self::MID } else { Self::SMALL };
        }
        if value >= 100_000_000_000_000 {
            Self::LARGE
        } else if value >= 10_000_000_000_000 {
            Self::MID
        } else {
            Self::SMALL
        }
    }

    /// Returns the total event rate per second.
    pub fn events_per_sec(&self) -> f64 {
        self.trades_per_sec + self.quotes_per_sec
    }

    /// Parses `TRADES[:QUOTES]` (per second, e.g. `3:8`; without `QUOTES`, twice the trades).
    ///
    /// # Errors
    /// Returns a message naming the bad part.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (t, q) = text.split_once(':').unwrap_or((text, ""));
        let num = |v: &str, what: &str| -> Result<f64, String> {
            let x: f64 = v.trim().parse().map_err(|_| format!("{what} per second is not a number: {v:?}"))?;
            if x.is_finite() && (0.0..=1_000.0).contains(&x) {
                Ok(x)
            } else {
                Err(format!("{what} per second must be between 0 and 1000, got {v}"))
            }
        };
        let trades_per_sec = num(t, "trades")?;
        let quotes_per_sec = if q.is_empty() { trades_per_sec * 2.0 } else { num(q, "book updates")? };
        Ok(Self { trades_per_sec, quotes_per_sec })
    }
}

/// The price grid and limits a market runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Grid {
    /// KRX: the tick table (or the flat 5 KRW tick of ETF/ETN) inside the ±30% band.
    Krx {
        /// Flat 5 KRW tick.
        flat: bool,
    },
    /// US: one cent from $1, $0.0001 below, no daily limits; prices in 0.0001 USD.
    Us,
}

impl Grid {
    /// Returns the grid of an instrument.
    pub fn of(inst: &Instrument) -> Self {
        if inst.listing.is_us() { Self::Us } else { Self::Krx { flat: inst.flat_tick() } }
    }

    /// Returns the tick size at `price`.
    pub fn tick(self, price: i64) -> i64 {
        match self {
            Self::Krx { flat } => tick_size(price, flat),
            Self::Us => us_rules::tick_size(price),
        }
    }

    /// Returns the next grid price above `price`.
    pub fn up(self, price: i64) -> i64 {
        match self {
            Self::Krx { flat } => tick_up(price, flat),
            Self::Us => us_rules::tick_up(price),
        }
    }

    /// Returns the next grid price below `price`.
    pub fn down(self, price: i64) -> i64 {
        match self {
            Self::Krx { flat } => tick_down(price, flat),
            Self::Us => us_rules::tick_down(price),
        }
    }

    /// Returns the daily band `(lower, upper)` around `base`.
    pub fn band(self, base: i64) -> (i64, i64) {
        match self {
            Self::Krx { flat } => price_band(base, flat),
            Self::Us => us_rules::price_band(base),
        }
    }

    /// Returns true when `price` lies on the grid.
    pub fn on_grid(self, price: i64) -> bool {
        match self {
            Self::Krx { flat } => on_grid(price, flat),
            Self::Us => us_rules::on_grid(price),
        }
    }

    /// Returns the trading date of the market at `now` (KST date, or the New York date).
    pub fn date_of(self, now: DateTime<FixedOffset>) -> NaiveDate {
        match self {
            Self::Krx { .. } => now.date_naive(),
            Self::Us => us_rules::local_date(now),
        }
    }

    /// Returns the start of the continuous session of `date` in KST.
    pub fn open_at(self, date: NaiveDate) -> DateTime<FixedOffset> {
        match self {
            Self::Krx { .. } => at(date, session_open()),
            Self::Us => us_rules::open_at(date),
        }
    }

    /// Returns the end of the regular session of `date` in KST.
    pub fn close_at(self, date: NaiveDate) -> DateTime<FixedOffset> {
        match self {
            Self::Krx { .. } => at(date, session_close()),
            Self::Us => us_rules::close_at(date),
        }
    }

    /// Returns the local wall-clock time daily bars are stamped with (the session end).
    pub fn bar_time(self) -> NaiveTime {
        match self {
            Self::Krx { .. } => session_close(),
            Self::Us => us_rules::session_close_local(),
        }
    }
}

/// What one market event was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// A trade of other participants.
    Trade(Print),
    /// The book changed without a trade.
    Quote,
}

/// One trade printed by other participants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Print {
    /// Simulated time of the trade.
    pub time: NaiveTime,
    /// Trade price.
    pub price: i64,
    /// Trade quantity.
    pub qty: i64,
    /// True when the aggressor was a buyer (`CCLD_DVSN` 1), false for a seller (5).
    pub buyer_initiated: bool,
}

/// A one-minute or one-day OHLCV bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// Trading date.
    pub date: NaiveDate,
    /// Minute start (`HH:MM:00`) for minute bars, 15:30 for daily bars.
    pub time: NaiveTime,
    /// Open.
    pub open: i64,
    /// High.
    pub high: i64,
    /// Low.
    pub low: i64,
    /// Close.
    pub close: i64,
    /// Volume.
    pub volume: i64,
    /// Cumulative day turnover at the bar's end (minute bars) or day turnover (daily bars).
    pub turnover: i64,
}

/// Ten ask and ten bid levels `(price, quantity)`, best first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Book {
    /// Ask levels, lowest price first.
    pub asks: Vec<(i64, i64)>,
    /// Bid levels, highest price first.
    pub bids: Vec<(i64, i64)>,
}

/// The synthetic market of one instrument for the current trading date.
#[derive(Debug, Clone)]
pub struct SymbolMarket {
    /// Static instrument data.
    pub inst: Instrument,
    /// Price grid, limits and session times.
    pub grid: Grid,
    rng: ChaCha8Rng,
    /// Current trading date.
    pub date: NaiveDate,
    /// Base price (previous close).
    pub base: i64,
    /// Last trade price (the base before the first trade of the day).
    pub last: i64,
    /// Day open (0 before the first trade).
    pub open: i64,
    /// Day high.
    pub high: i64,
    /// Day low.
    pub low: i64,
    /// Times of open/high/low.
    pub ohl_times: [NaiveTime; 3],
    /// Accumulated volume.
    pub volume: i64,
    /// Accumulated turnover (KRW).
    pub turnover: i64,
    /// Buyer- and seller-initiated trade counts and volumes.
    pub flow: [i64; 4],
    /// Previous day's volume.
    pub prev_volume: i64,
    /// Current book.
    pub book: Book,
    /// Today's minute bars, oldest first.
    pub minutes: Vec<Bar>,
    /// Completed daily bars, oldest first.
    pub daily: Vec<Bar>,
    /// The simulated instant the market has been run to.
    pub cursor: DateTime<FixedOffset>,
    /// How busy the market is.
    pub activity: Activity,
    /// When the next trade or book update happens.
    pub next_event: DateTime<FixedOffset>,
}

impl SymbolMarket {
    /// Creates the market of `inst` as of `now`, with a deterministic history seeded by `seed`.
    pub fn new(
        inst: Instrument,
        activity: Activity,
        seed: u64,
        now: DateTime<FixedOffset>,
        cal: &Calendar,
    ) -> Self {
        let mut sym_seed = seed;
        for b in inst.code.bytes() {
            sym_seed = sym_seed.wrapping_mul(0x100_0000_01b3).wrapping_add(u64::from(b));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(sym_seed);
        let grid = Grid::of(&inst);
        let date = grid.date_of(now);
        let daily = history(&mut rng, &inst, grid, date, cal);
        let prev_volume = daily.last().map_or(0, |b| b.volume);
        let base = daily.last().map_or(inst.base_price, |b| b.close);
        let open = grid.open_at(date);
        let cursor = if now > open { now } else { open - TimeDelta::seconds(1) };
        let mut m = Self {
            inst,
            grid,
            rng,
            date,
            base,
            last: base,
            open: 0,
            high: 0,
            low: 0,
            ohl_times: [NaiveTime::MIN; 3],
            volume: 0,
            turnover: 0,
            flow: [0; 4],
            prev_volume,
            book: Book::default(),
            minutes: Vec::new(),
            daily,
            cursor,
            activity,
            next_event: cursor,
        };
        m.rebuild_book();
        m.schedule_from(cursor.max(open));
        m
    }

    /// Draws the instant of the next event after `from` (exponential waiting time).
    pub fn schedule_from(&mut self, from: DateTime<FixedOffset>) {
        let rate = self.activity.events_per_sec();
        if rate <= 0.0 {
            self.next_event = DateTime::<FixedOffset>::MAX_UTC.fixed_offset();
            return;
        }
        let u: f64 = self.rng.random();
        let wait = -(1.0 - u).ln() / rate;
        let nanos = (wait * 1e9).clamp(1.0, 86_400e9) as i64;
        self.next_event = from + TimeDelta::nanoseconds(nanos);
    }

    /// Returns true for instruments on the flat 5 KRW grid.
    pub fn flat(&self) -> bool {
        self.inst.flat_tick()
    }

    /// Returns the band `(lower, upper)` of the current day.
    pub fn band(&self) -> (i64, i64) {
        self.grid.band(self.base)
    }

    /// Returns the start of the continuous session of `date` in KST.
    pub fn open_at(&self, date: NaiveDate) -> DateTime<FixedOffset> {
        self.grid.open_at(date)
    }

    /// Returns the best ask (lowest offer).
    pub fn best_ask(&self) -> i64 {
        self.book.asks.iter().find(|l| l.1 > 0).map_or(self.band().1, |l| l.0)
    }

    /// Returns the best bid (highest bid).
    pub fn best_bid(&self) -> i64 {
        self.book.bids.iter().find(|l| l.1 > 0).map_or(self.band().0, |l| l.0)
    }

    /// Regenerates the ten-level book around the last price.
    pub fn rebuild_book(&mut self) {
        let (lo, hi) = self.band();
        let grid = self.grid;
        let Book { asks, bids } = &mut self.book;
        asks.clear();
        bids.clear();
        let mut p = if self.last >= hi { hi } else { grid.up(self.last) };
        for _ in 0..10 {
            let q = if p <= hi { self.rng.random_range(1..=40) * 50 } else { 0 };
            asks.push((if p <= hi { p } else { 0 }, q));
            p = grid.up(p);
        }
        let mut p = self.last.min(hi).max(lo);
        for _ in 0..10 {
            let q = if p >= lo { self.rng.random_range(1..=40) * 50 } else { 0 };
            bids.push((if p >= lo { p } else { 0 }, q));
            p = grid.down(p);
        }
    }

    /// Starts a new trading date: yesterday's close becomes the base price.
    pub fn roll_to(&mut self, date: NaiveDate) {
        if self.volume > 0 {
            self.daily.push(Bar {
                date: self.date,
                time: self.grid.bar_time(),
                open: self.open,
                high: self.high,
                low: self.low,
                close: self.last,
                volume: self.volume,
                turnover: self.turnover,
            });
            self.prev_volume = self.volume;
            self.base = self.last;
        }
        self.date = date;
        self.last = self.base;
        self.open = 0;
        self.high = 0;
        self.low = 0;
        self.volume = 0;
        self.turnover = 0;
        self.flow = [0; 4];
        self.minutes.clear();
        self.rebuild_book();
        self.schedule_from(self.open_at(date));
    }

    /// Runs the event due at `next_event` (a trade or a book update at `time`) and schedules the
    /// one after it.
    pub fn step(&mut self, time: NaiveTime) -> Tick {
        let due = self.next_event;
        self.schedule_from(due);
        let a = self.activity;
        let grid = self.grid;
        let trade_share = if a.events_per_sec() > 0.0 {
            (a.trades_per_sec / a.events_per_sec()).clamp(0.0, 1.0)
        } else {
            0.0
        };
        if !self.rng.random_bool(trade_share) {
            self.requote();
            return Tick::Quote;
        }
        let (lo, hi) = self.band();
        // About 0.084 tick moves a second whatever the trade rate, so prices wander as they do
        // on a quiet name; busy names print more often at the same prices.
        let move_half = (MOVES_PER_SEC / 2.0 / a.trades_per_sec.max(MOVES_PER_SEC)).min(0.5);
        let r: f64 = self.rng.random();
        let mut price = self.last;
        if r < move_half {
            price = grid.up(price).min(hi);
        } else if r < 2.0 * move_half {
            price = grid.down(price).max(lo);
        }
        let buyer_initiated = if price == self.last { self.rng.random_bool(0.5) } else { price > self.last };
        let qty = match grid {
            Grid::Krx { .. } => self.rng.random_range(1..=60) * 10,
            Grid::Us => self.rng.random_range(1..=40) * 5,
        };
        let moved = price != self.last;
        self.record(time, price, qty, buyer_initiated);
        if moved {
            self.rebuild_book();
        } else {
            self.consume(price, qty);
        }
        Tick::Trade(Print { time, price, qty, buyer_initiated })
    }

    /// Changes the quantity resting at one level, as an order entered or withdrawn between
    /// trades does (levels near the touch change most often).
    fn requote(&mut self) {
        let ask = self.rng.random_bool(0.5);
        let level = self.rng.random_range(0..10_usize).min(self.rng.random_range(0..10_usize));
        let qty = self.rng.random_range(1..=40) * 50;
        let side = if ask { &mut self.book.asks } else { &mut self.book.bids };
        if let Some(l) = side.get_mut(level)
            && l.0 > 0
        {
            l.1 = qty;
        }
    }

    /// Takes a trade at an unchanged price off the level at that price, refilled once empty.
    fn consume(&mut self, price: i64, qty: i64) {
        let refill = self.rng.random_range(1..=40) * 50;
        let book = &mut self.book;
        if let Some(l) = book.bids.iter_mut().chain(book.asks.iter_mut()).find(|l| l.0 == price && l.0 > 0) {
            l.1 = if l.1 > qty { l.1 - qty } else { refill };
        }
    }

    /// Books a trade (ours or another participant's) into the day's statistics and bars.
    pub fn record(&mut self, time: NaiveTime, price: i64, qty: i64, buyer_initiated: bool) {
        if self.open == 0 {
            self.open = price;
            self.high = price;
            self.low = price;
            self.ohl_times = [time; 3];
        }
        if price > self.high {
            self.high = price;
            self.ohl_times[1] = time;
        }
        if price < self.low {
            self.low = price;
            self.ohl_times[2] = time;
        }
        self.last = price;
        self.volume += qty;
        self.turnover += price * qty;
        let i = if buyer_initiated { 0 } else { 1 };
        self.flow[i] += 1;
        self.flow[i + 2] += qty;
        let minute = NaiveTime::from_hms_opt(time.hour(), time.minute(), 0).unwrap_or(time);
        match self.minutes.last_mut() {
            Some(b) if b.time == minute => {
                b.high = b.high.max(price);
                b.low = b.low.min(price);
                b.close = price;
                b.volume += qty;
                b.turnover = self.turnover;
            }
            _ => self.minutes.push(Bar {
                date: self.date,
                time: minute,
                open: price,
                high: price,
                low: price,
                close: price,
                volume: qty,
                turnover: self.turnover,
            }),
        }
    }

    /// Takes up to `qty` from the book side facing an order (asks for a buy), at prices no worse
    /// than `limit` (`None` = any price inside the band); returns the `(price, qty)` slices taken.
    pub fn take(&mut self, buy: bool, qty: i64, limit: Option<i64>) -> Vec<(i64, i64)> {
        let mut left = qty;
        let mut out = Vec::new();
        let levels = if buy { &mut self.book.asks } else { &mut self.book.bids };
        for level in levels.iter_mut() {
            if left == 0 {
                break;
            }
            if level.1 == 0 || level.0 == 0 {
                continue;
            }
            let ok = match limit {
                Some(l) if buy => level.0 <= l,
                Some(l) => level.0 >= l,
                None => true,
            };
            if !ok {
                break;
            }
            let n = level.1.min(left);
            level.1 -= n;
            left -= n;
            out.push((level.0, n));
        }
        out
    }

    /// Returns the signed change from the base price and its `*_SIGN` code.
    pub fn change(&self, price: i64) -> (i64, &'static str) {
        let (lo, hi) = self.band();
        let diff = price - self.base;
        let sign = match () {
            _ if price >= hi && diff > 0 => "1",
            _ if price <= lo && diff < 0 => "4",
            _ if diff > 0 => "2",
            _ if diff < 0 => "5",
            _ => "3",
        };
        (diff, sign)
    }

    /// Returns the change rate in percent with two decimals.
    pub fn change_rate(&self, price: i64) -> String {
        pct(price - self.base, self.base)
    }
}

/// Price moves (one tick up or down) per second of trading, spread over the trades.
const MOVES_PER_SEC: f64 = 0.084;

/// Formats `num / den` as a percentage with two decimals (`"-0.14"`).
pub fn pct(num: i64, den: i64) -> String {
    if den == 0 {
        return "0.00".to_owned();
    }
    let scaled = (i128::from(num) * 10_000) / i128::from(den);
    let sign = if scaled < 0 { "-" } else { "" };
    let a = scaled.abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

fn history(
    rng: &mut ChaCha8Rng,
    inst: &Instrument,
    grid: Grid,
    today: NaiveDate,
    cal: &Calendar,
) -> Vec<Bar> {
    let mut days = Vec::new();
    let mut d = today;
    while days.len() < 250 {
        d = cal.previous_trading_day(d);
        days.push(d);
        if d.year() < 1990 {
            break;
        }
    }
    days.reverse();
    let mut close = inst.base_price;
    let mut closes = Vec::with_capacity(days.len());
    for _ in &days {
        closes.push(close);
        let (lo, hi) = grid.band(close);
        let steps = rng.random_range(-6_i64..=6);
        let mut p = close;
        for _ in 0..steps.abs() {
            p = if steps > 0 { grid.down(p) } else { grid.up(p) };
        }
        close = p.clamp(lo, hi);
    }
    closes.reverse();
    let mut bars = Vec::with_capacity(days.len());
    for (i, date) in days.into_iter().enumerate() {
        let c = closes.get(i).copied().unwrap_or(inst.base_price);
        let o = closes.get(i.wrapping_sub(1)).copied().unwrap_or(c);
        let spread = grid.tick(c) * rng.random_range(1..=5);
        let high = o.max(c) + spread;
        let low = (o.min(c) - spread).max(1);
        let volume = rng.random_range(50_000..=2_000_000);
        bars.push(Bar {
            date,
            time: grid.bar_time(),
            open: o,
            high,
            low,
            close: c,
            volume,
            turnover: c * volume,
        });
    }
    if let Some(last) = bars.last_mut() {
        last.close = inst.base_price;
        last.high = last.high.max(inst.base_price);
        last.low = last.low.min(inst.base_price);
    }
    bars
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::instruments::catalog;

    #[test]
    fn process_is_deterministic_and_stays_in_band() {
        let inst = catalog("005930");
        let now = at(NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(), session_open());
        let cal = Calendar::krx_default();
        let activity = Activity::default_for(&inst);
        let mut a = SymbolMarket::new(inst.clone(), activity, 7, now, &cal);
        let mut b = SymbolMarket::new(inst, activity, 7, now, &cal);
        let (lo, hi) = a.band();
        let (mut trades, mut quotes) = (0, 0);
        let mut silent = SymbolMarket::new(catalog("005930"), Activity::parse("0:0").unwrap(), 7, now, &cal);
        silent.step(now.time());
        assert_eq!(
            silent.next_event,
            DateTime::<FixedOffset>::MAX_UTC.fixed_offset(),
            "no activity, no event"
        );
        while a.next_event < now + TimeDelta::seconds(5_000) {
            assert_eq!(a.next_event, b.next_event);
            let t = a.next_event.time();
            let pa = a.step(t);
            assert_eq!(pa, b.step(t));
            assert_eq!(a.book, b.book);
            match pa {
                Tick::Trade(p) => {
                    trades += 1;
                    assert!(p.price >= lo && p.price <= hi && on_grid(p.price, false));
                }
                Tick::Quote => quotes += 1,
            }
        }
        assert!(a.volume > 0);
        // 005930 is a large cap: several prints a second and more book updates than prints.
        assert!(trades >= 2 * 5_000, "{trades} trades in 5,000 s");
        assert!(quotes > trades, "{quotes} book updates, {trades} trades");
    }

    #[test]
    fn activity_defaults_by_market_value_and_parses() {
        assert_eq!(Activity::default_for(&catalog("005930")), Activity::LARGE);
        assert_eq!(Activity::default_for(&catalog("035720")), Activity::MID);
        assert_eq!(Activity::default_for(&catalog("999990")), Activity::SMALL);
        assert_eq!(Activity::parse("3:8"), Ok(Activity { trades_per_sec: 3.0, quotes_per_sec: 8.0 }));
        assert_eq!(Activity::parse("0.5"), Ok(Activity { trades_per_sec: 0.5, quotes_per_sec: 1.0 }));
        for bad in ["", "x", "1:y", "-1", "1:2000", "NaN"] {
            assert!(Activity::parse(bad).is_err(), "{bad}");
        }
    }
}
