//! The console channel: one line per notification on stdout, or into memory for tests.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Where console lines go.
#[derive(Debug, Clone, Default)]
pub struct Console {
    capture: Option<Arc<Mutex<Vec<String>>>>,
}

impl Console {
    /// Returns a console writing to stdout.
    pub fn stdout() -> Self {
        Self { capture: None }
    }

    /// Returns a console keeping its lines in memory (see [`Console::lines`]).
    pub fn capturing() -> Self {
        Self { capture: Some(Arc::default()) }
    }

    /// Writes one line; a closed stdout is ignored (notifications never fail the caller).
    pub fn write(&self, line: &str) {
        match &self.capture {
            Some(lines) => {
                if let Ok(mut l) = lines.lock() {
                    l.push(line.to_owned());
                }
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        }
    }

    /// Returns the captured lines (empty for stdout).
    pub fn lines(&self) -> Vec<String> {
        self.capture.as_ref().and_then(|l| l.lock().ok().map(|l| l.clone())).unwrap_or_default()
    }
}
