//! The model prompt, built from the [`DayRecord`] only and scrubbed of every registered secret,
//! and the validation of the model's JSON answer.

use serde::Deserialize;
use serde_json::json;

use crate::domain::journal::DayRecord;
use crate::domain::strategy::ParamSpec;
use crate::telemetry::scrubbed;

/// Section keywords every journal (model-written or template) has in a Markdown heading.
pub const REQUIRED_SECTIONS: [&str; 7] =
    ["summary", "stages", "orders", "fills", "positions", "guardrails", "disconnects"];

/// The system message: the role, the answer format and the required sections.
pub const SYSTEM_PROMPT: &str = "You are the trading journal writer of an automated KRX equity trading service. \
Write from the JSON day record only; never invent trades, prices or numbers. \
Answer with one JSON object and nothing else: \
{\"journal_markdown\": string, \"summary\": string, \"param_draft\": object or null, \"rationale\": string}. \
journal_markdown is a Markdown trade journal with these level-2 headings, in order: \
## Summary, ## Stages, ## Orders, ## Fills, ## Positions & P&L, ## Guardrails & errors, ## Disconnects. \
summary is at most three sentences for a chat notification. \
param_draft proposes the strategy's parameters for the next trade date as an object of numbers within the \
given bounds (only the listed names), or null to keep the current ones; rationale explains the draft.";

/// Limits on the model's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// Largest accepted journal, in bytes.
    pub max_markdown_bytes: usize,
    /// Largest accepted summary, in bytes.
    pub max_summary_bytes: usize,
    /// Largest accepted rationale, in bytes.
    pub max_rationale_bytes: usize,
}

impl Default for OutputLimits {
    fn default() -> Self {
        Self { max_markdown_bytes: 64 * 1024, max_summary_bytes: 2 * 1024, max_rationale_bytes: 8 * 1024 }
    }
}

/// Builds the user message: the day record, the strategy's parameter schema and its current
/// parameters, as JSON. Every registered secret is scrubbed from the result.
pub fn build_prompt(
    record: &DayRecord,
    strategy: &str,
    specs: &[ParamSpec],
    current_params: &serde_json::Value,
) -> String {
    let schema: Vec<serde_json::Value> = specs
        .iter()
        .map(|s| {
            json!({ "name": s.name, "kind": s.kind, "min": s.min, "max": s.max, "default": s.default,
                         "description": s.description })
        })
        .collect();
    let body = json!({
        "day_record": record,
        "strategy": { "name": strategy, "parameters": schema, "current": current_params },
    });
    let text = serde_json::to_string_pretty(&body).unwrap_or_default();
    scrubbed(&format!("Write the trade journal for this day.\n\n{text}"))
}

/// The model's validated answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiJournal {
    /// The Markdown journal.
    pub journal_markdown: String,
    /// The notification summary.
    pub summary: String,
    /// The proposed next-day parameters, if any (validated separately against the schema).
    pub param_draft: Option<serde_json::Map<String, serde_json::Value>>,
    /// Why the draft is proposed.
    pub rationale: String,
}

