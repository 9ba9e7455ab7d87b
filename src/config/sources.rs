//! Reading the configuration layers into one flat `KEY → value` map.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::keys::{KEYS, Key, Kind, find};
use super::validate::ConfigProblem;

/// Where configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `aegis.toml` path; when `None`, `./aegis.toml` is read if it exists.
    pub toml_path: Option<PathBuf>,
    /// `.env` path; when `None`, `./.env` is read if it exists.
    pub env_file: Option<PathBuf>,
    /// Process environment; when `None`, the real process environment is used.
    pub env: Option<BTreeMap<String, String>>,
    /// Skips the implicit `./aegis.toml` and `./.env` (tests and the demo).
    pub no_implicit_files: bool,
}

/// The merged raw values plus problems found while reading the files.
#[derive(Debug, Clone, Default)]
pub struct RawConfig {
    /// Final value per key after layering.
    pub values: BTreeMap<String, String>,
    /// Which layer each value came from.
    pub origin: BTreeMap<String, &'static str>,
    /// Problems found while reading (syntax errors, unknown keys).
    pub problems: Vec<ConfigProblem>,
}

impl RawConfig {
    fn set(&mut self, key: &str, value: String, origin: &'static str) {
        self.values.insert(key.to_owned(), value);
        self.origin.insert(key.to_owned(), origin);
    }

    /// Returns the value of a key, treating blank values as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

impl Sources {
    /// Reads every layer in order and merges them.
    pub fn read(&self) -> RawConfig {
        let mut raw = RawConfig::default();
        for key in KEYS {
            if let Some(d) = key.default {
                raw.set(key.name, d.to_owned(), "default");
            }
        }
        let toml_path = match (&self.toml_path, self.no_implicit_files) {
            (Some(p), _) => Some((p.clone(), true)),
            (None, false) => Some((PathBuf::from("aegis.toml"), false)),
            (None, true) => None,
        };
        if let Some((path, explicit)) = toml_path {
            read_toml(&path, explicit, &mut raw);
        }
        let env_file = match (&self.env_file, self.no_implicit_files) {
            (Some(p), _) => Some((p.clone(), true)),
            (None, false) => Some((PathBuf::from(".env"), false)),
            (None, true) => None,
        };
        if let Some((path, explicit)) = env_file {
            read_env_file(&path, explicit, &mut raw);
        }
        match &self.env {
            Some(map) => {
                for (k, v) in map {
                    if find(k).is_some() {
                        raw.set(k, v.clone(), "environment");
                    }
                }
            }
            None => {
                for key in KEYS {
                    if let Ok(v) = std::env::var(key.name) {
                        raw.set(key.name, v, "environment");
                    }
                }
            }
        }
        raw
    }
}

fn read_toml(path: &Path, explicit: bool, raw: &mut RawConfig) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            raw.problems
                .push(ConfigProblem::File { path: path.display().to_string(), reason: e.to_string() });
            return;
        }
    };
    let table: toml::Table = match toml::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            // toml's message quotes the offending line, which may hold a secret: keep only the position.
            let at = e.span().map(|s| format!(" at byte {}", s.start)).unwrap_or_default();
            raw.problems.push(ConfigProblem::File {
                path: path.display().to_string(),
                reason: format!("not valid TOML{at}"),
            });
            return;
        }
    };
    let mut flat = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::Table(section) => {
                for (sk, sv) in section {
                    flat.push((format!("{k}_{sk}"), format!("[{k}] {sk}"), sv));
                }
            }
            other => flat.push((k.clone(), k, other)),
        }
    }
    for (name, shown, value) in flat {
        let key = name.to_ascii_uppercase();
        let Some(known) = find(&key) else {
            raw.problems.push(ConfigProblem::UnknownKey { key: shown, source: path.display().to_string() });
            continue;
        };
        // Every value is checked here, whatever a later layer sets: a wrong one is reported
        // against the file and not used.
        match toml_text(known, value) {
            Ok(text) => raw.set(&key, text, "aegis.toml"),
            Err(reason) => raw.problems.push(ConfigProblem::FileValue {
                key: known.name,
                path: path.display().to_string(),
                shown,
                reason,
            }),
        }
    }
}

/// Names a TOML value's type for messages (never its content: it may be a secret).
fn toml_type(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// Turns a TOML value into the key's textual value when its TOML type and its content fit the
/// key's [`Kind`]: text keys take strings only, numbers and booleans take their TOML type or a
/// string that parses, lists (and `TICKER:EXCHANGE` lists) take an array of strings or a
/// comma-separated string.
fn toml_text(key: &Key, value: toml::Value) -> Result<String, String> {
    use toml::Value as V;
    let wrong = |v: &V| format!("expected {}, got {}", key.kind.expected(), toml_type(v));
    let text = match (key.kind, value) {
        // A blank string is "unset", as in `.env`.
        (_, V::String(s)) if s.trim().is_empty() => return Ok(s),
        (_, V::String(s)) => s,
        (Kind::Bool, V::Boolean(b)) => b.to_string(),
        (Kind::Int(_) | Kind::Decimal(_), V::Integer(i)) => i.to_string(),
        (Kind::Decimal(_), V::Float(f)) if f.is_finite() => f.to_string(),
        (Kind::List | Kind::UsVenues, V::Array(items)) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in &items {
                match item {
                    V::String(s) => parts.push(s.clone()),
                    other => {
                        return Err(format!(
                            "expected a list of strings, got {} in the list",
                            toml_type(other)
                        ));
                    }
                }
            }
            parts.join(",")
        }
        (_, other) => return Err(wrong(&other)),
    };
    key.check(&text)?;
    Ok(text)
}

fn read_env_file(path: &Path, explicit: bool, raw: &mut RawConfig) {
    let iter = match dotenvy::from_path_iter(path) {
        Ok(it) => it,
        Err(dotenvy::Error::Io(e)) if !explicit && e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            raw.problems
                .push(ConfigProblem::File { path: path.display().to_string(), reason: env_error(&e) });
            return;
        }
    };
    for item in iter {
        match item {
            Ok((k, v)) => match find(&k).map(|key| (key, key.check(&v))) {
                // Blank is "unset"; a wrong value is reported against the file and not used.
                Some(_) if v.trim().is_empty() => raw.set(&k, v, ".env"),
                Some((_, Ok(()))) => raw.set(&k, v, ".env"),
                Some((key, Err(reason))) => raw.problems.push(ConfigProblem::FileValue {
                    key: key.name,
                    path: path.display().to_string(),
                    shown: k,
                    reason,
                }),
                None => {}
            },
            Err(e) => raw
                .problems
                .push(ConfigProblem::File { path: path.display().to_string(), reason: env_error(&e) }),
        }
    }
}

/// Describes a dotenv error without echoing the offending line (it may hold a secret).
fn env_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, idx) => format!("cannot parse the line at byte {idx}"),
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "cannot read the file".to_owned(),
    }
}
