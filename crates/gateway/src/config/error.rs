//! Config errors that point at the place in the file: `origin:line:column: message`.
//!
//! Every problem found while reading a config becomes one [`Diagnostic`]; they are collected
//! rather than returned one at a time, so an operator fixes a file in one pass instead of
//! playing whack-a-mole with the first error.

use std::fmt;
use std::ops::Range;

/// One problem in a configuration, with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line of the offending value or key; 0 when the problem has no place in a file
    /// (an I/O error, or a [`Config`](crate::Config) built in code).
    pub line: usize,
    /// 1-based column, in characters; 0 when `line` is 0.
    pub column: usize,
    /// What is wrong, in one line.
    pub message: String,
}

impl Diagnostic {
    /// A problem with no place in a file.
    pub fn unplaced(message: impl Into<String>) -> Self {
        Self {
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

/// Everything wrong with a configuration.
///
/// `Display` prints one line per problem, `origin:line:column: message` (or `origin: message`
/// when the problem has no place in the file), in file order.
#[derive(Debug)]
pub struct ConfigError {
    origin: String,
    diagnostics: Vec<Diagnostic>,
    io: Option<std::io::Error>,
}

impl ConfigError {
    /// An error made of `diagnostics` found in `origin` (a path, or a name such as `"config"`).
    pub fn new(origin: impl Into<String>, diagnostics: Vec<Diagnostic>) -> Self {
        Self {
            origin: origin.into(),
            diagnostics,
            io: None,
        }
    }

    pub(crate) fn io(origin: impl Into<String>, error: std::io::Error) -> Self {
        Self {
            origin: origin.into(),
            diagnostics: vec![Diagnostic::unplaced(format!(
                "cannot read the file: {error}"
            ))],
            io: Some(error),
        }
    }

    /// Where the configuration came from: the path given to [`Config::load`](crate::Config::load),
    /// or the `origin` given to [`Config::from_toml_str`](crate::Config::from_toml_str).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Every problem found, in file order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if d.line == 0 {
                write!(f, "{}: {}", self.origin, d.message)?;
            } else {
                write!(f, "{}:{}:{}: {}", self.origin, d.line, d.column, d.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.io.as_ref().map(|e| e as _)
    }
}

/// Collects diagnostics against one source text, turning byte spans into lines and columns.
#[derive(Debug)]
pub(crate) struct Diagnostics<'a> {
    source: &'a str,
    list: Vec<(usize, Diagnostic)>,
}

impl<'a> Diagnostics<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        Self {
            source,
            list: Vec::new(),
        }
    }

    /// Record a problem at the start of `span`.
    pub(crate) fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_column(self.source, span.start);
        self.list.push((
            span.start,
            Diagnostic {
                line,
                column,
                message: message.into(),
            },
        ));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The problems found, in file order (stable for problems at the same place).
    pub(crate) fn finish(mut self) -> Vec<Diagnostic> {
        self.list.sort_by_key(|(offset, _)| *offset);
        self.list.into_iter().map(|(_, d)| d).collect()
    }
}

/// 1-based line and character column of byte `offset` in `source`.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let src = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 6), (2, 1));
        // "bé = " is 6 bytes but 5 characters.
        assert_eq!(line_column(src, 7 + 5), (2, 6));
        assert_eq!(line_column(src, 1000), (3, 1));
    }

    #[test]
    fn display_prints_one_line_per_problem() {
        let err = ConfigError::new(
            "gw.toml",
            vec![
                Diagnostic {
                    line: 3,
                    column: 7,
                    message: "first".into(),
                },
                Diagnostic::unplaced("second"),
            ],
        );
        assert_eq!(err.to_string(), "gw.toml:3:7: first\ngw.toml: second");
    }
}
