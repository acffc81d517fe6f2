//! Bearer-key checks that take the same time whichever key (or byte) is wrong.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A list of accepted keys.
///
/// Keys are compared by their SHA-256, each against every key, so the time taken tells
/// neither which key nearly matched nor how long the keys are.
#[derive(Clone)]
pub struct KeyRing {
    digests: Vec<[u8; 32]>,
}

impl KeyRing {
    /// Accepts these keys.
    pub fn new<S: AsRef<str>>(keys: impl IntoIterator<Item = S>) -> KeyRing {
        KeyRing {
            digests: keys
                .into_iter()
                .map(|k| digest(k.as_ref().as_bytes()))
                .collect(),
        }
    }

    /// The index of the key an `Authorization` header value (`Bearer <key>`) carries, if it is
    /// one of ours.
    pub fn check(&self, authorization: Option<&str>) -> Option<usize> {
        let presented = authorization.and_then(bearer)?;
        let d = digest(presented.as_bytes());
        let mut found = None;
        // Look at every key, also after a match.
        for (i, k) in self.digests.iter().enumerate() {
            if bool::from(k.ct_eq(&d)) {
                found = Some(i);
            }
        }
        found
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRing({} keys)", self.digests.len())
    }
}

/// A key's durable identity, for binding node ids to the key that first used them (see
/// [`super::journal`]): the first 16 bytes of a domain-separated SHA-256 of the secret, so the
/// binding survives reordering `event_keys` and the journal never holds the secret itself.
pub type KeyId = [u8; 16];

/// The [`KeyId`] of a secret; never all zeros (that marks a node bound to no key yet).
pub fn key_id(secret: &str) -> KeyId {
    let mut h = Sha256::new();
    h.update(b"log4rs-audit node binding\0");
    h.update(secret.as_bytes());
    let d: [u8; 32] = h.finalize().into();
    let mut id = [0; 16];
    id.copy_from_slice(&d[..16]);
    if id == [0; 16] {
        id[0] = 1;
    }
    id
}

/// The key of `Bearer <key>` (the scheme is case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// SHA-256 of a key: a fixed size to compare, whatever the key's length.
fn digest(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_of_the_key_presented() {
        let ring = KeyRing::new(["k-node-1", "k-node-2"]);
        assert_eq!(ring.check(Some("Bearer k-node-2")), Some(1));
        assert_eq!(ring.check(Some("Bearer k-node-3")), None);
        assert_eq!(ring.check(None), None);
    }

    #[test]
    fn bearer_parsing() {
        let ring = KeyRing::new(["abc"]);
        assert_eq!(ring.check(Some("bearer abc")), Some(0));
        assert_eq!(ring.check(Some("Bearer  abc ")), Some(0));
        assert_eq!(ring.check(Some("Basic abc")), None);
        assert_eq!(ring.check(Some("Bearer")), None);
        assert_eq!(ring.check(Some("Bearer abcd")), None);
        assert_eq!(ring.check(Some("Bearer ab")), None);
        assert!(KeyRing::new(Vec::<String>::new())
            .check(Some("Bearer x"))
            .is_none());
    }
}
