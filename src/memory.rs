//! Handing freed heap memory back to the operating system after work that allocates a lot at
//! once (a ranking's answer, a password hash's 19 MiB).
//!
//! glibc raises its mmap threshold after the first large free, so later large blocks come from
//! the arena of the thread that asked and stay resident after they are freed: one block per
//! thread that ever did such work. `malloc_trim` returns the free pages of every arena.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_freed_memory() {
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas to the kernel; it
    // touches no live allocation and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed_memory() {}
