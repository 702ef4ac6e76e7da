use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = callsync::cli::Cli::parse();
    match callsync::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
