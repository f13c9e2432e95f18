//! End-to-end tests: the real `remedy` binary, driven like a user or a CI
//! job would.

mod support;

mod accounts;
mod ad;
mod cli;
mod compat;
mod corpus;
mod docs;
mod doctor;
mod emulator;
mod files;
mod formats;
mod graph;
mod guide;
mod history;
mod hostile;
mod ldap;
mod plan;
mod privileged;
mod process;
mod proxy;
mod run;
mod samba;
mod samba_dc;
mod schema;
mod shard;
mod shell;
mod tenant;
mod tls;
