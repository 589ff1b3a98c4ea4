#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// An exclusive `flock` on `writer.lock` in the data directory, held while a journal is
/// open for writing.
///
/// Two writers would each keep their own idea of the head and the chain, and every commit
/// of the second would fail; LMDB itself does not prevent it across processes. The lock
/// belongs to the open file, so the kernel releases it when the process dies.
final class WriterLock: Sendable {
    private let descriptor: Mutex<Int32>

    /// Takes the lock, or fails at once if another open holds it.
    init(directory: String) throws(JournalError) {
        let path = directory + "/writer.lock"
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw JournalError(code: .storage, message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(fd)
            throw JournalError(
                code: .locked,
                message: "another process is writing to the journal in \(directory); stop it first, or open read-only"
            )
        }
        descriptor = Mutex(fd)
    }

    /// Releases the lock; later calls do nothing.
    func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            flock(fd, LOCK_UN)
            Glibc.close(fd)
            fd = -1
        }
    }

    deinit { release() }
}
