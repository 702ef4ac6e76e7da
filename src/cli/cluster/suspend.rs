//! `callsync suspend CALLTASK [--wait]`: set `spec.suspend`, so the controller makes no
//! provider call for the task until `callsync resume` (Flux's `flux suspend`). A GitOps tool
//! that owns the field sets it back: suspend in Git there.
use super::wait::{self, Expect};
use super::{Cluster, ClusterError, Target, Waiting};

/// Stop all provider calls of a CallTask (sets spec.suspend: true).
#[derive(clap::Args, Debug, Clone)]
pub struct SuspendArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub waiting: Waiting,
}

pub async fn run(args: SuspendArgs) -> Result<(), ClusterError> {
    let cluster = Cluster::connect(&args.target).await?;
    let name = &args.target.name;
    cluster.get(name).await?;
    let request = cluster.request(name, Some(true)).await?;
    println!(
        "suspended: CallTask {}/{name} (spec.suspend: true)",
        cluster.namespace
    );
    if args.waiting.wait {
        let task = wait::handled(&cluster, name, &request, args.waiting.timeout).await?;
        println!("{}", wait::verdict(&cluster, &task, Expect::Suspended)?);
    }
    Ok(())
}
