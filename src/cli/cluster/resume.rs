//! `callsync resume CALLTASK [--wait]`: clear `spec.suspend` and ask for a sync at once (Flux's
//! `flux resume`); `--wait` waits for that sync and fails unless the task ends Ready.
use super::wait::{self, Expect};
use super::{Cluster, ClusterError, Target, Waiting};

/// Resume a suspended CallTask (sets spec.suspend: false) and sync it now.
#[derive(clap::Args, Debug, Clone)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub waiting: Waiting,
}

pub async fn run(args: ResumeArgs) -> Result<(), ClusterError> {
    let cluster = Cluster::connect(&args.target).await?;
    let name = &args.target.name;
    cluster.get(name).await?;
    let request = cluster.request(name, Some(false)).await?;
    println!(
        "resumed: CallTask {}/{name} (spec.suspend: false), sync requested ({request})",
        cluster.namespace
    );
    if args.waiting.wait {
        let task = wait::handled(&cluster, name, &request, args.waiting.timeout).await?;
        println!("{}", wait::verdict(&cluster, &task, Expect::Ready)?);
    }
    Ok(())
}
