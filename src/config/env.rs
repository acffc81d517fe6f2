//! `$ENV{NAME}` in paths and addresses of a config, as log4rs's own file appenders expand it:
//! one rule for every option that names a file, folder, socket or broker.

/// Expands `$ENV{NAME}` as log4rs's own file appenders do; unknown names stay as written.
pub fn expand_env(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find("$ENV{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 5..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match std::env::var(name) {
                    Ok(value) => out.push_str(&value),
                    Err(_) => out.push_str(&rest[start..start + 5 + end + 1]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion() {
        std::env::set_var("LOG4RS_AUDIT_TEST_DIR", "/data");
        assert_eq!(
            expand_env("$ENV{LOG4RS_AUDIT_TEST_DIR}/a.log"),
            "/data/a.log"
        );
        assert_eq!(
            expand_env("x/$ENV{NOPE_NOT_SET_123}/a"),
            "x/$ENV{NOPE_NOT_SET_123}/a"
        );
        assert_eq!(expand_env("x/$ENV{unterminated"), "x/$ENV{unterminated");
        assert_eq!(expand_env("plain"), "plain");
    }
}
