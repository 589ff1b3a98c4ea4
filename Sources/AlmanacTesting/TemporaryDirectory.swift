import Foundation

/// A fresh directory under the system's temporary folder, removed when the scope ends.
public enum TemporaryDirectory {
    /// Creates a new empty directory, runs `body` with its path, then removes it.
    public static func with<Result>(
        prefix: String = "almanac-test",
        _ body: (String) async throws -> Result
    ) async throws -> Result {
        let path = try create(prefix: prefix)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }

    /// Creates a new empty directory and returns its path; the caller removes it.
    public static func create(prefix: String = "almanac-test") throws -> String {
        let base = FileManager.default.temporaryDirectory.path
        let path = "\(base)/\(prefix)-\(UUID().uuidString.prefix(12))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
