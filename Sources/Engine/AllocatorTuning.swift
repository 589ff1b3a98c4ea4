import CMalloc

/// The allocator settings a server process runs with; its executable applies them once at start.
///
/// glibc's `malloc` grows each arena a little at a time, a system call (`brk` or `mprotect`)
/// per step, and gives memory back as soon as the arena's top is free. A burst that builds
/// hundreds of thousands of small values on several threads spent a seventh of its CPU on
/// those calls and the page faults after them (measured in the scheduler benchmark's burst
/// phase; `docs/benchmarks.md`). A top pad makes each step large. Untouched pages of the pad
/// are not resident, so it costs address space, not memory.
public enum AllocatorTuning {
    /// How much more than asked for each arena grows by, and keeps at its top when freeing.
    public static let topPad = 64 << 20

    /// Applies the settings to this process (only on glibc; elsewhere it does nothing).
    /// Returns whether they were applied.
    @discardableResult
    public static func apply() -> Bool {
        almanac_malloc_top_pad(Int32(topPad)) == 1
    }
}
