//! Logging setup and the masking rules every layer uses.
//!
//! Masking: an account shows its last 4 digits only; an approval key its first 8 characters and
//! "..."; app keys, app secrets and tokens never appear (an app key is identified by its
//! [`fingerprint`]). As a second line of defence every log line passes through a [`Redactor`] that
//! replaces any registered secret value with `REDACTED` before it reaches the console or a file.

use std::io::{self, Write};
use std::sync::{Arc, OnceLock, RwLock};

use sha2::{Digest, Sha256};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, LogSettings};

/// Returns the masked account form: every digit but the last 4 replaced by `*`.
pub fn mask_account(raw: &str) -> String {
    crate::domain::types::mask_tail(raw, 4)
}

/// Returns the masked approval key: its first 8 characters followed by `...`.
pub fn mask_approval_key(key: &str) -> String {
    let head: String = key.chars().take(8).collect();
    format!("{head}...")
}

/// Returns a stable, non-reversible identifier of an app key (first 16 hex chars of SHA-256).
pub fn fingerprint(app_key: &str) -> String {
    let digest = Sha256::digest(app_key.as_bytes());
    hex::encode(&digest[..8])
}

/// The set of secret values scrubbed from every log line.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: RwLock<Vec<String>>,
}

impl Redactor {
    /// Returns the process-wide redactor.
    pub fn global() -> &'static Redactor {
        static GLOBAL: OnceLock<Redactor> = OnceLock::new();
        GLOBAL.get_or_init(Redactor::default)
    }

    /// Registers a secret value; values shorter than 6 characters are ignored (too likely to
    /// match ordinary text).
    pub fn register(&self, secret: &str) {
        let secret = secret.trim();
        if secret.chars().count() < 6 {
            return;
        }
        if let Ok(mut list) = self.secrets.write()
            && !list.iter().any(|s| s == secret)
        {
            list.push(secret.to_owned());
            // Longest first, so a secret that contains another is replaced whole.
            list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Returns the text with every registered secret replaced by `REDACTED`.
    pub fn scrub<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let Ok(list) = self.secrets.read() else {
            return std::borrow::Cow::Borrowed(text);
        };
        if !list.iter().any(|s| text.contains(s.as_str())) {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = text.to_owned();
        for s in list.iter() {
            out = out.replace(s.as_str(), "REDACTED");
        }
        std::borrow::Cow::Owned(out)
    }
}

/// Returns an owned copy of the text with every secret registered with the global [`Redactor`]
/// replaced by `REDACTED` (for texts that are stored or sent: errors, reasons, summaries).
pub fn scrubbed(text: &str) -> String {
    Redactor::global().scrub(text).into_owned()
}

/// Registers every secret of the settings (and the full account number) with the global redactor.
pub fn register_settings_secrets(settings: &crate::config::Settings) {
    let r = Redactor::global();
    for s in [&settings.kis.app_key, &settings.kis.app_secret].into_iter().flatten() {
        r.register(s.expose());
    }
    if let Some(a) = &settings.kis.account {
        r.register(&a.ten_digits());
        r.register(&format!("{}-{}", a.cano(), a.product_code()));
        r.register(a.cano());
    }
    for s in [
        settings.slack.as_ref().map(|s| &s.bot_token),
        settings.smtp.as_ref().and_then(|s| s.password.as_ref()),
        settings.ai.as_ref().and_then(|a| a.api_key.as_ref()),
    ]
    .into_iter()
    .flatten()
    {
        r.register(s.expose());
    }
}

/// A `MakeWriter` that scrubs registered secrets from each write before passing it on.
#[derive(Debug, Clone)]
pub struct RedactingMakeWriter<M> {
    inner: M,
    redactor: &'static Redactor,
}

impl<M> RedactingMakeWriter<M> {
    /// Wraps a writer factory with the global redactor.
    pub fn new(inner: M) -> Self {
        Self { inner, redactor: Redactor::global() }
    }
}

/// The writer produced by [`RedactingMakeWriter`].
#[derive(Debug)]
pub struct RedactingWriter<W> {
    inner: W,
    redactor: &'static Redactor,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => {
                let clean = self.redactor.scrub(text);
                self.inner.write_all(clean.as_bytes())?;
            }
            Err(_) => self.inner.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMakeWriter<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter { inner: self.inner.make_writer(), redactor: self.redactor }
    }
}

/// Keeps the background file writer alive; drop it at exit to flush.
#[derive(Debug, Default)]
pub struct LogGuard {
    _file: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Installs the global tracing subscriber: console (stderr) plus, with `LOG_DIR`, daily rolling
/// files; text or JSON. Calling it twice is harmless (the second call keeps the first subscriber).
///
/// # Errors
/// Returns an error when the log directory cannot be created.
pub fn init(settings: &LogSettings) -> anyhow::Result<LogGuard> {
    let filter = || EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let console = RedactingMakeWriter::new(io::stderr);
    let json = settings.format == LogFormat::Json;
    let console_layer = if json {
        tracing_subscriber::fmt::layer().json().with_writer(console).with_filter(filter()).boxed()
    } else {
        // No colour codes where stderr is not a terminal (the systemd journal, a log file).
        let ansi = std::io::IsTerminal::is_terminal(&io::stderr());
        tracing_subscriber::fmt::layer()
            .with_writer(console)
            .with_target(false)
            .with_ansi(ansi)
            .with_filter(filter())
            .boxed()
    };
    let mut guard = LogGuard::default();
    let file_layer = match &settings.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create LOG_DIR {}: {e}", dir.display()))?;
            let appender = tracing_appender::rolling::daily(dir, "aegis.log");
            let (writer, g) = tracing_appender::non_blocking(appender);
            guard._file = Some(g);
            let writer = RedactingMakeWriter::new(writer);
            let layer = if json {
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_ansi(false)
                    .with_writer(writer)
                    .with_filter(filter())
                    .boxed()
            } else {
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(writer)
                    .with_filter(filter())
                    .boxed()
            };
            Some(layer)
        }
        None => None,
    };
    let _ = tracing_subscriber::registry().with(console_layer).with(file_layer).try_init();
    Ok(guard)
}

/// A shared in-memory log sink for tests that assert on what was logged.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Returns everything written so far.
    pub fn contents(&self) -> String {
        self.0.lock().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_account("5012345601"), "******5601");
        assert_eq!(mask_approval_key("a2585daf-8c09-4587-9fce-8ab893xxxxxx"), "a2585daf...");
        let fp = fingerprint(&"K".repeat(36));
        assert_eq!(fp.len(), 16);
        assert!(!fp.contains('K'));
    }

    #[test]
    fn redactor_scrubs_longest_first() {
        let r = Redactor::default();
        r.register("abcdef");
        r.register("abcdefghij");
        r.register("abc");
        assert_eq!(r.scrub("x abcdefghij y abcdef z abc"), "x REDACTED y REDACTED z abc");
    }
}
