//! ICMP echo codec (RFC 792, RFC 4443) for the ping check. The daemon owns
//! the socket; this builds requests and recognises replies.
//!
//! On an unprivileged datagram socket the kernel hands us the ICMP message
//! alone and rewrites the identifier; on a raw IPv4 socket the IPv4 header
//! comes first. Replies are matched on the sequence number and a token in
//! the payload, which both paths preserve.

/// Echo request/reply types: (request, reply) for v4 and v6.
pub const V4_ECHO: (u8, u8) = (8, 0);
pub const V6_ECHO: (u8, u8) = (128, 129);

/// Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        sum += (*b as u32) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request carrying `token` (8 bytes) as payload. For IPv6 the
/// kernel fills in the checksum; for IPv4 we do.
pub fn echo_request(v6: bool, ident: u16, seq: u16, token: u64) -> Vec<u8> {
    let ty = if v6 { V6_ECHO.0 } else { V4_ECHO.0 };
    let mut p = vec![ty, 0, 0, 0];
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&token.to_be_bytes());
    if !v6 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// If `packet` is an echo reply with this sequence number and token,
/// return true. `ip_header` says whether an IPv4 header precedes it (raw
/// IPv4 sockets). Anything malformed is simply not a match.
pub fn is_echo_reply(packet: &[u8], v6: bool, ip_header: bool, seq: u16, token: u64) -> bool {
    let icmp = if ip_header {
        let Some(&first) = packet.first() else {
            return false;
        };
        let ihl = ((first & 0x0f) as usize) * 4;
        if first >> 4 != 4 || ihl < 20 || packet.len() < ihl {
            return false;
        }
        &packet[ihl..]
    } else {
        packet
    };
    if icmp.len() < 16 {
        return false;
    }
    let reply = if v6 { V6_ECHO.1 } else { V4_ECHO.1 };
    icmp[0] == reply
        && icmp[1] == 0
        && u16::from_be_bytes([icmp[6], icmp[7]]) == seq
        && icmp[8..16] == token.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_checksum_verifies() {
        let p = echo_request(false, 0x1234, 7, 0xdead_beef_0102_0304);
        assert_eq!(p.len(), 16);
        assert_eq!(checksum(&p), 0);
        assert_eq!(checksum(&[0x45, 0x00, 0x00]), !0x4500u16);
    }

    #[test]
    fn replies_match_on_seq_and_token() {
        let mut r = echo_request(false, 1, 9, 42);
        r[0] = 0;
        assert!(is_echo_reply(&r, false, false, 9, 42));
        assert!(!is_echo_reply(&r, false, false, 8, 42));
        assert!(!is_echo_reply(&r, false, false, 9, 43));
        let mut with_ip = vec![0x45; 1];
        with_ip.extend_from_slice(&[0; 19]);
        with_ip.extend_from_slice(&r);
        assert!(is_echo_reply(&with_ip, false, true, 9, 42));
        // The request itself (as seen on a raw socket over loopback) is no reply.
        let req = echo_request(false, 1, 9, 42);
        assert!(!is_echo_reply(&req, false, false, 9, 42));
        for junk in [&[][..], &[0x45][..], &[0x4f, 0, 0][..], &r[..10]] {
            assert!(!is_echo_reply(junk, false, true, 9, 42));
            assert!(!is_echo_reply(junk, false, false, 9, 42));
        }
        let mut r6 = echo_request(true, 1, 3, 5);
        r6[0] = 129;
        assert!(is_echo_reply(&r6, true, false, 3, 5));
    }
}
