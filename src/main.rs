use clap::Parser;

/// The allocator of the controller and the CLI (Cargo.toml says why it is not glibc's).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = match callsync::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if callsync::cli::usage::is_request(&error) => error.exit(),
        Err(error) => {
            eprintln!("error: {}", callsync::cli::usage::one_line(&error));
            return std::process::ExitCode::FAILURE;
        }
    };
    match callsync::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(callsync::cli::CliError::ChangesPlanned) => std::process::ExitCode::from(2),
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::from(err.exit_code())
        }
    }
}
