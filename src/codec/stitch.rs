//! Joins baseline JPEG strips, each encoded as an image of its own, into the
//! entropy-coded data a single pass over the whole image would have written,
//! bit for bit.
//!
//! A strip encoded alone differs from its part of a one-pass encode in two
//! places only: its first MCU codes each component's first DC coefficient
//! against a prediction of 0 instead of the last DC of that component in the
//! strip above, and its data ends padded with 1 bits to a byte, where the
//! one-pass stream goes straight on. Joining them with restart markers (what
//! a decoder expects after such a reset) is valid but costs 30–90 bytes per
//! boundary, mostly because the byte-stuffing of everything after the
//! boundary changes with its bit alignment. Here, instead:
//!
//! - the DC predictions at the end of a strip and the exact bits of its last
//!   MCU come from a tiny JPEG of the strip's last two MCUs, encoded with the
//!   same encoder (same pixels, same MCU grid, so the same coefficients; its
//!   second MCU's DC is predicted from its first, as in the strip), decoded
//!   with the file's own Huffman tables;
//! - where the strip's data ends (before its padding) is where those bits
//!   end: the one padding length, 0 to 7, at which they match;
//! - the next strip's first DC codes are re-coded against those predictions;
//! - the bits are concatenated and byte-stuffed again.
//!
//! Anything unexpected (tables missing, a code that does not decode, an
//! ambiguous padding) returns `None`, and the caller falls back to restart
//! markers. The tests check the result against a one-pass encode, byte for
//! byte.

use std::io::{self, Write};

/// A Huffman table, for decoding (canonical codes by length, JPEG F.2.2.3)
/// and for encoding (code and length per symbol).
struct Huffman {
    /// Per code length 1..=16: the largest code (or -1), the smallest code,
    /// and the index of its symbol in `symbols`.
    max: [i32; 17],
    min: [i32; 17],
    first: [usize; 17],
    symbols: Vec<u8>,
    code: [u16; 256],
    len: [u8; 256],
}

impl Huffman {
    /// From a DHT table: the number of codes of each length 1..=16, then the
    /// symbols in code order.
    fn new(counts: &[u8], symbols: &[u8]) -> Option<Huffman> {
        let mut h = Huffman {
            max: [-1; 17],
            min: [0; 17],
            first: [0; 17],
            symbols: symbols.to_vec(),
            code: [0; 256],
            len: [0; 256],
        };
        let (mut code, mut k) = (0i32, 0usize);
        for l in 1..=16 {
            let n = usize::from(counts[l - 1]);
            h.first[l] = k;
            h.min[l] = code;
            for _ in 0..n {
                let s = usize::from(*symbols.get(k)?);
                h.code[s] = code as u16;
                h.len[s] = l as u8;
                code += 1;
                k += 1;
            }
            h.max[l] = if n > 0 { code - 1 } else { -1 };
            code <<= 1;
        }
        (k == symbols.len()).then_some(h)
    }

    fn decode(&self, r: &mut Bits<'_>) -> Option<u8> {
        let mut code = 0i32;
        for l in 1..=16 {
            code = (code << 1) | r.bit()? as i32;
            if code <= self.max[l] {
                let at = self.first[l] + (code - self.min[l]) as usize;
                return self.symbols.get(at).copied();
            }
        }
        None
    }
}

/// How a scan codes its components: per component in scan order, the
/// blocks it has in an MCU and its DC and AC tables.
struct Coding {
    comps: Vec<(usize, usize, usize)>,
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    /// The first byte of entropy-coded data.
    scan: usize,
}

impl Coding {
    /// Reads the tables, the frame's sampling factors and the scan's
    /// components of a baseline JPEG (SOF0).
    fn of(bytes: &[u8]) -> Option<Coding> {
        let mut dc: [Option<Huffman>; 4] = Default::default();
        let mut ac: [Option<Huffman>; 4] = Default::default();
        let mut sampling = Vec::new(); // (id, blocks in an interleaved MCU)
        for seg in super::jpeg_segments(bytes) {
            let body = seg.body;
            match seg.marker {
                0xC4 => {
                    let mut s = body;
                    while !s.is_empty() {
                        let (class, id) = (s[0] >> 4, usize::from(s[0] & 15));
                        let counts = s.get(1..17)?;
                        let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
                        let table = Huffman::new(counts, s.get(17..17 + n)?)?;
                        match class {
                            0 => *dc.get_mut(id)? = Some(table),
                            1 => *ac.get_mut(id)? = Some(table),
                            _ => return None,
                        }
                        s = &s[17 + n..];
                    }
                }
                0xC0 => {
                    let n = usize::from(*body.get(5)?);
                    for c in 0..n {
                        let f = body.get(6 + 3 * c..9 + 3 * c)?;
                        sampling.push((f[0], usize::from(f[1] >> 4) * usize::from(f[1] & 15)));
                    }
                }
                // Other frame types (progressive, arithmetic, …): not ours.
                0xC1..=0xC3 | 0xC5..=0xCF => return None,
                0xDD => return None, // already has restarts
                0xDA => {
                    let n = usize::from(*body.first()?);
                    let mut comps = Vec::with_capacity(n);
                    for c in 0..n {
                        let s = body.get(1 + 2 * c..3 + 2 * c)?;
                        let blocks = if n == 1 {
                            1 // a non-interleaved scan: one block per MCU
                        } else {
                            sampling.iter().find(|&&(id, _)| id == s[0])?.1
                        };
                        comps.push((blocks, usize::from(s[1] >> 4), usize::from(s[1] & 15)));
                    }
                    return Some(Coding {
                        comps,
                        dc,
                        ac,
                        scan: seg.end(),
                    });
                }
                _ => {}
            }
        }
        None
    }

