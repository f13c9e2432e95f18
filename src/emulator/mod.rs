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
//!   `GET /v1.0/users/{id}/memberOf[/microsoft.graph.directoryRole]`,
//!   `GET /v1.0/users/{id}/transitiveMemberOf`, `GET /v1.0/users/{id}/ownedObjects`.
//! - `GET /v1.0/roleManagement/directory/roleAssignments` and
//!   `.../roleEligibilityScheduleInstances` (`$filter=principalId eq '{id}'`),
//!   `GET /v1.0/roleManagement/directory/roleDefinitions/{id}`,
//!   `GET /v1.0/domains/{name}`.
//! - The tenant's rules for whom the app may change: its service
//!   principal's directory roles (`--app-role`), privileged users (roles,
//!   role-assignable groups, PIM eligibility) and restricted management
//!   units; synced users (`--synced-reset`); PIM's licence.
//! - `POST /v1.0/$batch` (≤ 20 items, `dependsOn`, shuffled answers).
//! - Throttling as Graph's identity service does it: per app a limit of
//!   resource units (`--rate`/`--burst`; one per request, or Graph's costs
//!   with `--costs graph`) and a write quota (`--write-rate`/`--write-burst`),
//!   token buckets or fixed windows (`--window-s`); 429 with `Retry-After`,
//!   `x-ms-throttle-scope` (`Read`, `Write` or `ReadWrite`) and
//!   `x-ms-throttle-information`; `x-ms-resource-unit` on every metered
//!   answer and `x-ms-throttle-limit-percentage` as `--level-header` and
//!   `--level-header-on` say.
//! - Injected 500/503s, 504 Gateway Timeouts (half of them applied), slow
//!   answers and dropped connections, all seeded and reproducible.
//! - Test hooks: `GET /_stats`, `GET /_users`, `POST /_reset`.
//!
//! # Layout
//!
//! | file | owns |
//! |---|---|
//! | `config.rs` | [`EmulatorConfig`] (defaults = the CLI's), [`Costs`], [`LevelHeader`], [`LevelHeaderOn`] and its https files ([`TlsFiles`]), validation, [`EmulatorError`] |
//! | `server.rs` | accept loop, per-connection kill switch, top-level routing, [`start`], [`serve`] |
//! | `tls.rs` | https: the certificate and key loaded into an acceptor, the bounded handshake |
//! | `state.rs` | [`State`]: everything one emulator holds |
//! | `paths.rs` | Graph path parsing: routes, percent-decoding, OData keys |
//! | `routes.rs` | the shared pipeline (count, meter, fault, dispatch); write attempts per user |
//! | `meter.rs` | what a request costs (resource units, writes), charging both limits, the 429's scope and information, the level header's modes |
//! | `query.rs` | the OData query options read (`$select`, `$top`, `$skiptoken`, `$filter`) and refused |
//! | `ctx.rs` | what handlers share: the request context, permission checks, common errors, paging |
//! | `users.rs` | the user endpoints and their rules (permissions, the app's role, privileged targets, sync, passwords) |
//! | `memberships.rs` | `memberOf`, `transitiveMemberOf`, `ownedObjects`, limited information |
//! | `role_management.rs` | role assignments, PIM eligibility, role definitions |
//! | `domains.rs` | `GET /domains/{name}` |
//! | `select.rs` | `$select`, default properties, rendering users, roles and other directory objects |
//! | `batch.rs` | `$batch`: parsing, `dependsOn` ordering, 424s, shuffling, the envelope's level |
//! | `token.rs` | the token endpoint and its OAuth errors |
//! | `jwt.rs` | issuing and checking access tokens |
//! | `throttle.rs` | one per-app limit: a token bucket or a fixed window, usage counted while refused |
//! | `faults.rs` | seeded fault decisions (500/503, 504 before or after applying, slow, dropped) |
//! | `directory.rs` | users, indexes, per-user locks, the few users' extras (roles, groups, units) |
//! | `objects.rs` | groups, administrative units, applications, domains |
//! | `privilege.rs` | who counts as privileged; roles held through groups |
//! | `view.rs` | [`UserView`], a user as `/_users` shows it |
//! | `seed.rs` | generated users, with seeded state and kinds at fixed shares; the app's roles |
//! | `seed_csv.rs` | users from a CSV: columns, account state, diagnostics |
//! | `seed_links.rs` | a CSV's privilege lists: roles, groups, units, applications by name |
//! | `roles.rs` | directory roles (built-in or custom), template ids, which roles may change whom |
//! | `password.rs` | Entra's password rules for resets |
//! | `response.rs` | replies and Graph/OAuth error bodies |
//! | `stats.rs` | counters and [`Stats`] |
//! | `hooks.rs` | `/_stats`, `/_users`, `/_reset` |
//! | `ids.rs` | derived GUIDs, counter-based randomness, request ids |
//! | `clock.rs` | Unix seconds and their three text forms |
//! | `testing.rs` | unit tests only: a state seeded from CSV text (its limits' clock stopped), requests and batches without a socket |

mod batch;
mod clock;
mod config;
mod ctx;
mod directory;
mod domains;
mod faults;
mod hooks;
mod ids;
mod jwt;
mod memberships;
mod meter;
mod objects;
mod password;
mod paths;
mod privilege;
mod query;
mod response;
mod role_management;
mod roles;
mod routes;
mod seed;
mod seed_csv;
mod seed_links;
mod select;
mod server;
mod state;
mod stats;
#[cfg(test)]
mod testing;
pub(crate) mod throttle;
mod tls;
mod token;
mod users;
mod view;

pub use config::{
    Costs, DEFAULT_APP_ROLE, DEFAULT_GENERATED_USERS, DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID,
    EmulatorConfig, EmulatorError, LevelHeader, LevelHeaderOn, MAX_PAGE_SIZE, SyncedReset,
    TlsFiles, UserSource, WRITE_BURST_SECONDS,
};
pub use server::{RunningEmulator, serve, start};
pub use state::State;
pub use stats::{ByOperation, FaultStats, Stats, ThrottledByScope};
pub use view::UserView;
