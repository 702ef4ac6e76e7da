//! The CLI's [`SyncSink`]: the ledger goes to the state folder, progress to a bar on a
//! terminal (plain lines otherwise), and Ctrl-C asks execution to stop before its next batch.
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::state::StateStore;
use crate::ledger::Ledger;
use crate::sync::{SinkError, SyncSink};

/// Plain progress lines at most this often (CI logs stay short).
const PLAIN_INTERVAL: Duration = Duration::from_secs(2);

/// Where progress goes.
pub enum Progress {
    Bar(ProgressBar),
    Plain {
        label: String,
        total: u64,
        last: Instant,
    },
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub fn new(label: &str, total: u64) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} contacts {elapsed_precise} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_owned());
            Self::Bar(bar)
        } else {
            Self::Plain {
                label: label.to_owned(),
                total,
                last: Instant::now(),
            }
        }
    }

    fn update(&mut self, done: u64) {
        match self {
            Self::Bar(bar) => bar.set_position(done),
            Self::Plain { label, total, last } => {
                if last.elapsed() >= PLAIN_INTERVAL || done == *total {
                    *last = Instant::now();
                    eprintln!("{label}: {done}/{total} contacts");
                }
            }
        }
    }

    fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Persists one task's ledger in the state folder.
pub struct FileSink<'a> {
    pub store: &'a StateStore,
    pub namespace: String,
    pub task: String,
    pub progress: Option<Progress>,
    /// Contacts in the plan being executed, for the bar.
    pub total: u64,
    pub stop: Arc<AtomicBool>,
}

impl FileSink<'_> {
    pub fn finish(&mut self) {
        if let Some(progress) = self.progress.take() {
            progress.finish();
        }
    }
}

impl SyncSink for FileSink<'_> {
    /// An append to the task's journal file, or now and then a snapshot (`StateStore::save`).
    async fn save_ledger(&mut self, ledger: &mut Ledger) -> Result<(), SinkError> {
        self.store.save(&self.namespace, &self.task, ledger)
    }

    /// One batch a window: a save appends what the batch changed, so saving before every
    /// batch costs little, and a crash leaves at most the batch in flight in doubt.
    fn window_items(&self, _ledger_len: usize) -> usize {
        0
    }

    async fn progress(&mut self, pending_add: u64, pending_remove: u64) {
        let done = self.total.saturating_sub(pending_add + pending_remove);
        if let Some(progress) = self.progress.as_mut() {
            progress.update(done);
        }
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}