    /// Decodes one MCU from `r`; per component, the DC prediction is updated
    /// in `pred`, and its first block's DC code (the bit range of Huffman
    /// code and magnitude bits, and the difference it codes) is recorded in
    /// `first_dc` if given.
    fn mcu(
        &self,
        r: &mut Bits<'_>,
        pred: &mut [i32],
        mut first_dc: Option<&mut Vec<(usize, usize, i32)>>,
    ) -> Option<()> {
        for (c, &(blocks, dct, act)) in self.comps.iter().enumerate() {
            let (dc, ac) = (self.dc.get(dct)?.as_ref()?, self.ac.get(act)?.as_ref()?);
            for b in 0..blocks {
                let start = r.pos;
                let s = dc.decode(r)?;
                let diff = extend(r.bits(s)?, s)?;
                if b == 0 {
                    if let Some(f) = first_dc.as_deref_mut() {
                        f.push((start, r.pos, diff));
                    }
                }
                pred[c] += diff;
                let mut k = 1;
                while k < 64 {
                    let rs = ac.decode(r)?;
                    let (run, size) = (usize::from(rs >> 4), rs & 15);
                    if size == 0 {
                        if run != 15 {
                            break; // end of block
                        }
                        k += 16;
                        continue;
                    }
                    k += run;
                    r.bits(size)?;
                    k += 1;
                }
                if k > 64 {
                    return None;
                }
            }
        }
        Some(())
    }
}

/// JPEG's sign extension of an `s`-bit magnitude (F.2.2.1).
fn extend(v: u32, s: u8) -> Option<i32> {
    if s > 11 {
        return None;
    }
    let v = v as i32;
    Some(if s == 0 {
        0
    } else if v < 1 << (s - 1) {
        v - (1 << s) + 1
    } else {
        v
    })
}

/// A bit reader over unstuffed entropy-coded data, most significant bit first.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let b = *self.data.get(self.pos / 8)?;
        let v = (b >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(v))
    }

    fn bits(&mut self, n: u8) -> Option<u32> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Some(v)
    }
}

/// Bit `i` of `data` (most significant first).
fn bit_at(data: &[u8], i: usize) -> bool {
    (data[i / 8] >> (7 - i % 8)) & 1 == 1
}

/// Stuffed entropy-coded bytes without their stuffed zeros; `None` if they
/// hold a marker.
fn unstuff(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(at) = memchr::memchr(0xFF, rest) {
        out.extend_from_slice(&rest[..=at]);
        if rest.get(at + 1) != Some(&0) {
            return None;
        }
        rest = &rest[at + 2..];
    }
    out.extend_from_slice(rest);
    Some(out)
}

/// The offset in the stuffed `data` of its unstuffed byte `k`.
fn stuffed_offset(data: &[u8], k: usize) -> Option<usize> {
    let (mut i, mut seen) = (0, 0);
    while seen < k {
        i += if *data.get(i)? == 0xFF { 2 } else { 1 };
        seen += 1;
    }
    Some(i)
}

/// The entropy-coded data of a whole JPEG file (between the SOS segment
/// ending at `scan` and the final EOI), stuffed.
fn scan_data(bytes: &[u8], scan: usize) -> Option<&[u8]> {
    let end = bytes.len().checked_sub(2)?;
    (bytes.get(end..)? == [0xFF, 0xD9]).then_some(())?;
    bytes.get(scan..end)
}

/// A bit writer that stuffs a zero byte after every 0xFF, into `out` in
/// pieces of about 64 KiB.
struct Writer<'w, W: Write> {
    out: &'w mut W,
    buf: Vec<u8>,
    acc: u64,
    n: u32,
}

