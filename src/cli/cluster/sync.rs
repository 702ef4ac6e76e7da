//! `callsync sync CALLTASK [--wait]`: ask the controller for a sync now, before the task's
//! `resyncInterval` (Flux's `flux reconcile`).
use super::wait::{self, Expect};
use super::{Cluster, ClusterError, Target, Waiting};

/// Ask the controller to sync a CallTask now.
#[derive(clap::Args, Debug, Clone)]
pub struct SyncArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub waiting: Waiting,
}

pub async fn run(args: SyncArgs) -> Result<(), ClusterError> {
    let cluster = Cluster::connect(&args.target).await?;
    let name = &args.target.name;
    let task = cluster.get(name).await?;
    // A suspended task would only echo the request without syncing: say so instead.
    if task.spec.suspend {
        return Err(ClusterError::Suspended {
            name: name.clone(),
            namespace: cluster.namespace.clone(),
        });
    }
    let request = cluster.request(name, None).await?;
    println!(
        "sync requested: CallTask {}/{name} (callsync.io/requestedAt={request})",
        cluster.namespace
    );
    if args.waiting.wait {
        let task = wait::handled(&cluster, name, &request, args.waiting.timeout).await?;
        println!("{}", wait::verdict(&cluster, &task, Expect::Ready)?);
    }
    Ok(())
}
