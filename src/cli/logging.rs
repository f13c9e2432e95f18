//! Diagnostic logs on stderr through `tracing`: the level from `-v`/`-q`,
//! text (coloured per `--color`) or JSON lines per `--log-format`.
//!
//! Logs are for operators and log collectors; they never carry a secret.
//! Call sites log identifiers, counts, statuses and request ids, never a
//! request body, a header value, a token or a password (tested by running
//! with `--log-format json -vvv` and searching stderr for them). remedy's
//! own events follow the level; other crates' are capped at `warn`.

use clap::ValueEnum;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `LEVEL target: message key=value`, for people.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message`
    /// and the event's fields.
    Json,
}

/// The level `-v` and `-q` select: warnings by default; `-v` info, `-vv`
/// debug, `-vvv` trace; `-q` errors only, `-qq` nothing.
#[must_use]
pub fn level(verbose: u8, quiet: u8) -> LevelFilter {
    match (verbose, quiet) {
        (0, 0) => LevelFilter::WARN,
        (0, 1) => LevelFilter::ERROR,
        (0, _) => LevelFilter::OFF,
        (1, _) => LevelFilter::INFO,
        (2, _) => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Installs the global subscriber. A second call (tests) is ignored.
pub fn init(format: LogFormat, level: LevelFilter, color: bool) {
    let filter = Targets::new()
        .with_default(level.min(LevelFilter::WARN))
        .with_target("remedy", level);
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => registry.with(fmt.with_ansi(color)).try_init(),
        LogFormat::Json => registry
            .with(
                fmt.json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_ansi(false),
            )
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_levels() {
        assert_eq!(level(0, 0), LevelFilter::WARN);
        assert_eq!(level(1, 0), LevelFilter::INFO);
        assert_eq!(level(2, 0), LevelFilter::DEBUG);
        assert_eq!(level(5, 0), LevelFilter::TRACE);
        assert_eq!(level(0, 1), LevelFilter::ERROR);
        assert_eq!(level(0, 2), LevelFilter::OFF);
    }
}
