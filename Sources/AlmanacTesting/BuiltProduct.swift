import Foundation

/// Finds executables this package built, next to the running test binary.
public enum BuiltProduct {
    /// The path of the executable product `name` in the same build folder as this process.
    public static func path(_ name: String) throws -> String {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // The test binary may sit inside an .xctest bundle folder; walk up to the build folder.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw NotFound(name: name, near: executable)
    }

    /// The product was not built next to the test binary.
    public struct NotFound: Error, CustomStringConvertible {
        /// The product looked for.
        public let name: String
        /// The running executable it was looked for beside.
        public let near: String
        public var description: String { "no built product \(name) near \(near); build the package first" }
    }
}
