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
    // Miri has no madvise; advice never changes results.
    #[cfg(all(target_os = "linux", not(miri)))]
    // SAFETY: the range lies inside the caller's buffer; MADV_HUGEPAGE does not change contents.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
    }
}

/// Whether the pages under `data` are already in memory, judged from 8 pages spread over it
/// (Linux `mincore`; elsewhere: no). Faulting in a present output first only costs: one cache
/// miss per 4 KiB page, 2-8 ms for a pbmc68k-like float64 result on 2 threads.
pub fn looks_present<W>(data: &[W]) -> bool {
    // Miri has no mincore; "not present" only means the pages are touched first.
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        const PAGE: usize = 4096;
        let (start, len) = (data.as_ptr() as usize, std::mem::size_of_val(data));
        if len == 0 {
            return false;
        }
        (0..8).all(|k| {
            let page = (start + (len - 1) / 7 * k) / PAGE * PAGE;
            let mut resident = 0u8;
            // SAFETY: `page` is page-aligned and overlaps the caller's buffer, so it is mapped;
            // mincore writes one byte for the one page asked about.
            let ok = unsafe { libc::mincore(page as *mut libc::c_void, PAGE, &mut resident) } == 0;
            ok && resident & 1 == 1
        })
    }
    #[cfg(any(not(target_os = "linux"), miri))]
    {
        let _ = data;
        false
    }
}

/// Faults in the pages of a fresh output, in parallel on the current pool, by writing a zero
/// into each 4 KiB page. Measured on a fresh pbmc68k-like float64 output (1 thread,
/// `SCSCALE_BENCH_FRESH=1`): touching the pages first took 0.09 s and the call then 0.12 s,
/// while the call faulting them itself took 0.35-0.5 s (the kernel zeroes each page through the
/// cache, which the streaming stores then fight). Inside the call the gain is within the noise of
/// huge-page compaction on this machine. Only for ranges whose every element is written next.
/// Does nothing when the pages are already there ([`looks_present`]).
pub fn prefault<W: Copy + Send + Sync>(data: &mut [W], zero: W) {
    use rayon::prelude::*;
    if looks_present(data) {
        return;
    }
    const PAGE: usize = 4096;
    let size = std::mem::size_of::<W>().max(1);
    let per_page = (PAGE / size).max(1);
    // The first element, then the first element of every page that starts inside `data`, so an
    // unaligned buffer gets its last, partial page too.
    let head = ((PAGE - data.as_ptr() as usize % PAGE) % PAGE / size).min(data.len());
    if let Some(first) = data.first_mut() {
        // SAFETY: an element of the caller's buffer; volatile so the store is not elided.
        unsafe { std::ptr::write_volatile(first, zero) };
    }
    data[head..].par_chunks_mut(per_page * 512).for_each(|block| {
        for page in block.chunks_mut(per_page) {
            // SAFETY: as above.
            unsafe { std::ptr::write_volatile(page.as_mut_ptr(), zero) };
        }
    });
}

#[cfg(all(test, target_os = "linux", not(miri)))]
mod tests {
    #[test]
    fn fresh_pages_are_not_present_until_written() {
        // 64 MiB: glibc maps it fresh from the kernel, so no page is in memory yet.
        let layout = std::alloc::Layout::array::<f64>(8 << 20).unwrap();
        // SAFETY: non-zero size; only written before being read; freed below.
        let ptr = unsafe { std::alloc::alloc(layout) as *mut f64 };
        assert!(!ptr.is_null());
        // SAFETY: `ptr` is a live allocation of 8 << 20 f64s, uniquely borrowed here.
        let data = unsafe { std::slice::from_raw_parts_mut(ptr, 8 << 20) };
        assert!(!super::looks_present(data));
        super::prefault(data, 0.0);
        assert!(super::looks_present(data));
        // SAFETY: allocated above with this layout; `data` is no longer used.
        unsafe { std::alloc::dealloc(ptr as *mut u8, layout) };
    }
}
