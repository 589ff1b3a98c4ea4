/// Checks webhook URLs: absolute `http`/`https`, a well-formed host (name, IPv4 or
/// bracketed IPv6) and optional port, and a path/query of visible ASCII with valid
/// percent-escapes. What passes here, the HTTP client can call.
enum WebhookURL {
    /// Nil when `text` is acceptable; otherwise what is wrong with it.
    static func problem(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        let lower = text.lowercased()
        let schemeLength: Int
        if lower.hasPrefix("http://") { schemeLength = 7 } else if lower.hasPrefix("https://") { schemeLength = 8 } else {
            return "must start with http:// or https://"
        }
        var index = schemeLength
        let authorityEnd = bytes[index...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? bytes.count
        var authority = Array(bytes[index..<authorityEnd])
        if let at = authority.lastIndex(of: UInt8(ascii: "@")) { authority = Array(authority[(at + 1)...]) }
        var host = authority[...]
        var port: ArraySlice<UInt8> = []
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return "has an unclosed IPv6 address" }
            host = authority[1..<close]
            guard !host.isEmpty, host.allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else {
                return "has an invalid IPv6 address"
            }
            let rest = authority[(close + 1)...]
            if !rest.isEmpty {
                guard rest.first == UInt8(ascii: ":") else { return "has text after the IPv6 address" }
                port = rest.dropFirst()
            }
        } else {
            if let colon = authority.firstIndex(of: UInt8(ascii: ":")) {
                host = authority[..<colon]
                port = authority[(colon + 1)...]
            }
            guard !host.isEmpty else { return "has no host" }
            for label in host.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
                guard !label.isEmpty, label.count <= 63, label.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }),
                    label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-")
                else { return "has an invalid host name" }
            }
        }
        if !port.isEmpty || authority.last == UInt8(ascii: ":") {
            guard port.count <= 5, port.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let number = Int(String(decoding: port, as: UTF8.self)), (1...65535).contains(number)
            else { return "has an invalid port" }
        }
        index = authorityEnd
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, isHex(bytes[index + 1]), isHex(bytes[index + 2]) else {
                    return "has an invalid percent-escape"
                }
                index += 3
                continue
            }
            guard byte > 0x20, byte < 0x7F, !"\"<>\\^`{|}".utf8.contains(byte) else {
                return "has a character that must be percent-encoded (a space, a control character, or one of \"<>\\^`{|})"
            }
            index += 1
        }
        return nil
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}
