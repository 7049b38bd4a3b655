//! Diffie-Hellman over the 2048-bit MODP group 14 (RFC 3526), generator 2,
//! as spiped uses it.
//!
//! spiped's exponent is e = 2^258 + x for 32 random bytes x: a 259-bit
//! number whose top bit is always set. Only the public value reaches the
//! wire, but keeping upstream's choice lets us test against its vectors.
//!
//! Exponentiation is constant-time (crypto-bigint's Montgomery ladder with a
//! fixed window and constant-time table lookups); the exponent's bit length
//! is public (always 259), so bounding the loop by it leaks nothing.

use std::sync::OnceLock;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd, Word};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::DH_LEN;

/// The group 14 prime, big-endian.
pub const P: [u8; DH_LEN] = hex_p();

const P_HEX: &[u8; 512] = b"\
FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05\
98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB\
9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B\
E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718\
3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF";

const fn hex_p() -> [u8; DH_LEN] {
    const fn nib(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("bad hex"),
        }
    }
    let mut out = [0u8; DH_LEN];
    let mut i = 0;
    while i < DH_LEN {
        out[i] = (nib(P_HEX[2 * i]) << 4) | nib(P_HEX[2 * i + 1]);
        i += 1;
    }
    out
}

/// y = 1, the value a `-f` (no forward secrecy) peer sends.
pub const Y_ONE: [u8; DH_LEN] = {
    let mut y = [0u8; DH_LEN];
    y[DH_LEN - 1] = 1;
    y
};

const MOD_BITS: u32 = 2048;
/// Precision of the exponent: 259 bits rounded up to whole 64-bit limbs.
const EXP_PRECISION: u32 = 320;
/// Bit length of every exponent: 2^258 is always set.
const EXP_BITS: u32 = 259;

fn params() -> &'static BoxedMontyParams {
    static PARAMS: OnceLock<BoxedMontyParams> = OnceLock::new();
    PARAMS.get_or_init(|| {
        let p = BoxedUint::from_be_slice(&P, MOD_BITS).expect("P is 2048 bits");
        let p = Odd::new(p).expect("P is odd");
        BoxedMontyParams::new(p)
    })
}

/// A secret exponent e = 2^258 + x. Zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DhSecret {
    e: BoxedUint,
}

impl DhSecret {
    /// e = 2^258 + x, for 32 random bytes x (read big-endian).
    pub fn from_random(x: &[u8; 32]) -> Self {
        let mut bytes = Zeroizing::new([0u8; (EXP_PRECISION / 8) as usize]);
        let n = bytes.len();
        bytes[n - 32..].copy_from_slice(x);
        // Bit 258 is bit 2 of the byte 258/8 = 32 bytes from the end.
        bytes[n - 33] |= 1 << 2;
        let e = BoxedUint::from_be_slice(&bytes[..], EXP_PRECISION).expect("fits");
        DhSecret { e }
    }

    /// The public value 2^e mod p, as 256 big-endian bytes.
    pub fn public(&self) -> [u8; DH_LEN] {
        let g = BoxedMontyForm::new(
            BoxedUint::from_be_slice(&[2], MOD_BITS).expect("fits"),
            params(),
        );
        to_bytes(&g.pow_bounded_exp(&self.e, EXP_BITS).retrieve())
    }

    /// The shared value y^e mod p for the peer's public value `y`, which
    /// the caller has already checked to be below p.
    pub fn shared(&self, peer_y: &[u8; DH_LEN]) -> Zeroizing<[u8; DH_LEN]> {
        let y = BoxedUint::from_be_slice(peer_y, MOD_BITS).expect("256 bytes fit 2048 bits");
        let y = BoxedMontyForm::new(y, params());
        // Every heap value holding y_SC (or its Montgomery form) is wiped
        // before it is freed.
        let mut m = y.pow_bounded_exp(&self.e, EXP_BITS);
        let mut s = m.retrieve();
        m.zeroize();
        let out = Zeroizing::new(to_bytes(&s));
        s.zeroize();
        out
    }
}

impl std::fmt::Debug for DhSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DhSecret(<redacted>)")
    }
}

/// Bits of x per comb window.
const COMB_BITS: usize = 4;
/// Windows covering the 256 bits of x.
const COMB_WINDOWS: usize = 256 / COMB_BITS;
/// Entries per window.
const COMB_ENTRIES: usize = 1 << COMB_BITS;
/// 64-bit limbs of a 2048-bit number.
const LIMBS: usize = (MOD_BITS / Word::BITS) as usize;

/// Fixed-base tables for the public value 2^e, e = 2^258 + x.
///
/// With T[j][d] = 2^(d * 2^(4j)) (Montgomery form),
/// 2^e = 2^(2^258) * prod_j T[j][x_j], x_j the j-th 4-bit digit of x:
/// 64 multiplications instead of ~340 for a generic modexp, so making a
/// keypair costs ~5x less. Each T[j][x_j] is picked by reading all 16
/// entries of window j and keeping one with masks, so the memory access
/// pattern does not depend on x. The table (256 KiB) is built on first
/// use, in the thread that makes keypairs.
struct Comb {
    table: Vec<[Word; LIMBS]>,
    /// 2^(2^258), the factor from the fixed top bit of e.
    top: BoxedMontyForm,
}

