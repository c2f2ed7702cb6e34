//! `bulkhead`: the Bulkhead command-line tool.
//!
//! - `bulkhead chat [--url U] [--model M] PROMPT` streams an answer from a gateway.
//! - `bulkhead config check FILE` validates a config file, reporting each error with its line
//!   and column.
//! - `bulkhead models [--url U]` lists the models a gateway serves.
//! - `bulkhead key new` prints a fresh virtual key and the hash to put in the config.
//!
//! Every command exits 0 on success and 1 on failure, with the reason on stderr.

mod chat;
mod config;
mod key;
mod models;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The gateway's address when neither `--url` nor `BULKHEAD_URL` says otherwise.
const DEFAULT_URL: &str = "http://127.0.0.1:8080/v1";

/// Bulkhead: chat through a gateway, check configs, list models, make keys.
#[derive(Debug, Parser)]
#[command(name = "bulkhead", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stream an answer from a gateway to the terminal.
    Chat(chat::ChatArgs),
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// List the models a gateway serves.
    Models {
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Work with virtual keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check a configuration file and report every error with its line and column.
    Check {
        /// The TOML file to check.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Print a fresh virtual key and the hash to put in a `[[keys]]` entry.
    New,
}

/// Where the gateway is and how to authenticate; shared by the commands that call one.
#[derive(Debug, clap::Args)]
struct Endpoint {
    /// The gateway's base URL.
    #[arg(long, env = "BULKHEAD_URL", default_value = DEFAULT_URL)]
    url: String,
    /// A virtual key, sent as `Authorization: Bearer KEY`.
    #[arg(long, env = "BULKHEAD_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Chat(args) => block_on(chat::run(args)),
        Command::Models { endpoint } => block_on(models::run(endpoint)),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => return config::check(&file),
        Command::Key {
            command: KeyCommand::New,
        } => key::new(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `bulkhead chat ... | head` closing the pipe early is not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Run one async command on a single-threaded runtime: a CLI call needs no more.
fn block_on(future: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