impl<W: Write> Writer<'_, W> {
    const FLUSH: usize = 1 << 16;

    fn flush_some(&mut self) -> io::Result<()> {
        if self.buf.len() >= Self::FLUSH {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Appends the low `len` (≤ 32) bits of `v`.
    fn put(&mut self, v: u32, len: u32) {
        debug_assert!(len <= 32);
        if len == 0 {
            return;
        }
        self.acc = (self.acc << len) | (u64::from(v) & ((1u64 << len) - 1));
        self.n += len;
        while self.n >= 8 {
            self.n -= 8;
            let b = (self.acc >> self.n) as u8;
            self.buf.push(b);
            if b == 0xFF {
                self.buf.push(0);
            }
        }
        self.acc &= (1u64 << self.n) - 1;
    }

    /// Appends bits `from..to` of the unstuffed `data`.
    fn bits(&mut self, data: &[u8], from: usize, to: usize) {
        for i in from..to {
            self.put(u32::from(bit_at(data, i)), 1);
        }
    }

    /// Appends the entropy-coded bytes `src` (stuffed, starting and ending at
    /// whole data bytes): copied as they are when the output is at a byte
    /// boundary, else shifted 8 bytes at a time (one by one where a 0xFF is
    /// read or written).
    fn bulk(&mut self, src: &[u8]) -> io::Result<()> {
        if self.n == 0 {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
            return self.out.write_all(src);
        }
        let n = self.n;
        let has_ff = |w: u64| {
            let i = !w;
            i.wrapping_sub(0x0101_0101_0101_0101) & !i & 0x8080_8080_8080_8080 != 0
        };
        let mut i = 0;
        while i < src.len() {
            if i + 8 <= src.len() {
                let x = u64::from_be_bytes(src[i..i + 8].try_into().expect("8 bytes"));
                // No 0xFF read (so no stuffing to skip, unless the byte
                // before was 0xFF, handled below), none written.
                if !has_ff(x) {
                    let word = (self.acc << (64 - n)) | (x >> n);
                    if !has_ff(word) {
                        self.acc = x & ((1u64 << n) - 1);
                        self.buf.extend_from_slice(&word.to_be_bytes());
                        i += 8;
                        if i % (1 << 14) == 0 {
                            self.flush_some()?;
                        }
                        continue;
                    }
                }
            }
            let b = src[i];
            self.put(u32::from(b), 8);
            i += if b == 0xFF { 2 } else { 1 };
        }
        self.flush_some()
    }

    /// Pads the last byte with 1 bits, as libjpeg does, and writes out the rest.
    fn finish(mut self) -> io::Result<()> {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1 << pad) - 1, pad);
        }
        self.out.write_all(&self.buf)
    }
}

/// The last MCU of a strip, from the JPEG of its last two MCUs: its bits
/// and the DC predictions after it.
struct Tail {
    bits: Vec<u8>,
    from: usize,
    to: usize,
    pred: Vec<i32>,
}

impl Tail {
    fn of(tiny: &[u8]) -> Option<Tail> {
        let coding = Coding::of(tiny)?;
        let bits = unstuff(scan_data(tiny, coding.scan)?)?;
        let mut pred = vec![0; coding.comps.len()];
        let mut r = Bits {
            data: &bits,
            pos: 0,
        };
        coding.mcu(&mut r, &mut pred, None)?;
        let from = r.pos;
        coding.mcu(&mut r, &mut pred, None)?;
        let to = r.pos;
        Some(Tail {
            bits,
            from,
            to,
            pred,
        })
    }

    /// Where the data of `strip` (unstuffed, `8·len` bits with padding)
    /// ends: the one padding of 1 bits, 0 to 7, that the last MCU's bits
    /// end at.
    fn end_in(&self, strip: &[u8]) -> Option<usize> {
        let total = strip.len() * 8;
        let len = self.to - self.from;
        let mut found = None;
        for pad in 0..8 {
            let Some(start) = total.checked_sub(pad + len) else {
                break;
            };
            if pad > 0 && !bit_at(strip, total - pad) {
                break; // the padding is 1 bits: no longer one can match
            }
            let matches =
                (0..len).all(|i| bit_at(strip, start + i) == bit_at(&self.bits, self.from + i));
            if matches {
                if found.is_some() {
                    return None; // ambiguous
                }
                found = Some(total - pad);
            }
        }
        found
    }
}

/// One step of writing the stitched data.
enum Op {
    /// Bits `from..to` of unstuffed window `w`.
    Bits(usize, usize, usize),
    /// The low `len` bits of a value.
    Put(u32, u32),
    /// Bytes `from..to` (stuffed, whole data bytes) of strip `k`.
    Bulk(usize, usize, usize),
}

/// Unstuffed bytes read from the start of a strip, enough for its first MCU.
const HEAD: usize = 8192;
/// Unstuffed bytes read from the end of a strip, enough for its last MCU.
const TAIL: usize = 8192;

