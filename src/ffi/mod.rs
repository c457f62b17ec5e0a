//! The C ABI: translation only. Each export turns its C structs into the safe API's types
//! ([`crate::api`]) after checking every pointer, length, alignment and overlap, calls the API,
//! and turns its `Result` into a numbered `sc_status` plus a thread-local message. Panics are
//! caught at this boundary.
//!
//! Safety, for every export: each pointer is NULL or valid for its stated length for the duration
//! of the call (README, "The contract"); nothing is retained after the call returns.
#![allow(clippy::missing_safety_doc)]

mod accumulate;
mod convert;
mod errors;
mod scale;
mod stats;
mod types;

pub use accumulate::*;
pub use errors::*;
pub use scale::*;
pub use stats::*;
pub use types::*;

use crate::status::{fail, set_last_error, Error, Result, *};
use std::mem::{align_of, size_of};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning an error into its status (and message) and a panic into `SC_STATUS_PANIC`.
fn boundary(f: impl FnOnce() -> Result<()>) -> sc_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => SC_STATUS_OK,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(panic) => {
            let what = crate::status::panic_message(&*panic);
            set_last_error(&format!("internal error (please report): {what}"));
            SC_STATUS_PANIC
        }
    }
}

/// A caller's struct pointer as a reference, or `SC_STATUS_NULL_POINTER`.
///
/// # Safety
/// `p` is NULL or points to a live, initialised `T` for `'a` (the export contract).
unsafe fn not_null<'a, T>(p: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: this fn's contract.
    match unsafe { p.as_ref() } {
        Some(r) => Ok(r),
        None => fail!(SC_STATUS_NULL_POINTER, "{what} is NULL; pass a pointer to a filled-in struct"),
    }
}

fn to_usize(v: u64, what: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::new(SC_STATUS_SIZE_OVERFLOW, format!("{what} = {v} does not fit in size_t")))
}

/// NULL only with length 0, a length whose bytes fit the address space, and alignment.
fn check_buffer<T>(ptr: *const T, len: usize, what: &str) -> Result<()> {
    if ptr.is_null() && len > 0 {
        fail!(SC_STATUS_NULL_POINTER, "{what} is NULL but its length is {len}");
    }
    if len.checked_mul(size_of::<T>()).map_or(true, |b| b > isize::MAX as usize) {
        fail!(SC_STATUS_SIZE_OVERFLOW, "{what}: {len} elements overflow the address space");
    }
    if !ptr.is_null() && (ptr as usize) % align_of::<T>() != 0 {
        fail!(SC_STATUS_MISALIGNED, "{what} ({ptr:p}) is not aligned to {} bytes", align_of::<T>());
    }
    Ok(())
}

/// Byte ranges of the call's buffers, to refuse outputs that overlap inputs or each other.
/// Every buffer is checked ([`check_buffer`]) and added before `check`; slices over them are made
/// only after `check` passed ([`Checked`]).
#[derive(Default)]
struct Regions(Vec<(usize, usize, &'static str, bool)>);

impl Regions {
    /// Checks `ptr`/`len` and records it; NULL only with `len == 0`.
    fn add<T>(&mut self, ptr: *const T, len: usize, what: &'static str, is_output: bool) -> Result<Buf<T>> {
        check_buffer(ptr, len, what)?;
        if !ptr.is_null() && len > 0 {
            self.0.push((ptr as usize, len * size_of::<T>(), what, is_output));
        }
        Ok(Buf { ptr, len })
    }

    /// An optional buffer: NULL means absent, whatever its length.
    fn add_opt<T>(&mut self, ptr: *const T, len: usize, what: &'static str, is_output: bool) -> Result<Buf<T>> {
        if ptr.is_null() {
            return Ok(Buf { ptr, len: 0 });
        }
        self.add(ptr, len, what, is_output)
    }

    fn check(self) -> Result<Checked> {
        for (i, a) in self.0.iter().enumerate() {
            for b in &self.0[i + 1..] {
                if (a.3 || b.3) && a.0 < b.0.saturating_add(b.1) && b.0 < a.0.saturating_add(a.1) {
                    fail!(SC_STATUS_OVERLAP, "{} overlaps {}; outputs must not share memory with other buffers", a.2, b.2);
                }
            }
        }
        Ok(Checked(()))
    }
}

/// Proof that the call's buffers passed the overlap check.
struct Checked(());

/// A checked caller buffer (pointer and length), not yet borrowed.
#[derive(Clone, Copy)]
struct Buf<T> {
    ptr: *const T,
    len: usize,
}

impl<T> Buf<T> {
    /// # Safety
    /// The buffer holds `len` live elements for `'a` (the export contract), and nothing writes it
    /// while the borrow lives.
    unsafe fn shared<'a>(self, _: &Checked) -> &'a [T] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: checked non-NULL and aligned (`Regions::add`); the caller's contract.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// # Safety
    /// As [`Buf::shared`], and the buffer overlaps no other buffer of the call (the `Checked`
    /// proof), so this is the only reference to it.
    unsafe fn exclusive<'a>(self, _: &Checked) -> &'a mut [T] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as above; no overlap with any other buffer of the call (`Regions::check`).
        unsafe { std::slice::from_raw_parts_mut(self.ptr as *mut T, self.len) }
    }

    /// An optional buffer: NULL = absent.
    unsafe fn opt_shared<'a>(self, checked: &Checked) -> Option<&'a [T]> {
        // SAFETY: forwarded.
        (!self.ptr.is_null()).then(|| unsafe { self.shared(checked) })
    }

    unsafe fn opt_exclusive<'a>(self, checked: &Checked) -> Option<&'a mut [T]> {
        // SAFETY: forwarded.
        (!self.ptr.is_null()).then(|| unsafe { self.exclusive(checked) })
    }
}