/// Why a model answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The answer is not the requested JSON object.
    #[error("answer is not the requested JSON object: {0}")]
    NotJson(String),
    /// A text field is empty.
    #[error("answer field {0} is empty")]
    Empty(&'static str),
    /// A field exceeds its limit.
    #[error("answer field {field} exceeds {limit} bytes")]
    TooLarge {
        /// The field.
        field: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The journal lacks required section headings.
    #[error("journal lacks the sections {0:?}")]
    MissingSections(Vec<&'static str>),
}

#[derive(Deserialize)]
struct RawAnswer {
    journal_markdown: String,
    summary: String,
    #[serde(default)]
    param_draft: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    rationale: String,
}

/// Returns the required section keywords that no Markdown heading of `markdown` names.
pub fn missing_sections(markdown: &str) -> Vec<&'static str> {
    let headings: Vec<String> =
        markdown.lines().map(str::trim_start).filter(|l| l.starts_with('#')).map(str::to_lowercase).collect();
    REQUIRED_SECTIONS.into_iter().filter(|s| !headings.iter().any(|h| h.contains(s))).collect()
}

/// Validates the model's answer: one JSON object (a surrounding code fence is tolerated) with a
/// non-empty journal holding every required section, a non-empty summary, an object or null
/// draft, all within the limits.
///
/// # Errors
/// Returns [`AnswerError`] describing the first problem.
pub fn parse_answer(content: &str, limits: &OutputLimits) -> Result<AiJournal, AnswerError> {
    let trimmed = content.trim();
    let unfenced = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|s| s.strip_suffix("```"))
        .unwrap_or(trimmed);
    let raw: RawAnswer = serde_json::from_str(unfenced.trim()).map_err(|e| {
        let mut msg = e.to_string();
        msg.truncate(200);
        AnswerError::NotJson(msg)
    })?;
    let check = |field: &'static str, text: &str, limit: usize, required: bool| {
        if required && text.trim().is_empty() {
            Err(AnswerError::Empty(field))
        } else if text.len() > limit {
            Err(AnswerError::TooLarge { field, limit })
        } else {
            Ok(())
        }
    };
    check("journal_markdown", &raw.journal_markdown, limits.max_markdown_bytes, true)?;
    check("summary", &raw.summary, limits.max_summary_bytes, true)?;
    check("rationale", &raw.rationale, limits.max_rationale_bytes, false)?;
    let missing = missing_sections(&raw.journal_markdown);
    if !missing.is_empty() {
        return Err(AnswerError::MissingSections(missing));
    }
    Ok(AiJournal {
        journal_markdown: scrubbed(&raw.journal_markdown),
        summary: scrubbed(raw.summary.trim()),
        param_draft: raw.param_draft,
        rationale: scrubbed(raw.rationale.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD: &str = "# Journal\n## Summary\nok\n## Stages\n## Orders\n## Fills\n## Positions & P&L\n\
                      ## Guardrails & errors\n## Disconnects\n";

    fn answer(md: &str, draft: serde_json::Value) -> String {
        json!({"journal_markdown": md, "summary": "quiet day", "param_draft": draft, "rationale": "r"})
            .to_string()
    }

    #[test]
    fn a_complete_answer_is_accepted_even_fenced() {
        let limits = OutputLimits::default();
        let ok = parse_answer(&answer(MD, json!({"entry_pct": 2.5})), &limits).unwrap();
        assert_eq!(ok.summary, "quiet day");
        assert_eq!(ok.param_draft.unwrap()["entry_pct"], json!(2.5));
        let fenced = format!("```json\n{}\n```", answer(MD, serde_json::Value::Null));
        assert_eq!(parse_answer(&fenced, &limits).unwrap().param_draft, None);
    }

    #[test]
    fn garbage_oversize_and_incomplete_answers_are_refused() {
        let limits = OutputLimits::default();
        assert!(matches!(parse_answer("Sure! Here is your journal.", &limits), Err(AnswerError::NotJson(_))));
        assert!(matches!(parse_answer("{\"summary\": \"x\"}", &limits), Err(AnswerError::NotJson(_))));
        assert!(matches!(parse_answer(&answer(MD, json!([1])), &limits), Err(AnswerError::NotJson(_))));
        let err =
            parse_answer(&answer("## Summary\n## Orders\n", serde_json::Value::Null), &limits).unwrap_err();
        assert_eq!(
            err,
            AnswerError::MissingSections(vec!["stages", "fills", "positions", "guardrails", "disconnects"])
        );
        let small = OutputLimits { max_markdown_bytes: 10, ..limits };
        assert!(matches!(
            parse_answer(&answer(MD, serde_json::Value::Null), &small),
            Err(AnswerError::TooLarge { field: "journal_markdown", .. })
        ));
        let empty = json!({"journal_markdown": MD, "summary": " ", "param_draft": null}).to_string();
        assert_eq!(parse_answer(&empty, &limits), Err(AnswerError::Empty("summary")));
    }
}
