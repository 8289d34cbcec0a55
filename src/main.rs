//! The `vetted` binary: web server and command-line chores (see `vetted --help`).

// mimalloc: many small, short-lived allocations per page (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    vetted::server::cli::run().await
}
