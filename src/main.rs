//! The `vetted` binary: web server and command-line chores (see `vetted --help`).
#[tokio::main]
async fn main() -> std::process::ExitCode {
    vetted::server::cli::run().await
}
