#![no_main]
//! See spiped_fuzz::addr::parse for the input format and the oracle.

libfuzzer_sys::fuzz_target!(|data: &[u8]| spiped_fuzz::addr::parse(data));
