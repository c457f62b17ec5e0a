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

/// Faults in the pages of a fresh output, in parallel on the current pool, by writing a zero
/// into each 4 KiB page. Measured on a fresh pbmc68k-like float64 output (1 thread,
/// `SCSCALE_BENCH_FRESH=1`): touching the pages first took 0.09 s and the call then 0.12 s,
/// while the call faulting them itself took 0.35-0.5 s (the kernel zeroes each page through the
/// cache, which the streaming stores then fight). Inside the call the gain is within the noise of
/// huge-page compaction on this machine. Only for ranges whose every element is written next.
pub fn prefault<W: Copy + Send + Sync>(data: &mut [W], zero: W) {
    use rayon::prelude::*;
    const PAGE: usize = 4096;
    let per_page = (PAGE / std::mem::size_of::<W>().max(1)).max(1);
    data.par_chunks_mut(per_page * 512).for_each(|block| {
        for page in block.chunks_mut(per_page) {
            // SAFETY: an element of the caller's buffer; volatile so the store is not elided.
            unsafe { std::ptr::write_volatile(page.as_mut_ptr(), zero) };
        }
    });
}
