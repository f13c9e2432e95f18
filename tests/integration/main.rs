//! End-to-end tests: the real `remedy` binary, driven like a user or a CI
//! job would.

mod support;

mod cli;
mod corpus;
mod docs;
mod doctor;
mod emulator;
mod formats;
mod graph;
mod hostile;
mod run;
mod schema;
