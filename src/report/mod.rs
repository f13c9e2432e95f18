//! What a run shows people: live progress on stderr while it runs
//! (`progress`, a consumer of [`crate::engine::RunEvent`]s), and the reports
//! regenerated from its journal afterwards (`results`: `results.csv`,
//! `results.jsonl`, `junit.xml`, `summary.md`, and the end-of-run table).
//!
//! Nothing here decides anything about the run; nothing here ever sees a
//! password or a token (journal records and events hold none).
//!
//! # Layout
//!
//! - `results`: the public report types, [`summarize`] and [`write_reports`].
//! - `scan`: streams journal records in bounded memory.
//! - `rows`: `results.csv` (formula-injection safe) and `results.jsonl`.
//! - `junit`: `junit.xml`, hand-written and escaped.
//! - `markdown`: `summary.md`.
//! - `table`: [`render_table`], the terminal summary.
//! - `progress`: [`spawn`]: bar on a terminal, counter lines in CI.
//! - `counts`: what progress counts and its line formats.
//! - `text`: escaping of foreign text for terminals, Markdown and XML.

mod counts;
mod junit;
mod markdown;
mod outcome;
pub mod progress;
pub mod results;
mod rows;
mod status;
mod summary;
mod table;
mod text;
mod verify;

pub use markdown::render as render_markdown;
pub use progress::{ProgressMode, ProgressTotals, spawn};
pub use results::write_reports;
pub use status::StatusCounts;
pub use summary::{FailedStep, MAX_FAILURES, ReportSummary, RunInfo, StepSummary, summarize};
pub use table::render_table;
pub use text::one_line;
pub use verify::{render_verify_markdown, render_verify_table};