fn comb() -> &'static Comb {
    static COMB: OnceLock<Comb> = OnceLock::new();
    COMB.get_or_init(|| {
        let p = params();
        let words = |v: &BoxedMontyForm| -> [Word; LIMBS] {
            v.as_montgomery()
                .as_words()
                .try_into()
                .expect("2048-bit value")
        };
        let mut table = Vec::with_capacity(COMB_WINDOWS * COMB_ENTRIES);
        // base = 2^(2^(4j)) for window j.
        let mut base =
            BoxedMontyForm::new(BoxedUint::from_be_slice(&[2], MOD_BITS).expect("fits"), p);
        for _ in 0..COMB_WINDOWS {
            let mut v = BoxedMontyForm::one(p);
            for _ in 0..COMB_ENTRIES {
                table.push(words(&v));
                v = v.mul(&base);
            }
            // v = base^16 = 2^(2^(4j + 4)): the next window's base.
            base = v;
        }
        // base = 2^(2^256); two squarings give 2^(2^258).
        let top = base.square().square();
        Comb { table, top }
    })
}

/// 2^(2^258 + x) mod p for the 32 bytes x (big-endian), by the comb.
fn public_from_x(x: &[u8; 32]) -> [u8; DH_LEN] {
    let c = comb();
    let p = params();
    let mut acc = c.top.clone();
    let mut pick = [0 as Word; LIMBS];
    for j in 0..COMB_WINDOWS {
        // Digit j counts from the least significant end of x.
        let byte = x[31 - j / 2];
        let digit = if j % 2 == 0 { byte & 0x0f } else { byte >> 4 };
        pick.fill(0);
        for (d, entry) in c.table[j * COMB_ENTRIES..(j + 1) * COMB_ENTRIES]
            .iter()
            .enumerate()
        {
            let hit = (d as u8).ct_eq(&digit);
            for (out, w) in pick.iter_mut().zip(entry) {
                out.conditional_assign(w, hit);
            }
        }
        let mut factor = BoxedMontyForm::from_montgomery(BoxedUint::from_words(pick), p);
        // The running product after j digits gives away digit j next to
        // the one before it: wipe each one as it is replaced.
        let next = acc.mul(&factor);
        let mut old = std::mem::replace(&mut acc, next);
        old.zeroize();
        factor.zeroize();
    }
    pick.zeroize();
    let mut y = acc.retrieve();
    acc.zeroize();
    let out = to_bytes(&y);
    y.zeroize();
    out
}

/// A secret exponent with its public value, ready for one handshake.
/// Making one costs a 2048-bit modexp, so the daemons keep a pool of them
/// made in the background; each is used once and then dropped (zeroized).
#[derive(Debug)]
pub struct DhKeypair {
    pub secret: DhSecret,
    pub public: [u8; DH_LEN],
}

impl DhKeypair {
    pub fn from_random(x: &[u8; 32]) -> Self {
        let secret = DhSecret::from_random(x);
        let public = public_from_x(x);
        DhKeypair { secret, public }
    }
}

/// `v` as 256 big-endian bytes; the heap copy crypto-bigint makes on the
/// way is wiped (for y_SC it is a secret).
fn to_bytes(v: &BoxedUint) -> [u8; DH_LEN] {
    let mut b = v.to_be_bytes();
    let mut out = [0u8; DH_LEN];
    out.copy_from_slice(&b[b.len() - DH_LEN..]);
    b.zeroize();
    out
}

/// Whether `y` (256 big-endian bytes) is below p. Upstream's range check:
/// y = p and above are refused; y = 0 and y = p - 1 are accepted. `y` is
/// public, so a plain comparison is fine.
pub fn below_p(y: &[u8; DH_LEN]) -> bool {
    y[..] < P[..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_matches_rfc3526_shape() {
        assert_eq!(&P[..8], &[0xff; 8]);
        assert_eq!(&P[DH_LEN - 8..], &[0xff; 8]);
        assert_eq!(P[8], 0xc9);
    }

    #[test]
    fn range_check() {
        let mut p_minus_1 = P;
        p_minus_1[DH_LEN - 1] -= 1;
        assert!(below_p(&[0u8; DH_LEN]));
        assert!(below_p(&Y_ONE));
        assert!(below_p(&p_minus_1));
        assert!(!below_p(&P));
        assert!(!below_p(&[0xff; DH_LEN]));
    }

    #[test]
    fn comb_matches_the_generic_modexp() {
        let mut x = [0u8; 32];
        for i in 0..40u8 {
            // Edge digits (all zero, all ones) and mixed patterns.
            for (k, b) in x.iter_mut().enumerate() {
                *b = match i {
                    0 => 0,
                    1 => 0xff,
                    _ => (k as u8).wrapping_mul(i).wrapping_add(i.rotate_left(3)),
                };
            }
            assert_eq!(
                public_from_x(&x),
                DhSecret::from_random(&x).public(),
                "x pattern {i}"
            );
        }
    }

    #[test]
    fn shared_values_agree() {
        let a = DhKeypair::from_random(&[0x11; 32]);
        let b = DhKeypair::from_random(&[0x22; 32]);
        assert_eq!(*a.secret.shared(&b.public), *b.secret.shared(&a.public));
        assert_eq!(*a.secret.shared(&Y_ONE), Y_ONE);
    }
}
