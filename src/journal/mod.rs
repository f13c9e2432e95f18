//! The run journal: an append-only JSON Lines file recording, for every user
//! and step, the intent to act (before the request is sent) and the outcome.
//!
//! It is what makes `--resume` safe: an outcome recorded means "do not do it
//! again"; an intent without an outcome means "the request may or may not
//! have reached Graph: read the user back and decide". Records are written
//! by one thread with group commit (`writer`), and read back tolerating a
//! torn last line (`replay`). The journal is on the write path, not a
//! reporter: reporters consume run events; the journal guards the service.

mod record;
mod replay;
mod scan;
mod writer;

pub use record::{Before, Header, Record, StepStatus, UserStatus, key_hash};
pub use replay::{Replay, ReplayError, UserProgress};
pub use scan::for_each_record;
pub use writer::{Journal, JournalStats};

/// Version of the journal format, in the header line.
pub const FORMAT: u32 = 1;
