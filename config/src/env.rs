//! `${env:NAME}` expansion, as in the OpenTelemetry Collector: done on the raw text before YAML parsing so that it
//! works in any position (keys, values, inside strings). `$$` escapes a literal `$`.

use crate::ConfigError;

/// Expands `${env:NAME}`, `${env:NAME:-default}` and `${NAME}`; `lookup` is injected so tests need no real
/// environment.
pub(crate) fn expand(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
            continue;
        }
        let Some(body_and_rest) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body_and_rest.find('}') else {
            out.push('$');
            rest = after;
            continue;
        };
        let body = &body_and_rest[..end];
        let spec = body.strip_prefix("env:").unwrap_or(body);
        let (name, default) = match spec.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (spec, None),
        };
        let valid_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            // Not a variable reference (e.g. a literal "${" in a regex): keep it verbatim.
            out.push('$');
            rest = after;
            continue;
        }
        match lookup(name).or_else(|| default.map(str::to_owned)) {
            Some(value) => out.push_str(&value),
            None => {
                let line = text[..text.len() - rest.len() + pos].matches('\n').count() + 1;
                return Err(ConfigError::MissingEnv {
                    name: name.to_owned(),
                    line,
                });
            }
        }
        rest = &body_and_rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "PORT").then(|| "4317".to_owned())
    }

    #[test]
    fn expands_both_forms_and_defaults() {
        let got = expand("a: ${env:PORT}\nb: ${PORT}\nc: ${env:NOPE:-x}\nd: $$HOME", env).unwrap();
        assert_eq!(got, "a: 4317\nb: 4317\nc: x\nd: $HOME");
    }

    #[test]
    fn missing_variable_names_line() {
        let err = expand("a: 1\nb: ${env:MISSING}\n", env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config line 2: environment variable MISSING is not set; export it or write ${env:MISSING:-default}"
        );
    }

    #[test]
    fn leaves_non_references_alone() {
        assert_eq!(expand("re: '^a${1}$'", env).unwrap(), "re: '^a${1}$'");
    }
}