/// How to write the entropy-coded data (stuffed and padded, without EOI) of
/// the one-pass encode whose strips are given to [`Stitch::new`].
pub(super) struct Stitch {
    windows: Vec<Vec<u8>>,
    ops: Vec<Op>,
}

impl Stitch {
    /// For `strips` (complete JPEGs from the same encoder with the same
    /// tables, cut at MCU rows), given for each strip the JPEG of its last
    /// two MCUs (`tails`); `None` if anything is not as expected.
    pub(super) fn new(strips: &[&[u8]], tails: &[&[u8]]) -> Option<Stitch> {
        let (windows, ops) = plan(strips, tails)?;
        Some(Stitch { windows, ops })
    }

    /// Writes the data, reading the same `strips` as [`Stitch::new`].
    pub(super) fn write<W: Write>(&self, strips: &[&[u8]], out: &mut W) -> io::Result<()> {
        let mut w = Writer {
            out,
            buf: Vec::with_capacity(Writer::<W>::FLUSH + 64),
            acc: 0,
            n: 0,
        };
        for op in &self.ops {
            match *op {
                Op::Bits(k, from, to) => w.bits(&self.windows[k], from, to),
                Op::Put(v, len) => w.put(v, len),
                Op::Bulk(k, from, to) => w.bulk(&strips[k][from..to])?,
            }
        }
        w.finish()
    }
}

/// The steps of a [`Stitch`] and the unstuffed windows they read.
fn plan(strips: &[&[u8]], tails: &[&[u8]]) -> Option<(Vec<Vec<u8>>, Vec<Op>)> {
    if strips.len() != tails.len() || strips.is_empty() {
        return None;
    }
    let codings = strips
        .iter()
        .map(|s| Coding::of(s))
        .collect::<Option<Vec<_>>>()?;
    let coding = &codings[0];
    let (mut windows, mut ops) = (Vec::new(), Vec::new());
    let mut pred: Option<Vec<i32>> = None; // after the strip above
    for (k, ((strip, c), tail)) in strips.iter().zip(&codings).zip(tails).enumerate() {
        if c.comps != coding.comps {
            return None;
        }
        let data = scan_data(strip, c.scan)?;
        let tail = Tail::of(tail)?;
        if tail.pred.len() != coding.comps.len() {
            return None;
        }
        // Where the bulk copy starts: a whole data byte of `data`.
        let mut bulk = 0;
        if let Some(above) = &pred {
            // Re-code each component's first DC (predicted from 0 in a
            // strip of its own) against the strip above's last.
            let mut cut = data.len().min(HEAD);
            if cut > 0 && data[cut - 1] == 0xFF {
                cut += 1;
            }
            let head = unstuff(data.get(..cut)?)?;
            let mut firsts = Vec::new();
            let mut absolute = vec![0; coding.comps.len()];
            let mut r = Bits {
                data: &head,
                pos: 0,
            };
            c.mcu(&mut r, &mut absolute, Some(&mut firsts))?;
            let at = windows.len();
            let mut prev = 0;
            // Predicted from 0, each first difference is the DC value itself.
            for (comp, &(start, stop, value)) in firsts.iter().enumerate() {
                let dc = coding.dc.get(coding.comps[comp].1)?.as_ref()?;
                let diff = value - above[comp];
                // JPEG's magnitude category: the bits of |diff| (0 for 0).
                let size = 32 - diff.unsigned_abs().leading_zeros();
                if size > 11 || dc.len[size as usize] == 0 {
                    return None;
                }
                ops.push(Op::Bits(at, prev, start));
                ops.push(Op::Put(
                    u32::from(dc.code[size as usize]),
                    u32::from(dc.len[size as usize]),
                ));
                // Negative values as JPEG codes them: diff - 1 in `size` bits.
                let magnitude = if diff < 0 { diff - 1 } else { diff };
                ops.push(Op::Put(magnitude as u32, size));
                prev = stop;
            }
            let byte = prev.div_ceil(8);
            ops.push(Op::Bits(at, prev, byte * 8));
            bulk = stuffed_offset(data, byte)?;
            windows.push(head);
        }
        // The tail window starts at a whole data byte (not a stuffed zero).
        let mut from = data.len().saturating_sub(TAIL).max(bulk);
        if from > bulk && data[from - 1] == 0xFF {
            from += 1;
        }
        let end_bits = unstuff(data.get(from..)?)?;
        let end = tail.end_in(&end_bits)?;
        ops.push(Op::Bulk(k, c.scan + bulk, c.scan + from));
        ops.push(Op::Bits(windows.len(), 0, end));
        windows.push(end_bits);
        pred = Some(tail.pred);
    }
    Some((windows, ops))
}
