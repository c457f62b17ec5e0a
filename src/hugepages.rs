//! Transparent huge pages for the dense output. First-touch page faults of a fresh multi-GB
//! buffer cost more than the scaling itself on 4 KiB pages; with THP in `madvise` mode (the
//! default on these machines) only advised ranges get 2 MiB pages.

const HUGE_PAGE: usize = 2 << 20;

/// Advises the 2 MiB-aligned interior of `[ptr, ptr + len)` for huge pages. Best effort: errors
/// (old kernels, THP disabled) are ignored because they change speed, never results.
pub fn advise(ptr: *mut u8, len: usize) {
    if len < 2 * HUGE_PAGE {
        return;
    }
    let start = (ptr as usize).div_ceil(HUGE_PAGE) * HUGE_PAGE;
    let end = (ptr as usize + len) / HUGE_PAGE * HUGE_PAGE;
    if end <= start {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: the range lies inside the caller's buffer; MADV_HUGEPAGE does not change contents.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
    }
}
