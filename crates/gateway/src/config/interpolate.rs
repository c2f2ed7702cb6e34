//! `${VAR}` substitution in config strings.
//!
//! Secrets stay out of config files: `api_key = "${OPENAI_API_KEY}"` is replaced from the
//! environment when the file is read. Only the exact form `${NAME}` (NAME = letters, digits,
//! `_`, not starting with a digit) is special; `$${` stands for a literal `${`, and any other
//! `$` is kept as written, so a password like `pa$$word` needs no escaping. A variable that is
//! not set is an error, never an empty string: a silently empty API key fails much later and
//! much less clearly.

use std::borrow::Cow;

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// `${NAME}` names a variable that is not set.
    Missing(String),
    /// `${` without a closing `}`.
    Unterminated,
    /// `${...}` whose content is not a valid variable name.
    BadName(String),
}

impl Problem {
    pub(crate) fn message(&self) -> String {
        match self {
            Problem::Missing(name) => {
                format!("environment variable `{name}` is not set (referenced as `${{{name}}}`)")
            }
            Problem::Unterminated => {
                "`${` is not closed by `}`; write `$${` for a literal `${`".into()
            }
            Problem::BadName(name) => format!(
                "`${{{name}}}` is not a valid variable reference: names are letters, digits and `_`"
            ),
        }
    }
}

/// Replace every `${NAME}` in `raw` using `env`; all problems of the string are reported.
pub(crate) fn interpolate<'a>(
    raw: &'a str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Cow<'a, str>, Vec<Problem>> {
    if !raw.contains("${") {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut problems = Vec::new();
    let mut rest = raw;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                problems.push(Problem::Unterminated);
                rest = "";
                break;
            };
            let name = &after[..end];
            if !is_valid_name(name) {
                problems.push(Problem::BadName(name.to_owned()));
            } else {
                match env(name) {
                    Some(value) => out.push_str(&value),
                    None => problems.push(Problem::Missing(name.to_owned())),
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if problems.is_empty() {
        Ok(Cow::Owned(out))
    } else {
        Err(problems)
    }
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk-123".into()),
            "HOST" => Some("example.com".into()),
            _ => None,
        }
    }

    #[test]
    fn replaces_variables_and_keeps_other_dollars() {
        assert_eq!(interpolate("${KEY}", &env).as_deref(), Ok("sk-123"));
        assert_eq!(
            interpolate("https://${HOST}/v1?k=${KEY}", &env).as_deref(),
            Ok("https://example.com/v1?k=sk-123")
        );
        assert_eq!(
            interpolate("pa$$word $5", &env).as_deref(),
            Ok("pa$$word $5")
        );
        assert_eq!(interpolate("$${KEY}", &env).as_deref(), Ok("${KEY}"));
        assert!(matches!(
            interpolate("plain", &env),
            Ok(Cow::Borrowed("plain"))
        ));
    }

    #[test]
    fn reports_every_problem_of_a_string() {
        assert_eq!(
            interpolate("${A}-${KEY}-${B}", &env),
            Err(vec![
                Problem::Missing("A".into()),
                Problem::Missing("B".into())
            ])
        );
        assert_eq!(
            interpolate("x${KEY", &env),
            Err(vec![Problem::Unterminated])
        );
        assert_eq!(
            interpolate("${1X}", &env),
            Err(vec![Problem::BadName("1X".into())])
        );
        assert_eq!(
            interpolate("${}", &env),
            Err(vec![Problem::BadName("".into())])
        );
    }
}
