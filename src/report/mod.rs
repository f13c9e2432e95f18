//! What a run shows people: live progress on stderr while it runs
//! (`progress`, a consumer of [`crate::engine::RunEvent`]s), and the reports
//! regenerated from its journal afterwards (`summary` read once, then
//! `results.csv`, `results.jsonl`, `junit.xml`, `summary.md`, and the
//! end-of-run table).
//!
//! Nothing here decides anything about the run; nothing here ever sees a
//! password or a token (journal records and events hold none).
//!
//! # Layout
//!
//! - `status`: [`StatusCounts`], step outcomes counted by status, for the
//!   progress display and the reports alike.
//! - `outcome`: an `Outcome` journal record, borrowed, as the reports read it.
//! - `summary`: the summary every report is rendered from
//!   ([`ReportSummary`], [`RunInfo`], ...) and [`summarize`].
//! - `results`: [`write_reports`], the report files of a run.
//! - `rows`: `results.csv` (formula-injection safe) and `results.jsonl`.
//! - `junit`: `junit.xml`, hand-written and escaped.
//! - `markdown`: `summary.md`.
//! - `table`: [`render_table`], the terminal summary.
//! - `verify`: the verify pass's table and `verify.md`.
//! - `progress`: [`spawn`]: bar on a terminal, counter lines in CI.
//! - `counts`: what progress counts and its line formats.
//! - `text`: escaping of foreign text for terminals, Markdown and XML.
//!
//! Files depend one way: `rows`, `junit`, `markdown` and `table` read
//! `summary` and `outcome`; `results` writes the files through them, and
//! nothing they use depends on `results`.

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
