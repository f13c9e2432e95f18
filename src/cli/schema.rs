//! `remedy schema`: print the playbook's JSON Schema.

use clap::Args;

use crate::exit_code;

/// Print the JSON Schema of the playbook language.
///
/// The schema is generated from the same Rust types the loader uses, so
/// editors and other tools see exactly what remedy accepts. The checked-in
/// copy is `schemas/playbook.schema.json`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy schema > schemas/playbook.schema.json
  # then, at the top of a playbook, for editors using yaml-language-server:
  # yaml-language-server: $schema=../schemas/playbook.schema.json")]
pub struct SchemaArgs {}

/// The schema as pretty-printed JSON with a trailing newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(crate::playbook::model::PlaybookDoc);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serializes");
    s.push('\n');
    s
}

pub fn run(_args: &SchemaArgs) -> u8 {
    print!("{}", schema_json());
    exit_code::OK
}
