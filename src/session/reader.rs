//! The threads and tasks around the engine: the CSV reader that streams
//! rows into a bounded channel, and the signal watcher (Ctrl-C or SIGTERM
//! once: start nothing new, finish what was sent; twice: end now).

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::engine::{Row, RunEvent, StopSignal};
use crate::input::UserReader;
use crate::playbook::Playbook;
use crate::session::ui::{Notice, Ui};
use crate::shard::Shard;

/// First Ctrl-C/SIGTERM: no new user and no new step starts; requests
/// already sent finish and are journaled. Second: exit now (the journal stays consistent: a torn last line is cut
/// on resume).
pub(super) fn watch_signals(
    stop: StopSignal,
    events: &mpsc::UnboundedSender<RunEvent>,
    run_id: String,
    ui: Arc<dyn Ui>,
) {
    // A weak sender: this task must not keep the progress display alive.
    let events = events.downgrade();
    tokio::spawn(async move {
        if wait_signal().await.is_err() {
            return;
        }
        stop.stop();
        if let Some(events) = events.upgrade() {
            let _ = events.send(RunEvent::Interrupted);
        }
        ui.notice(Notice::Stopping {
            in_flight: stop.in_flight(),
        });
        if wait_signal().await.is_ok() {
            ui.abort(&run_id);
        }
    });
}

async fn wait_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

/// Streams the CSV on its own thread into a bounded channel: memory holds
/// at most the channel's rows plus the users in flight.
pub(super) fn spawn_reader(
    path: PathBuf,
    name: String,
    playbook: Arc<Playbook>,
    shard: Option<Shard>,
    tx: mpsc::Sender<Row>,
) -> std::thread::JoinHandle<Result<(), String>> {
    std::thread::spawn(move || {
        let mut reader = UserReader::open(&path, &name).map_err(|d| d.to_string())?;
        let header = reader.header().clone();
        let key = header.index_of(&playbook.input.key).ok_or_else(|| {
            format!(
                "{name}: the key column `{}` disappeared",
                playbook.input.key
            )
        })?;
        let columns: Vec<Option<usize>> = playbook
            .input
            .columns
            .iter()
            .map(|c| header.index_of(c))
            .collect();
        while let Some(row) = reader.next_row() {
            let row =
                row.map_err(|d| format!("the CSV changed while the run was reading it: {d}"))?;
            let key_cell = row.fields.get(key).map_or("", String::as_str);
            if shard.is_some_and(|s| !s.contains(key_cell)) {
                continue;
            }
            let values = columns
                .iter()
                .map(|i| {
                    i.and_then(|i| row.fields.get(i).cloned())
                        .unwrap_or_default()
                })
                .collect();
            let r = Row {
                row: row.row,
                key: row.fields.get(key).cloned().unwrap_or_default(),
                values,
            };
            if tx.blocking_send(r).is_err() {
                // The engine stopped scheduling (guard or Ctrl-C).
                break;
            }
        }
        Ok(())
    })
}
