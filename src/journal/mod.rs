//! The after-close AI journal: the day's record from the database, the chat-completions client,
//! the prompt and answer validation, the template fallback, the batch, and next-day parameter
//! drafts that the operator approves or rejects. The [`DayRecord`] itself and its P&L recomputation
//! live in [`crate::domain::journal`].
//!
//! - [`llm`]: the OpenAI-compatible chat-completions client.
//! - [`prompt`]: the secret-free prompt and the validation of the model's JSON answer.
//! - [`template`]: the deterministic Markdown journal.
//! - [`drafts`]: the documented draft rule, schema validation and approval.
//! - [`batch`]: the batch, [`run_journal_batch`].

pub mod batch;
pub mod drafts;
pub mod llm;
pub mod prompt;
pub mod template;

pub use crate::domain::journal::{DayRecord, EventClasses};
pub use batch::{JournalConfig, JournalError, JournalOutcome, JournalSource, run_journal_batch};
pub use drafts::{DraftSource, REFERENCE_STRATEGY, rule_draft, validate_draft};
pub use llm::{ChatFailure, ChatReply, LlmClient, LlmConfig, LlmError};
pub use prompt::{AiJournal, AnswerError, OutputLimits, build_prompt, parse_answer};
