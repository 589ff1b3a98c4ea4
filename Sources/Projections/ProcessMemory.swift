#if canImport(Glibc)
import Glibc
#endif

/// How the process's allocator places large blocks, which decides how much of the
/// projection's memory stays resident.
public enum ProcessMemory {
    /// glibc's initial threshold above which a block gets its own memory mapping.
    public static let mappingThreshold: Int32 = 128 * 1024

    /// Fixes glibc's mmap threshold at its initial 128 KiB; returns whether it was set.
    ///
    /// The projection keeps its tasks and run records in large arrays that grow by
    /// reallocation. glibc raises the threshold to the size of every mapped block freed (up to
    /// 32 MiB), so after the first growths the arrays come from the heap, where each freed
    /// array leaves a hole and the untouched room of each new one is resident. With the
    /// threshold fixed, large arrays stay mapped: freed, they go back to the system at once,
    /// and their unused room is never touched. Measured with `bench-replay --phase memory`
    /// at 100,000 tasks: 2,374 → 2,104 bytes per active task.
    @discardableResult
    public static func mapLargeBlocks() -> Bool {
        #if os(Linux)
        // `mallopt` is not in the Glibc module; M_MMAP_THRESHOLD is -3 in <malloc.h>.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        return mallopt(-3, mappingThreshold) == 1
        #else
        return false
        #endif
    }
}
