//! Reading the configuration layers into one flat `KEY → value` map.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::keys::{KEYS, find};
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
        if find(&key).is_none() {
            raw.problems.push(ConfigProblem::UnknownKey { key: shown, source: path.display().to_string() });
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        raw.set(&key, text, "aegis.toml");
    }
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
            Ok((k, v)) if find(&k).is_some() => raw.set(&k, v, ".env"),
            Ok(_) => {}
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
