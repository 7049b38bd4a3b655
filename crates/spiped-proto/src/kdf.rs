//! PBKDF2-HMAC-SHA256 with one iteration: the only KDF spiped uses.
//!
//! With c = 1 each 32-byte output block i is HMAC(K, salt || BE32(i)), so
//! this is a few lines rather than a dependency.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

type HmacSha256 = Hmac<Sha256>;

/// Fill `out` (a multiple of 32 bytes) with PBKDF2(password, salt, 1, len).
pub fn pbkdf2_1(password: &[u8], salt: &[u8], out: &mut [u8]) {
    debug_assert!(out.len().is_multiple_of(32));
    let base =
        <HmacSha256 as KeyInit>::new_from_slice(password).expect("HMAC takes any key length");
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let mut m = base.clone();
        m.update(salt);
        m.update(&((i as u32) + 1).to_be_bytes());
        let mut t = m.finalize().into_bytes();
        chunk.copy_from_slice(&t[..chunk.len()]);
        t.as_mut_slice().zeroize();
    }
}

/// HMAC-SHA256(key, msg).
pub fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().into()
}
