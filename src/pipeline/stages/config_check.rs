//! The `config_check` stage: fails when the loaded configuration has problems; its output is a
//! secret-free summary (mode, which notifiers and whether an AI endpoint are configured).

use futures::future::BoxFuture;

use super::outputs::ConfigCheckOutput;
use crate::config::Loaded;
use crate::domain::stage::StageName;
use crate::pipeline::stage::{Stage, StageContext, StageError};

/// The `config_check` stage: fails when the configuration has problems.
#[derive(Debug, Clone)]
pub struct ConfigCheck {
    problems: Vec<String>,
    summary: ConfigCheckOutput,
}

impl ConfigCheck {
    /// Captures the loaded configuration's problems and a secret-free summary.
    pub fn new(loaded: &Loaded) -> Self {
        let s = &loaded.settings;
        Self {
            problems: loaded.problems.iter().map(ToString::to_string).collect(),
            summary: ConfigCheckOutput {
                mode: format!("{:?}", s.mode),
                slack: s.slack.is_some(),
                smtp: s.smtp.is_some(),
                ai: s.ai.is_some(),
            },
        }
    }
}

impl Stage for ConfigCheck {
    type Output = ConfigCheckOutput;

    fn name(&self) -> StageName {
        StageName::ConfigCheck
    }

    fn run<'a>(&'a self, _ctx: &'a mut StageContext) -> BoxFuture<'a, Result<ConfigCheckOutput, StageError>> {
        Box::pin(async move {
            if self.problems.is_empty() {
                Ok(self.summary.clone())
            } else {
                Err(StageError::Fatal(format!("configuration problems: {}", self.problems.join("; "))))
            }
        })
    }
}
