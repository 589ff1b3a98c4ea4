/// Namespace names: the tenants tasks and tokens belong to.
public enum Namespace {
    /// The namespace of tasks created without one.
    public static let defaultName = "default"

    /// Whether `name` may name a namespace: 1–63 characters of lowercase letters, digits and
    /// `-`, starting with a letter or digit.
    public static func isValid(_ name: String) -> Bool {
        let utf8 = Array(name.utf8)
        guard (1...63).contains(utf8.count) else { return false }
        func allowed(_ byte: UInt8) -> Bool { (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D }
        return utf8.allSatisfy(allowed) && utf8[0] != 0x2D
    }
}
