//! Secrets (auth keys) given inline, in a file, or in an environment variable, so a config file
//! can be shared without the keys in it.

use std::path::PathBuf;

use serde::Deserialize;

/// Where a secret comes from. In YAML: `"the-key"`, `{ file: keys/node2 }` or
/// `{ env: AUDIT_KEY_3 }`.
///
/// ```
/// use log4rs_audit::secret::Secret;
///
/// let inline: Secret = serde_yaml::from_str("k-node-1")?;
/// assert_eq!(inline.resolve()?, "k-node-1");
///
/// std::env::set_var("DOC_AUDIT_KEY", "k-from-env");
/// let env: Secret = serde_yaml::from_str("{ env: DOC_AUDIT_KEY }")?;
/// assert_eq!(env.resolve()?, "k-from-env");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Secret {
    /// The secret itself.
    Inline(String),
    /// A file holding the secret; surrounding whitespace (a final newline) is not part of it.
    File {
        /// The file's path; `$ENV{NAME}` is expanded.
        file: PathBuf,
    },
    /// An environment variable holding the secret.
    Env {
        /// The variable's name.
        env: String,
    },
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The file could not be read.
    #[error("cannot read key file {}: {source}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The variable is not set (or not UTF-8).
    #[error("environment variable {0} is not set")]
    Env(String),
    /// The secret is empty.
    #[error("{0} is empty")]
    Empty(String),
}

impl Secret {
    /// Reads the secret now.
    pub fn resolve(&self) -> Result<String, SecretError> {
        let (value, what) = match self {
            Secret::Inline(s) => (s.clone(), "inline key".to_owned()),
            Secret::File { file } => {
                let path = PathBuf::from(crate::config::expand_env(&file.to_string_lossy()));
                let text = std::fs::read_to_string(&path).map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })?;
                (
                    text.trim().to_owned(),
                    format!("key file {}", path.display()),
                )
            }
            Secret::Env { env } => {
                let value = std::env::var(env).map_err(|_| SecretError::Env(env.clone()))?;
                (
                    value.trim().to_owned(),
                    format!("environment variable {env}"),
                )
            }
        };
        if value.is_empty() {
            return Err(SecretError::Empty(what));
        }
        Ok(value)
    }

    /// Where the secret comes from, without the secret: for messages and `Debug`.
    pub fn source(&self) -> String {
        match self {
            Secret::Inline(_) => "inline".to_owned(),
            Secret::File { file } => format!("file {}", file.display()),
            Secret::Env { env } => format!("env {env}"),
        }
    }
}

impl std::fmt::Debug for Secret {
    /// Never prints an inline secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.source())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_secret_is_trimmed_and_errors_name_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "k-file\n").unwrap();
        let s = Secret::File { file: path.clone() };
        assert_eq!(s.resolve().unwrap(), "k-file");
        std::fs::write(&path, "\n").unwrap();
        assert!(s.resolve().unwrap_err().to_string().contains("is empty"));
        let missing = Secret::File {
            file: dir.path().join("nope"),
        };
        assert!(missing.resolve().unwrap_err().to_string().contains("nope"));
        let env = Secret::Env {
            env: "LOG4RS_AUDIT_SURELY_UNSET".into(),
        };
        assert_eq!(
            env.resolve().unwrap_err().to_string(),
            "environment variable LOG4RS_AUDIT_SURELY_UNSET is not set"
        );
        assert_eq!(
            format!("{:?}", Secret::Inline("x".into())),
            "Secret(inline)"
        );
    }
}
