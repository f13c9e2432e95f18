//! The terminal side of a session: how each [`Notice`] looks and where it
//! goes (tables and summaries to stdout, everything else to stderr), the
//! confirmation prompt, and the end of the process on a second Ctrl-C.
//! Also how a [`SessionError`] is shown.

use std::io::{BufRead, IsTerminal, Write};

use crate::diag;
use crate::exit_code;
use crate::report::one_line;
use crate::session::{Confirmation, Notice, SessionError, Ui};

/// Failed users listed in the end-of-run table.
const TABLE_FAILURES: usize = 20;

/// The operator's terminal.
pub struct Terminal {
    /// Colour on stderr (diagnostics).
    pub color: bool,
}

fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

impl Ui for Terminal {
    fn notice(&self, notice: Notice) {
        match notice {
            Notice::Diagnostics(d) => eprint!("{}", diag::render_human(&d, self.color, 100)),
            Notice::Shard {
                shard,
                users,
                csv_rows,
            } => eprintln!("shard {shard}: {users} of the CSV's {csv_rows} users"),
            Notice::Emulator { url, tenant } => eprintln!(
                "EMULATOR: running against the built-in Graph emulator at {url} (tenant {tenant}); no real tenant is touched"
            ),
            Notice::PreflightSkipped => {
                eprintln!("note: permission preflight skipped (--no-preflight)");
            }
            Notice::OpaqueToken => eprintln!(
                "note: the access token is not a JWT (opaque), so its permissions cannot be read; permission preflight skipped"
            ),
            Notice::WouldBeRefused(m) => {
                eprintln!("warning: a real run would be refused: {}", one_line(&m));
            }
            Notice::Resuming { run_id, done } => {
                eprintln!("resuming run {run_id} ({done} users already done)");
            }
            Notice::TornJournal { bytes } => eprintln!(
                "note: cut {bytes} bytes of a torn last journal line (the process died mid-write)"
            ),
            Notice::TornSecrets { bytes } => eprintln!(
                "note: cut {bytes} bytes of a torn last line of secrets.csv (the process died mid-write; that reset was never sent)"
            ),
            Notice::Applying {
                file,
                created,
                run_id,
                changes,
                users,
            } => eprintln!(
                "applying plan {} (made {created} by run {run_id}): {changes} changes for {users} users; nothing else is changed",
                file.display()
            ),
            Notice::DryRun => eprintln!("DRY RUN: reading live state; nothing will be changed"),
            Notice::Error(e) => eprintln!("error: {}", one_line(&e)),
            Notice::Warning(w) => eprintln!("warning: {}", one_line(&w)),
            Notice::Table { summary, dry_run } => out(&crate::report::render_table(
                &summary,
                dry_run,
                TABLE_FAILURES,
            )),
            Notice::PlanSaved { end, out: file } => out(&super::render::plan_summary(&end, &file)),
            Notice::Drifted(d) => out(&super::render::drifted(&d)),
            Notice::Verifying { run_id } => {
                eprintln!("verifying: reading back every user run {run_id} acted on");
            }
            Notice::Verified { summary, jsonl, md } => {
                out(&crate::report::render_verify_table(&summary));
                eprintln!("verify report: {} and {}", jsonl.display(), md.display());
            }
            Notice::Recorded { run_id, path } => {
                eprintln!("run {run_id} recorded in {}", path.display());
            }
            Notice::Secrets { path, not_set } => {
                eprintln!(
                    "new passwords: {} (mode 0600; hand them to the users securely, then delete the file)",
                    path.display()
                );
                if not_set > 0 {
                    eprintln!(
                        "  {not_set} of them were never set (the reset failed): hand out only the passwords of users whose reset is `changed` in results.csv"
                    );
                }
            }
            Notice::Interrupted { again, run_id } => {
                eprintln!("interrupted: resume with `{again} --resume {run_id}`");
            }
            Notice::GuardStopped { reason } => {
                eprintln!("stopped by a guard: {}", one_line(&reason));
            }
            Notice::AlreadyCompleted {
                run_id,
                users,
                failed,
                path,
            } => eprintln!(
                "run {run_id} already completed ({users} users, {failed} failed); nothing to do. Reports: {}",
                path.display()
            ),
            Notice::Stopping { in_flight } => eprintln!(
                "stopping: {in_flight} request{} in flight; Ctrl-C again to stop now",
                if in_flight == 1 { "" } else { "s" }
            ),
        }
    }

    fn can_ask(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    fn confirm(&self, c: &Confirmation) -> bool {
        eprint!("{}", c.text);
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).is_ok()
            && matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
    }

    fn abort(&self, run_id: &str) -> ! {
        eprintln!("aborted; resume with --resume {run_id}");
        std::process::exit(i32::from(exit_code::INTERRUPTED));
    }
}

/// Shows why a session could not run and returns its exit code.
pub fn report_error(e: &SessionError) -> u8 {
    match e {
        // Not an error of remedy's: the operator said no.
        SessionError::Declined => eprintln!("{e}"),
        SessionError::Permissions(missing) => {
            eprintln!("error: {e}");
            for m in missing {
                eprintln!("  {}", one_line(&m.describe()));
            }
        }
        // The message may quote a server (an AADSTS description, an
        // issuer) or the CSV: one line, nothing a terminal would obey.
        _ => eprintln!("error: {}", one_line(&e.to_string())),
    }
    if let Some(h) = e.hint() {
        eprintln!("  hint: {}", one_line(&h));
    }
    e.exit_code()
}
