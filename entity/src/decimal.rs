//! `Dec`: an exact decimal column.
//!
//! PostgreSQL stores it as `NUMERIC`; SQLite stores it as text (column type `decimal_text`, TEXT
//! affinity) because sea-orm reads SQLite decimals through `f64`, which would lose digits such as
//! those of `123456789012.3456`. Binding always goes through `Value::Decimal`, which sea-query
//! binds as NUMERIC on PostgreSQL and as its exact string form on SQLite.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable, Value};
use serde::{Deserialize, Serialize};

/// An exact decimal value stored without loss on every backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Dec(pub Decimal);

impl Dec {
    /// Returns the inner decimal.
    pub const fn get(self) -> Decimal {
        self.0
    }
}

impl From<Decimal> for Dec {
    fn from(value: Decimal) -> Self {
        Self(value)
    }
}

impl From<Dec> for Decimal {
    fn from(value: Dec) -> Self {
        value.0
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Dec> for Value {
    fn from(value: Dec) -> Self {
        Value::Decimal(Some(value.0))
    }
}

impl Nullable for Dec {
    fn null() -> Value {
        Value::Decimal(None)
    }
}

impl ValueType for Dec {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::Decimal(Some(d)) => Ok(Self(d)),
            Value::String(Some(s)) => Decimal::from_str(&s).map(Self).map_err(|_| ValueTypeErr),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "Dec".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::Decimal
    }

    fn column_type() -> ColumnType {
        ColumnType::Decimal(None)
    }
}

impl TryGetable for Dec {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        // SQLite keeps the exact text; PostgreSQL refuses to decode NUMERIC as text, so the
        // second attempt reads it natively.
        match String::try_get_by(res, index) {
            Ok(text) => Decimal::from_str(text.trim()).map(Self).map_err(|e| {
                TryGetError::DbErr(sea_orm::DbErr::Type(format!("column {index:?} is not a decimal: {e}")))
            }),
            Err(TryGetError::Null(col)) => Err(TryGetError::Null(col)),
            Err(_) => Decimal::try_get_by(res, index).map(Self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_round_trip() {
        let d = Dec(Decimal::from_str("123456789012.3456").unwrap());
        let v: Value = d.into();
        assert_eq!(<Dec as ValueType>::try_from(v).unwrap(), d);
        assert!(<Dec as ValueType>::try_from(Value::Int(Some(1))).is_err());
    }
}
