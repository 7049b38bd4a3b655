//! Valgrind client requests, for checking code is constant-time (the
//! "ctgrind" method): mark a secret's bytes as undefined with memcheck;
//! memcheck then reports every branch and every memory address that
//! depends on them. Outside valgrind the requests do nothing.

/// memcheck's request codes: ('M' << 24 | 'C' << 16) + n.
const MAKE_MEM_UNDEFINED: usize = 0x4d43_0001;
const MAKE_MEM_DEFINED: usize = 0x4d43_0002;

#[cfg(target_arch = "x86_64")]
fn client_request(request: usize, addr: usize, len: usize) -> usize {
    let args: [usize; 6] = [request, addr, len, 0, 0, 0];
    let result: usize;
    // SAFETY: valgrind's documented magic sequence for amd64: four
    // rotations of rdi that add up to 128 bits (so rdi is unchanged) and
    // `xchg rbx, rbx`; a no-op on real hardware. rax points at the
    // arguments; the result (or the default, 0) comes back in rdx.
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") args.as_ptr(),
            inout("rdx") 0usize => result,
            inout("rdi") 0usize => _,
            options(nostack),
        );
    }
    result
}

#[cfg(not(target_arch = "x86_64"))]
fn client_request(_request: usize, _addr: usize, _len: usize) -> usize {
    0
}

/// Treat these bytes as secret: memcheck flags anything that depends on
/// them. Taken mutably so the compiler must reload them afterwards rather
/// than use a value it knows (which would carry no mark).
pub fn secret(bytes: &mut [u8]) {
    client_request(MAKE_MEM_UNDEFINED, bytes.as_mut_ptr() as usize, bytes.len());
}

/// These bytes may be looked at (results we choose to reveal).
pub fn public(bytes: &[u8]) {
    client_request(MAKE_MEM_DEFINED, bytes.as_ptr() as usize, bytes.len());
}
