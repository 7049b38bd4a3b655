//! The key file and the protocol secret K derived from it.

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// K = SHA256(the whole key file). The only long-term secret.
///
/// The file has no format and no minimum length (an empty file is a valid,
/// if useless, key), exactly as upstream. Zeroized on drop; `Debug` never
/// shows it. The bytes live on the heap, so moving a `Key` (into a
/// handshake, a task, a connection's state) moves a pointer and leaves no
/// copy of K behind to be freed unwiped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key(Box<[u8; 32]>);

impl Key {
    /// Derive K from the raw contents of a key file.
    pub fn from_file_contents(contents: &[u8]) -> Self {
        let mut k = Box::new([0u8; 32]);
        let mut d = Sha256::digest(contents);
        k.copy_from_slice(&d);
        d.as_mut_slice().zeroize();
        Key(k)
    }

    /// K itself, for the key derivations.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A short, non-secret fingerprint so two operators can check they hold
    /// the same key without showing it: the first 8 bytes of
    /// SHA256("spiped-fp" || K), in hex. (An extension; upstream has none.)
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"spiped-fp");
        h.update(&self.0[..]);
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_key() {
        let k = Key::from_file_contents(b"");
        assert_eq!(
            hex::encode(k.as_bytes()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn appendix_a_key() {
        let file: Vec<u8> = (0u8..32).collect();
        let k = Key::from_file_contents(&file);
        assert_eq!(
            hex::encode(k.as_bytes()),
            "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
        );
    }

    #[test]
    fn debug_redacts() {
        let k = Key::from_file_contents(b"secret");
        let s = format!("{k:?}");
        assert_eq!(s, "Key(<redacted>)");
        assert!(!s.contains(&hex::encode(&k.as_bytes()[..4])));
    }
}
