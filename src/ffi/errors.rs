//! Defaults, errors and versions: `sc_options_default`, `sc_last_error_message`,
//! `sc_status_name`, `sc_status_kind`, `sc_version`, `sc_abi_version`.

use super::boundary;
use super::convert::flavor;
use super::types::*;
use crate::api::{Flavor, Options};
use crate::status::{fail, with_last_error, *};
use std::ffi::{c_char, CString};
use std::panic::catch_unwind;
use std::sync::OnceLock;

/// Fills `opts` with the defaults of `flavor`: centre and scale; Scanpy: no clipping,
/// `n_partitions = 1`; Seurat: clip at 10. All threads; no optional buffers.
#[no_mangle]
pub unsafe extern "C" fn sc_options_default(opts: *mut sc_options, flavor_: sc_flavor) -> sc_status {
    boundary(|| {
        if opts.is_null() {
            fail!(SC_STATUS_NULL_POINTER, "opts is NULL");
        }
        let d = Options::new(flavor(flavor_)?);
        debug_assert!(d.flavor != Flavor::Seurat || d.max_value.is_some());
        // SAFETY: `opts` is not NULL (checked above) and points to a writable sc_options (contract).
        unsafe {
            opts.write(sc_options {
                flavor: flavor_,
                center: d.center,
                scale: d.scale,
                clip: d.max_value.is_some(),
                max_value: d.max_value.unwrap_or(f64::INFINITY),
                n_partitions: d.n_partitions as u32,
                n_threads: d.n_threads as u32,
                column_map: std::ptr::null(),
                column_map_len: 0,
                groups: std::ptr::null(),
                groups_len: 0,
                n_groups: 0,
                given_mean: std::ptr::null(),
                given_mean_len: 0,
                given_std: std::ptr::null(),
                given_std_len: 0,
                mean_out: std::ptr::null_mut(),
                mean_out_len: 0,
                var_out: std::ptr::null_mut(),
                var_out_len: 0,
                std_out: std::ptr::null_mut(),
                std_out_len: 0,
                progress: None,
                progress_data: std::ptr::null_mut(),
                no_hugepage_advice: !d.hugepage_advice,
            })
        };
        Ok(())
    })
}

/// Copies the calling thread's last error message into `buf` (NUL-terminated, truncated to
/// `len`). Returns the full message length in bytes, without the NUL. `buf` may be NULL when
/// `len` is 0 (to ask for the length).
#[no_mangle]
pub unsafe extern "C" fn sc_last_error_message(buf: *mut c_char, len: usize) -> usize {
    catch_unwind(|| {
        with_last_error(|msg| {
            if !buf.is_null() && len > 0 {
                let n = msg.len().min(len - 1);
                // SAFETY: `buf` holds `len` > n bytes (contract); the message is our own memory.
                unsafe {
                    std::ptr::copy_nonoverlapping(msg.as_ptr() as *const c_char, buf, n);
                    *buf.add(n) = 0;
                }
            }
            msg.len()
        })
    })
    .unwrap_or(0)
}

/// The status code's name, e.g. "SC_STATUS_INDPTR_END" (static; "SC_STATUS_UNKNOWN" otherwise).
#[no_mangle]
pub extern "C" fn sc_status_name(status: i32) -> *const c_char {
    static NAMES: OnceLock<Vec<(sc_status, CString)>> = OnceLock::new();
    let names = NAMES.get_or_init(|| sc_status::all().map(|s| (s, CString::new(s.name()).expect("ASCII names"))).collect());
    match sc_status::from_code(status).and_then(|s| names.iter().find(|(t, _)| *t == s)) {
        Some((_, name)) => name.as_ptr(),
        None => b"SC_STATUS_UNKNOWN\0".as_ptr() as *const c_char,
    }
}

/// The kind of a status code, for choosing an error class (`SC_KIND_INVALID_INPUT` for unknown
/// codes).
#[no_mangle]
pub extern "C" fn sc_status_kind(status: i32) -> sc_error_kind {
    sc_status::from_code(status).map_or(sc_error_kind::SC_KIND_INVALID_INPUT, sc_status::kind)
}

/// The library version, e.g. "0.1.0" (static string).
#[no_mangle]
pub extern "C" fn sc_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// `SC_ABI_VERSION` of the library actually loaded; compare with the header's.
#[no_mangle]
pub extern "C" fn sc_abi_version() -> u32 {
    SC_ABI_VERSION
}
