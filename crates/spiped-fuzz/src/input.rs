//! Reading structured choices out of the fuzzer's bytes. Running out of
//! input is not an error: missing bytes read as zero, so every input means
//! something and the fuzzer never wastes time on rejected ones.

pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.data.split_at(n.min(self.data.len()));
        self.data = b;
        a
    }

    /// Everything left.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// Chunk sizes for feeding a stream: up to 7 sizes used in turn; 0 means
/// "all that is left".
pub struct Splits {
    sizes: Vec<u8>,
    i: usize,
}

impl Splits {
    pub fn read(inp: &mut Input<'_>) -> Self {
        let n = (inp.byte() % 8) as usize;
        Splits {
            sizes: inp.take(n).to_vec(),
            i: 0,
        }
    }

    /// The next chunk size, at most `left` and at least 1 (if `left` > 0).
    pub fn next(&mut self, left: usize) -> usize {
        if self.sizes.is_empty() {
            return left;
        }
        let s = self.sizes[self.i % self.sizes.len()] as usize;
        self.i += 1;
        if s == 0 { left } else { s.min(left) }
    }
}
