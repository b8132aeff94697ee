//! Allocator settings for the `stn` binary (the library never changes them),
//! and the page-fault helpers for big buffers ([`advise_huge_pages`],
//! [`populate`], [`prepare_spare`]).
//!
//! A batch allocates and frees a few image-sized buffers per image (the
//! decoded input, the warped output, the encoded file: about 1 MB each for a
//! 640×480 RGB image). glibc serves allocations above its mmap threshold
//! (128 KiB at start, raised only to the size of the last freed mapping) with
//! fresh `mmap`s, and hands freed memory at the top of a heap back to the
//! kernel beyond 128 KiB; either way every image paid page faults and page
//! clearing for memory it had just returned. [`tune`] keeps buffers below
//! 32 MiB in the heap and trims only beyond 256 MiB of free space, so they are
//! reused. Measured (500 PNG 640×480, `stn rectify`, 2 threads, the same
//! settings set through `GLIBC_TUNABLES` in alternating runs): 1.37 → 1.09 s
//! wall, system time 0.8 → 0.33 s. Peak memory is unchanged in substance: freed
//! buffers are reused rather than returned, and a batch's live set bounds them.
//!
//! glibc caps the mmap threshold at 32 MiB on 64-bit, so a 12-MP RGB photo's
//! decoded buffer (36 MB) still got a fresh mapping per image: page faults and
//! page clearing were ~27 % of `stn -j 1 rectify --model doc-page` on 12-MP
//! JPEGs (`perf`). [`tune`] therefore also sets `M_MMAP_MAX` to 0: every
//! allocation comes from the heaps (a thread arena's heap holds up to 64 MiB;
//! a larger request falls back to the main arena, which grows with `brk`, and
//! glibc still maps memory when `brk` cannot grow). Measured on the quiet
//! machine (`stn -j 2 rectify --model doc-page` over 100 photos of 12 MP, the
//! old settings through `GLIBC_TUNABLES` in alternating runs, 3 each):
//! 4.68–5.44 → 3.62–4.18 s wall, system time 1.82–2.04 → 0.25–0.27 s, peak
//! RSS 234 → 236–272 MB.

/// Applies the settings, unless the user configured glibc's allocator through
/// the environment (`GLIBC_TUNABLES` with `glibc.malloc.*`, or `MALLOC_*`).
/// Does nothing except on glibc Linux. Call before starting threads.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let user_set = std::env::vars_os().any(|(k, v)| {
            let k = k.to_string_lossy();
            k.starts_with("MALLOC_")
                || (k == "GLIBC_TUNABLES" && v.to_string_lossy().contains("glibc.malloc."))
        });
        if !user_set {
            // SAFETY: mallopt only sets allocator parameters; any value is valid.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
                libc::mallopt(libc::M_MMAP_MAX, 0);
            }
        }
    }
}

/// Asks the kernel to back the 2-MiB-aligned part of a fresh buffer of
/// `len` bytes at `ptr` with transparent huge pages (`MADV_HUGEPAGE`), so
/// that filling it costs a dozen page faults instead of thousands. Only for
/// buffers of at least 4 MiB; a hint, so failures are ignored. Does nothing
/// off Linux, or with `STN_NO_HUGE_PAGES` set (for comparisons).
///
/// Measured (one 4K JPEG warped, 1 thread, this guest with THP in `madvise`
/// mode): decode-only runs 48.3 → 35.5 ms, the whole run 113 → 84 ms; the
/// kernel's share was 29 %, ~1.8 µs per 4-KiB fault. On a loaded machine the
/// page clearing itself dominates either way.
pub fn advise_huge_pages(ptr: *mut u8, len: usize) {
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (ptr, len);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const HUGE: usize = 2 << 20;
        if len < 2 * HUGE || std::env::var_os("STN_NO_HUGE_PAGES").is_some() {
            return;
        }
        let start = (ptr as usize).next_multiple_of(HUGE);
        let end = (ptr as usize + len) / HUGE * HUGE;
        if end > start {
            // SAFETY: the range lies inside the caller's allocation; the
            // advice changes how it is backed, never its contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// A buffer allocated and faulted in ahead of need (see [`prepare_spare`]).
static SPARE: std::sync::Mutex<Option<Vec<u8>>> = std::sync::Mutex::new(None);

/// Allocates a buffer of `len` bytes (huge pages advised), faults its pages
/// in by writing one byte per 4 KiB, and keeps it for [`take_spare`]. Run
/// on an otherwise idle thread, this takes the page faults and the kernel's
/// page clearing of the next big buffer (a single image's warp output) off
/// the critical path.
pub fn prepare_spare(len: usize) {
    let mut v: Vec<u8> = Vec::new();
    if v.try_reserve_exact(len).is_err() {
        return;
    }
    advise_huge_pages(v.as_mut_ptr(), len);
    for page in v.spare_capacity_mut().iter_mut().step_by(4096) {
        page.write(0);
    }
    if let Ok(mut spare) = SPARE.lock() {
        *spare = Some(v);
    }
}

/// The buffer [`prepare_spare`] made, as an empty `Vec<T>`, if `T` is `u8`
/// and its capacity is `len` to `len + len / 8` (a much larger one is left
/// alone, and freed with the next one or at exit).
pub fn take_spare<T: 'static>(len: usize) -> Option<Vec<T>> {
    if std::any::TypeId::of::<T>() != std::any::TypeId::of::<u8>() {
        return None;
    }
    let mut spare = SPARE.lock().ok()?;
    let fits = spare
        .as_ref()
        .is_some_and(|v| (len..=len + len / 8).contains(&v.capacity()));
    if !fits {
        return None;
    }
    let v: Box<dyn std::any::Any> = Box::new(spare.take()?);
    v.downcast::<Vec<T>>().ok().map(|v| *v)
}

/// Faults in the pages of `len` bytes at `ptr` for writing, from the kernel
/// (`MADV_POPULATE_WRITE`, Linux 5.14): another thread may be writing to them
/// at the same time; the contents are not changed. A hint: failures are
/// ignored.
pub fn populate(ptr: *mut u8, len: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MADV_POPULATE_WRITE: libc::c_int = 23;
        let page = 4096;
        let start = (ptr as usize).next_multiple_of(page);
        let end = (ptr as usize + len) / page * page;
        if end > start {
            // SAFETY: the range lies inside the caller's allocation; populating
            // pages does not change what they hold.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, MADV_POPULATE_WRITE);
            }
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (ptr, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spare_goes_to_the_first_u8_request_of_its_size() {
        prepare_spare(1 << 20);
        assert!(take_spare::<u16>(1 << 19).is_none(), "not u8");
        assert!(take_spare::<u8>(2 << 20).is_none(), "too small");
        assert!(take_spare::<u8>(1 << 16).is_none(), "much too large");
        let v = take_spare::<u8>((1 << 20) - 100).expect("fits");
        assert!(v.is_empty() && v.capacity() >= 1 << 20);
        assert!(take_spare::<u8>(1 << 20).is_none(), "taken once");
    }
}
