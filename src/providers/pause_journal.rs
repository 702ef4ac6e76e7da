//! Where a longlonglong pause is written down before it is made.
//!
//! Pause → change → resume (`longlonglong::pause`) resumes the task whatever the change did, and
//! a guard resumes it if the change is cancelled. A process killed between the pause and the
//! resume runs neither: the task stays paused for good, and the next sync, seeing a paused task,
//! cannot tell callsync's pause from one a person made. So the pause is recorded durably first
//! (the controller: an annotation on the CallTask; `callsync apply`: a file beside the task's
//! ledger) and the record is cleared after the resume. The next sync of a task whose record is
//! still there starts the task again before anything else (`sync::pause_recovery`), or stops with
//! `TaskLeftPaused`. A record that cannot be written means no pause is made.
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

/// A durable note "callsync paused this task and has not started it again".
pub trait PauseJournal: Send + Sync + std::fmt::Debug {
    /// Writes the note; `Err` (said in words) when it could not be made durable.
    fn record(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Removes the note after the task was started again.
    fn clear(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// The journal of one task's client.
pub type SharedPauseJournal = Arc<dyn PauseJournal>;

/// A journal in memory: for a run whose provider state is thrown away with it (`--simulate`
/// without a state folder) and for tests. `fail` makes `record` refuse.
#[derive(Debug, Default)]
pub struct MemoryPauseJournal {
    recorded: Mutex<bool>,
    fail: bool,
}

impl MemoryPauseJournal {
    /// A journal whose `record` always fails (a store that cannot be written).
    pub fn failing() -> Self {
        Self {
            recorded: Mutex::new(false),
            fail: true,
        }
    }

    /// A journal that already holds a note (what a killed process leaves behind).
    pub fn holding_a_pause() -> Self {
        Self {
            recorded: Mutex::new(true),
            fail: false,
        }
    }

    pub fn is_recorded(&self) -> bool {
        *self.recorded.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, value: bool) {
        *self.recorded.lock().unwrap_or_else(|e| e.into_inner()) = value;
    }
}

impl PauseJournal for MemoryPauseJournal {
    fn record(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if self.fail {
                return Err("the pause journal cannot be written".to_owned());
            }
            self.set(true);
            Ok(())
        })
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.set(false);
            Ok(())
        })
    }
}
