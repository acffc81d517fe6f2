//! Ed25519 key pairs for checkpoints: `keygen`, and reading keys back.
//!
//! `audit.key` holds the 32-byte secret seed and `audit.pub` the 32-byte public key, each as
//! one line of standard base64. The writer needs the secret key (from a file of mode 0600, or
//! an environment variable: [`Secret`]; inline key material is refused); `verify` needs only
//! the public key.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::secret::{Secret, SecretError};

/// File name of the secret key written by [`keygen`].
pub const SECRET_KEY_FILE: &str = "audit.key";
/// File name of the public key written by [`keygen`].
pub const PUBLIC_KEY_FILE: &str = "audit.pub";

/// Why a key could not be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The secret could not be resolved.
    #[error("signing_key: {0}")]
    Secret(#[from] SecretError),
    /// The text is not a base64 32-byte key.
    #[error("{0}: not an Ed25519 key (expected 32 bytes in base64, as written by `log4rs-audit keygen`)")]
    Malformed(String),
    /// No randomness from the OS.
    #[error("cannot get random bytes from the OS: {0}")]
    Random(String),
    /// Key material written in the config itself.
    #[error("signing_key: inline key material in the config is refused (anyone who can read the config could sign): put the key in a file of mode 0600 (`log4rs-audit keygen`) and write `signing_key: {{ file: … }}`, or use `{{ env: NAME }}`")]
    Inline,
    /// A key file that group or others may read or write.
    #[error("signing_key: key file {} has mode {mode:04o}: group or others may read it; refused (fix: chmod 600 {})", .path.display(), .path.display())]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// The paths of a key pair written by [`keygen`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPair {
    /// The secret key (mode 0600 on Unix).
    pub secret: PathBuf,
    /// The public key.
    pub public: PathBuf,
}

/// Writes a new key pair into `dir` (created if needed, mode 0700): `audit.key` (secret, mode
/// 0600) and `audit.pub` (0640). Existing files are never overwritten.
///
/// ```
/// use log4rs_audit::integrity::keys;
///
/// let dir = tempfile::tempdir()?;
/// let pair = keys::keygen(dir.path())?;
/// let secret = log4rs_audit::secret::Secret::File { file: pair.secret.clone() };
/// let signing = keys::load_signing_key(&secret)?;
/// assert_eq!(keys::load_public_key(&pair.public)?, signing.verifying_key());
/// assert!(keys::keygen(dir.path()).is_err(), "never overwrites");
/// # #[cfg(unix)] {
/// use std::os::unix::fs::PermissionsExt;
/// let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
/// // At most these bits (a umask may take more away).
/// assert_eq!((mode(&pair.secret) & !0o600, mode(&pair.public) & !0o640), (0, 0));
/// let fresh = dir.path().join("new/keys");
/// keys::keygen(&fresh)?;
/// assert_eq!(mode(&fresh) & !0o700, 0);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn keygen(dir: &Path) -> Result<KeyPair, KeyError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| KeyError::Io { path, source }
    };
    // The folder holds a secret: only its owner may list it (0700); created folders only.
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_err(dir))?;
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let pair = KeyPair {
        secret: dir.join(SECRET_KEY_FILE),
        public: dir.join(PUBLIC_KEY_FILE),
    };
    for path in [&pair.secret, &pair.public] {
        if path.exists() {
            return Err(KeyError::Io {
                path: path.clone(),
                source: io::Error::new(io::ErrorKind::AlreadyExists, "already exists"),
            });
        }
    }
    write_new(&pair.secret, &B64.encode(key.to_bytes()), true).map_err(io_err(&pair.secret))?;
    write_new(
        &pair.public,
        &B64.encode(key.verifying_key().to_bytes()),
        false,
    )
    .map_err(io_err(&pair.public))?;
    Ok(pair)
}

fn write_new(path: &Path, text: &str, secret: bool) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    // The secret is the owner's alone; the public key the owner's and its group's, like every
    // file we create (0640).
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o640 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

fn decode32(text: &str, what: &str) -> Result<[u8; 32], KeyError> {
    B64.decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| KeyError::Malformed(what.to_owned()))
}

/// Reads the signing key from a secret: a file (mode 0600 or stricter: one that group or others
/// may access is refused, naming its mode) or an environment variable. Inline key material in
/// the config is refused.
pub fn load_signing_key(secret: &Secret) -> Result<SigningKey, KeyError> {
    match secret {
        Secret::Inline(_) => return Err(KeyError::Inline),
        #[cfg(unix)]
        Secret::File { file } => {
            use std::os::unix::fs::PermissionsExt;
            let path = PathBuf::from(crate::config::expand_env(&file.to_string_lossy()));
            if let Ok(meta) = fs::metadata(&path) {
                let mode = meta.permissions().mode() & 0o7777;
                if mode & 0o077 != 0 {
                    return Err(KeyError::Exposed { path, mode });
                }
            }
        }
        _ => {}
    }
    let text = secret.resolve()?;
    let mut seed = decode32(&text, &format!("signing_key ({})", secret.source()))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(key)
}

/// Reads a public key file written by [`keygen`].
pub fn load_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    let shown = path.display().to_string();
    let bytes = decode32(&text, &shown)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::Malformed(shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.pub");
        fs::write(&p, "not base64!").unwrap();
        let e = load_public_key(&p).unwrap_err().to_string();
        assert!(
            e.contains("bad.pub") && e.contains("not an Ed25519 key"),
            "{e}"
        );
        let e = load_signing_key(&Secret::Inline("AAAA".into()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("inline key material in the config is refused"),
            "{e}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let pair = keygen(&dir.path().join("k")).unwrap();
            let mode = fs::metadata(&pair.secret).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let secret = Secret::File {
                file: pair.secret.clone(),
            };
            assert!(load_signing_key(&secret).is_ok());
            fs::set_permissions(&pair.secret, fs::Permissions::from_mode(0o640)).unwrap();
            let e = load_signing_key(&secret).unwrap_err().to_string();
            assert!(
                e.contains(&pair.secret.display().to_string())
                    && e.contains("mode 0640")
                    && e.contains("chmod 600"),
                "{e}"
            );
        }
    }
}
