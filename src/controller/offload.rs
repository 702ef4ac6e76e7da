//! CPU-heavy steps off the async workers.
//!
//! Building the desired set of a large task and encoding or decoding its ledger take seconds
//! of CPU. Run on an async worker they hold it for that long, and every task queued on it waits
//! — the leader lease renewal among them (15 s), so a long decode could lose the lease and
//! start a second leader. [`cpu_heavy`] runs such a step in place (it borrows from the
//! caller, so nothing is cloned) after handing the worker's other tasks to another thread.
use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `step` where it cannot starve other tasks: through `block_in_place` on a
/// multi-threaded runtime (the controller's), in place elsewhere — a current-thread runtime
/// (most tests) cannot hand its tasks over, and outside a runtime there are none to starve.
pub fn cpu_heavy<R>(step: impl FnOnce() -> R) -> R {
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(step),
        _ => step(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;

    /// With one worker, a 600 ms CPU step run through `cpu_heavy` lets a 50 ms ticker (the
    /// stand-in for the lease renewal) keep ticking; run on the worker itself it would not
    /// tick once until the step ends.
    #[test]
    fn other_tasks_run_while_a_cpu_heavy_step_runs() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let ticks = runtime.block_on(async {
            let ticks = Arc::new(AtomicU32::new(0));
            let counter = ticks.clone();
            let ticker = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
            // Let the ticker start on the only worker.
            tokio::time::sleep(Duration::from_millis(10)).await;
            let during = tokio::spawn({
                let ticks = ticks.clone();
                async move {
                    let before = ticks.load(Ordering::SeqCst);
                    cpu_heavy(|| std::thread::sleep(Duration::from_millis(600)));
                    ticks.load(Ordering::SeqCst) - before
                }
            })
            .await
            .expect("step");
            ticker.abort();
            during
        });
        assert!(
            ticks >= 5,
            "the ticker ticked {ticks} times during the step"
        );
    }

    #[test]
    fn runs_in_place_without_a_multi_threaded_runtime() {
        assert_eq!(cpu_heavy(|| 41 + 1), 42);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(runtime.block_on(async { cpu_heavy(|| 7) }), 7);
    }
}
