//! Strategy parameter schemas with bounds, and validation of JSON parameter rows (including
//! AI-drafted ones) against them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The value type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ParamKind {
    /// A whole number.
    Integer,
    /// A decimal number.
    Decimal,
}

/// One parameter of a strategy: its name, type, inclusive bounds and default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamSpec {
    /// Key in the JSON row.
    pub name: &'static str,
    /// Value type.
    pub kind: ParamKind,
    /// Smallest accepted value.
    pub min: Decimal,
    /// Largest accepted value.
    pub max: Decimal,
    /// Value used when the row omits the parameter.
    pub default: Decimal,
    /// What the parameter does (shown to operators and to the drafting model).
    pub description: &'static str,
}

/// One problem found in a parameter row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// The row is not a JSON object.
    #[error("parameters must be a JSON object")]
    NotAnObject,
    /// The row names a parameter the strategy does not have.
    #[error("unknown parameter {0:?}")]
    Unknown(String),
    /// The value is not a JSON number.
    #[error("parameter {name} must be a number")]
    NotANumber {
        /// Parameter name.
        name: &'static str,
    },
    /// An integer parameter has a fractional value.
    #[error("parameter {name} must be a whole number, got {value}")]
    NotInteger {
        /// Parameter name.
        name: &'static str,
        /// Offending value.
        value: Decimal,
    },
    /// The value is outside the bounds.
    #[error("parameter {name} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// Parameter name.
        name: &'static str,
        /// Offending value.
        value: Decimal,
        /// Lower bound.
        min: Decimal,
        /// Upper bound.
        max: Decimal,
    },
    /// A rule across several parameters is broken.
    #[error("{0}")]
    Constraint(String),
}

/// Every problem found in a parameter row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParamErrors(pub Vec<ParamError>);

impl fmt::Display for ParamErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid parameters: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A validated parameter set: every spec'd name has a value within bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Params(BTreeMap<&'static str, Decimal>);

impl Params {
    /// Returns a parameter's value (`None` only for a name outside the schema).
    pub fn get(&self, name: &str) -> Option<Decimal> {
        self.0.get(name).copied()
    }

    /// Returns the parameters as a JSON object (numbers), ready to store.
    pub fn to_json(&self) -> serde_json::Value {
        let map = self
            .0
            .iter()
            .map(|(k, v)| {
                let n = serde_json::Number::from_str(&v.normalize().to_string())
                    .map_or(serde_json::Value::Null, serde_json::Value::Number);
                ((*k).to_owned(), n)
            })
            .collect();
        serde_json::Value::Object(map)
    }
}

/// Validates a JSON row against a schema: unknown keys, non-numbers, fractions for integers and
/// out-of-range values are all reported; missing keys take their defaults.
///
/// # Errors
/// Returns [`ParamErrors`] listing every problem found.
pub fn validate_params(specs: &[ParamSpec], row: &serde_json::Value) -> Result<Params, ParamErrors> {
    let Some(obj) = row.as_object() else {
        return Err(ParamErrors(vec![ParamError::NotAnObject]));
    };
    let mut errors: Vec<ParamError> = obj
        .keys()
        .filter(|k| !specs.iter().any(|s| s.name == k.as_str()))
        .map(|k| ParamError::Unknown(k.chars().take(64).collect()))
        .collect();
    let mut values = BTreeMap::new();
    for spec in specs {
        let value = match obj.get(spec.name) {
            None => spec.default,
            Some(serde_json::Value::Number(n)) => match parse_number(&n.to_string()) {
                Some(v) => v,
                None => {
                    errors.push(ParamError::NotANumber { name: spec.name });
                    continue;
                }
            },
            Some(_) => {
                errors.push(ParamError::NotANumber { name: spec.name });
                continue;
            }
        };
        if spec.kind == ParamKind::Integer && !value.fract().is_zero() {
            errors.push(ParamError::NotInteger { name: spec.name, value });
        } else if value < spec.min || value > spec.max {
            errors.push(ParamError::OutOfRange { name: spec.name, value, min: spec.min, max: spec.max });
        } else {
            values.insert(spec.name, value);
        }
    }
    if errors.is_empty() { Ok(Params(values)) } else { Err(ParamErrors(errors)) }
}

fn parse_number(text: &str) -> Option<Decimal> {
    Decimal::from_str(text).ok().or_else(|| Decimal::from_scientific(text).ok())
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use serde_json::json;

    use super::*;

    const SPECS: [ParamSpec; 2] = [
        ParamSpec {
            name: "window",
            kind: ParamKind::Integer,
            min: dec!(2),
            max: dec!(100),
            default: dec!(20),
            description: "w",
        },
        ParamSpec {
            name: "entry_pct",
            kind: ParamKind::Decimal,
            min: dec!(0.1),
            max: dec!(10),
            default: dec!(2),
            description: "e",
        },
    ];

    #[test]
    fn defaults_fill_missing_keys_and_values_round_trip() {
        let p = validate_params(&SPECS, &json!({"entry_pct": 1.25})).unwrap();
        assert_eq!((p.get("window"), p.get("entry_pct")), (Some(dec!(20)), Some(dec!(1.25))));
        assert_eq!(validate_params(&SPECS, &p.to_json()).unwrap(), p);
        let sci = validate_params(&SPECS, &json!({"entry_pct": 2.5e-1})).unwrap();
        assert_eq!(sci.get("entry_pct"), Some(dec!(0.25)));
    }

    #[test]
    fn every_problem_is_reported() {
        let errs = validate_params(&SPECS, &json!({"window": 2.5, "entry_pct": "3", "x": 1})).unwrap_err();
        assert_eq!(
            errs.0,
            vec![
                ParamError::Unknown("x".into()),
                ParamError::NotInteger { name: "window", value: dec!(2.5) },
                ParamError::NotANumber { name: "entry_pct" },
            ]
        );
        let errs = validate_params(&SPECS, &json!({"window": 101, "entry_pct": 0})).unwrap_err();
        assert_eq!(errs.0.len(), 2);
        assert!(errs.to_string().contains("window = 101 is outside 2..=100"), "{errs}");
        assert_eq!(validate_params(&SPECS, &json!([1])).unwrap_err().0, vec![ParamError::NotAnObject]);
        assert!(validate_params(&SPECS, &json!({"window": 1e40})).is_err());
    }
}
