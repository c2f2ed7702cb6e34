//! `bulkhead config check`: load a config exactly as the server would and report every problem.

use std::path::Path;
use std::process::ExitCode;

use bulkhead_gateway::{Config, Gateway};

/// Print `FILE: ok (...)`, or every error as `FILE:LINE:COLUMN: message` on stderr and fail.
pub(crate) fn check(path: &Path) -> ExitCode {
    let shown = path.display();
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // Constructing the providers catches what the file alone cannot show (an unusable
    // header value, a TLS client that cannot be built), as the server would at start-up.
    if let Err(e) = Gateway::build(&config) {
        for problem in e.diagnostics() {
            eprintln!("{shown}: {}", problem.message);
        }
        return ExitCode::FAILURE;
    }
    println!(
        "{shown}: ok ({}, {})",
        count(config.providers.len(), "provider"),
        count(config.models.len(), "model")
    );
    ExitCode::SUCCESS
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
