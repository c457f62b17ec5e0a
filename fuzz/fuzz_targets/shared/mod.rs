//! Shared by the fuzz targets: fuzzer bytes -> choices, and heap buffers between guard zones.
#![allow(dead_code)]

use std::ffi::c_void;

// ---------------------------------------------------------------------------------------------
// Input bytes -> choices.

pub struct Src<'a> {
    pub d: &'a [u8],
    pub rng: u64,
}

impl<'a> Src<'a> {
    pub fn u8(&mut self) -> u8 {
        match self.d.split_first() {
            Some((&b, rest)) => {
                self.d = rest;
                b
            }
            None => {
                // Exhausted: continue deterministically from what was read.
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                (self.rng >> 32) as u8
            }
        }
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let v = if n <= 256 { self.u8() as usize } else { (self.u8() as usize) << 8 | self.u8() as usize };
        v % n
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    /// True with probability about k/256.
    pub fn chance(&mut self, k: u8) -> bool {
        self.u8() < k
    }
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |a, _| a << 8 | self.u8() as u64)
    }
}

pub fn value(s: &mut Src, f32_values: bool) -> f64 {
    let v = match s.below(20) {
        0 => 0.0,
        1 => -0.0,
        2 => 1.0,
        3 => 0.1,
        4 => -2.5,
        5 => f64::NAN,
        6 => f64::INFINITY,
        7 => f64::NEG_INFINITY,
        8 => 1e-300,
        9 => 1e300,
        10 => 3.0e19,
        11 => 1e-45,
        12 => f64::MAX,
        13 => f64::from_bits(s.u64()),
        14 => f32::from_bits(s.u64() as u32) as f64,
        15 => 1e38,
        _ => (s.u8() as i32 - 128) as f64 / 7.0,
    };
    if f32_values {
        v as f32 as f64
    } else {
        v
    }
}

// ---------------------------------------------------------------------------------------------
// Guarded buffers.

pub const GUARD: usize = 64;
pub const PAT: u8 = 0xA5;

/// A heap buffer with guard zones: `[GUARD bytes][payload][GUARD bytes]`, payload 64-aligned.
pub struct Buf {
    pub store: Vec<u64>,
    pub len: usize,
}

impl Buf {
    pub fn from_bytes(bytes: &[u8], spare: usize) -> Buf {
        let len = bytes.len() + spare;
        let words = (2 * GUARD + len).div_ceil(8);
        let mut b = Buf { store: vec![u64::from_ne_bytes([PAT; 8]); words], len };
        b.payload_mut()[..bytes.len()].copy_from_slice(bytes);
        b
    }
    pub fn of<T: Copy>(items: &[T], spare_items: usize) -> Buf {
        let n = std::mem::size_of_val(items);
        // SAFETY: plain-old-data reinterpretation for copying.
        let bytes = unsafe { std::slice::from_raw_parts(items.as_ptr() as *const u8, n) };
        Buf::from_bytes(bytes, spare_items * std::mem::size_of::<T>())
    }
    pub fn base(&self) -> *mut u8 {
        self.store.as_ptr() as *mut u8
    }
    pub fn ptr(&self) -> *mut c_void {
        unsafe { self.base().add(GUARD) as *mut c_void }
    }
    pub fn all(&self) -> &[u8] {
        unsafe { std::slice::from_raw_parts(self.base(), self.store.len() * 8) }
    }
    pub fn payload(&self) -> &[u8] {
        &self.all()[GUARD..GUARD + self.len]
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (p, n) = (self.ptr() as *mut u8, self.len);
        unsafe { std::slice::from_raw_parts_mut(p, n) }
    }
    pub fn guards_intact(&self) -> bool {
        let a = self.all();
        a[..GUARD].iter().all(|&b| b == PAT) && a[GUARD + self.len..].iter().all(|&b| b == PAT)
    }
    pub fn f64_at(&self, i: usize, f32: bool) -> f64 {
        let p = self.payload();
        if f32 {
            f32::from_ne_bytes(p[i * 4..i * 4 + 4].try_into().unwrap()) as f64
        } else {
            f64::from_ne_bytes(p[i * 8..i * 8 + 8].try_into().unwrap())
        }
    }
    pub fn elem_untouched(&self, i: usize, size: usize) -> bool {
        self.payload()[i * size..(i + 1) * size].iter().all(|&b| b == PAT)
    }
}
