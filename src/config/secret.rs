//! `Secret`: a string that never prints.

use std::fmt;

/// A secret value (app key, app secret, token, password). `Debug` and `Display` print
/// `REDACTED`; the value is reachable only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the secret value, for the wire only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Returns the first 8 characters followed by `...`, the most any log may show of an
    /// approval key.
    pub fn preview(&self) -> String {
        let head: String = self.0.chars().take(8).collect();
        format!("{head}...")
    }

    /// Returns the length in characters (for validation messages).
    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    /// Returns true when the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "REDACTED");
        assert_eq!(format!("{s:?}"), "REDACTED");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(REDACTED)");
        assert_eq!(s.expose(), "hunter2");
    }
}
