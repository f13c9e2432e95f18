//! What a check is held to: the playbook's [`InputSpec`] (the key column
//! and the columns it uses), and [`MAX_DIAGNOSTICS`], how many problems one
//! file's check keeps. Shared by the checker, its rules and the duplicate
//! finder.

/// At most this many diagnostics are kept per file; the rest are counted
/// in one final `csv::too-many-problems`.
pub const MAX_DIAGNOSTICS: usize = 200;

/// What a playbook expects of its CSV: the key column and the columns it
/// uses (the key may be listed there too).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputSpec {
    pub key: String,
    pub columns: Vec<String>,
}
