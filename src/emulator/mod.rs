//! A Microsoft Graph–compatible emulator, so that tests, benchmarks and
//! first-time users can run remedy on a machine that cannot (or must not)
//! reach a real tenant. remedy's Graph client talks to it unchanged: paths,
//! bodies, status codes and error shapes are those of Graph v1.0 and of the
//! Microsoft identity platform: the client-credentials token request and
//! its OAuth error bodies (`error`, `error_description` with an `AADSTS`
//! code, `error_codes`); user reads, PATCHes (204) and revocations (200);
//! Graph's error body `{"error":{"code","message","innerError"}}` with
//! `request-id` and `client-request-id`; 429 with `Retry-After`; `$batch`
//! answers in any order with 424 for dependents of a failed item; and
//! Entra's password rules for resets.
//!
//! It serves, on loopback only, plain http or (with [`TlsFiles`]) https:
//!
//! - `POST /{tenant}/oauth2/v2.0/token`: client credentials with a secret or
//!   a client assertion (shape-checked; its signature is not verified).
//! - `GET|PATCH /v1.0/users/{id|upn}`, `GET /v1.0/users`,
//!   `POST /v1.0/users/{id}/revokeSignInSessions`,
//!   `GET /v1.0/users/{id}/memberOf/microsoft.graph.directoryRole`.
//! - `POST /v1.0/$batch` (≤ 20 items, `dependsOn`, shuffled answers).
//! - Throttling (`--rate`/`--burst`), injected 500/503s, slow answers and
//!   dropped connections, all seeded and reproducible.
//! - Test hooks: `GET /_stats`, `GET /_users`, `POST /_reset`.
//!
//! # Layout
//!
//! | file | owns |
//! |---|---|
//! | `config.rs` | [`EmulatorConfig`] (defaults = the CLI's) and its https files ([`TlsFiles`]), validation, [`EmulatorError`] |
//! | `server.rs` | accept loop, per-connection kill switch, top-level routing, [`start`], [`serve`] |
//! | `tls.rs` | https: the certificate and key loaded into an acceptor, the bounded handshake |
//! | `state.rs` | [`State`]: everything one emulator holds |
//! | `routes.rs` | Graph path parsing and the shared pipeline (count, throttle, fault, dispatch) |
//! | `query.rs` | the OData query options read (`$select`, `$top`, `$skiptoken`) and refused |
//! | `users.rs` | the user endpoints and their rules (permissions, admins, sync, passwords) |
//! | `select.rs` | `$select`, default properties, rendering users and roles |
//! | `batch.rs` | `$batch`: parsing, `dependsOn` ordering, 424s, shuffling |
//! | `token.rs` | the token endpoint and its OAuth errors |
//! | `jwt.rs` | issuing and checking access tokens |
//! | `throttle.rs` | the per-app token bucket |
//! | `faults.rs` | seeded fault decisions |
//! | `directory.rs` | users, indexes, per-user locks, [`UserView`] |
//! | `seed.rs` | users from a CSV or generated, with seeded state |
//! | `roles.rs` | directory roles and their template ids |
//! | `password.rs` | Entra's password rules for resets |
//! | `response.rs` | replies and Graph/OAuth error bodies |
//! | `stats.rs` | counters and [`Stats`] |
//! | `hooks.rs` | `/_stats`, `/_users`, `/_reset` |
//! | `ids.rs` | derived GUIDs, counter-based randomness, request ids |
//! | `clock.rs` | Unix seconds and their three text forms |

mod batch;
mod clock;
mod config;
mod directory;
mod faults;
mod hooks;
mod ids;
mod jwt;
mod password;
mod query;
mod response;
mod roles;
mod routes;
mod seed;
mod select;
mod server;
mod state;
mod stats;
pub(crate) mod throttle;
mod tls;
mod token;
mod users;

pub use config::{
    DEFAULT_GENERATED_USERS, DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID, EmulatorConfig,
    EmulatorError, MAX_PAGE_SIZE, TlsFiles, UserSource,
};
pub use directory::UserView;
pub use server::{RunningEmulator, serve, start};
pub use state::State;
pub use stats::{ByOperation, FaultStats, Stats};
