import Foundation

/// Which IP addresses webhook calls may reach (the SSRF guard).
///
/// Checked when a task is saved and, after DNS resolution, at every call — the call then
/// connects to the very address that was checked, so a name that resolves differently the
/// second time (DNS rebinding) cannot get through. An address in `allow` is always allowed;
/// otherwise one in `deny` is refused, and, with `denyPrivate`, so are loopback, private,
/// shared and unique-local ranges. By default only link-local and cloud metadata addresses
/// are refused, so local use works. IPv4 addresses carried inside IPv6 (mapped, NAT64, 6to4,
/// Teredo) are judged as the IPv4 address they carry.
public struct AddressPolicy: Sendable, Hashable {
    /// Always allowed (wins over every deny rule).
    public var allow: [CIDR]
    /// Refused.
    public var deny: [CIDR]
    /// Whether loopback and private ranges are refused too.
    public var denyPrivate: Bool

    /// Link-local (where cloud metadata services live) and known metadata addresses.
    public static let defaultDeny: [CIDR] = [
        "169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32",
        // Never a webhook's host: multicast, reserved and broadcast.
        "224.0.0.0/4", "240.0.0.0/4", "ff00::/8",
    ].map { CIDR($0)! }
    /// What `denyPrivate` adds: loopback, "this network", private, shared (CGNAT) and unique-local.
    public static let privateRanges: [CIDR] = [
        "127.0.0.0/8", "0.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "::1/128", "::/128", "fc00::/7",
    ].map { CIDR($0)! }

    public init(allow: [CIDR] = [], deny: [CIDR] = AddressPolicy.defaultDeny, denyPrivate: Bool = false) {
        self.allow = allow
        self.deny = deny
        self.denyPrivate = denyPrivate
    }

    /// Nil when the address (bytes: 4 for IPv4, 16 for IPv6) may be called; otherwise why not.
    public func refusal(_ address: [UInt8]) -> String? {
        if allow.contains(where: { $0.contains(address) }) { return nil }
        // Formatted only to explain a refusal: every task saved is judged.
        var shown: String { CIDR.format(address) }
        if let rule = deny.first(where: { $0.contains(address) }) { return "\(shown), in the denied range \(rule)" }
        if denyPrivate, let rule = Self.privateRanges.first(where: { $0.contains(address) }) {
            return "\(shown), a loopback or private address (\(rule)), and private addresses are denied"
        }
        if let embedded = CIDR.embeddedIPv4(address), let reason = refusal(embedded) {
            return "\(shown) carries \(CIDR.format(embedded)): \(reason)"
        }
        return nil
    }

    /// What the policy says of a URL's host.
    public enum Judgement: Sendable {
        /// An IP literal that may be called.
        case literal
        /// A name, resolved, every address of which may be called.
        case resolved(host: String, addresses: [[UInt8]])
        /// Refused, and why (starting "refused by the address policy").
        case refused(String)
        /// A name that does not resolve (or a URL without a host).
        case unresolved(String)
    }

    /// Judges the host of `url`: an IP literal directly, a name after resolving it (refused if
    /// any of its addresses is). The one check behind saving a task and making a call.
    public func judge(url: String) async -> Judgement {
        guard let components = URLComponents(string: url), let raw = components.host, !raw.isEmpty else {
            return .unresolved("the URL has no host")
        }
        let host = raw.hasPrefix("[") ? String(raw.dropFirst().dropLast()) : raw
        if let address = CIDR.parseAddress(host) {
            return refusal(address).map { .refused("refused by the address policy: \($0)") } ?? .literal
        }
        switch await HostResolver.resolve(host) {
        case .failure(let error):
            return .unresolved(error.message)
        case .success(let addresses):
            if let reason = addresses.lazy.compactMap(refusal).first {
                return .refused("refused by the address policy: \(host) resolves to \(reason)")
            }
            return .resolved(host: host, addresses: addresses)
        }
    }

    /// Nil when `host` (an IP literal, IPv6 with or without brackets) may be called; nil also
    /// for a name, which is judged once resolved.
    public func refusal(literal host: String) -> String? {
        CIDR.parseAddress(host).flatMap(refusal)
    }
}

/// An address range, `a.b.c.d/n` or `x:y::/n`.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public let network: [UInt8]
    public let prefix: Int

    /// Parses `text`; an address without `/n` is a single address. Nil when it is not a range.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = CIDR.parseAddress(String(parts[0])) else { return nil }
        let bits = address.count * 8
        let prefix: Int
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...bits).contains(value) else { return nil }
            prefix = value
        } else {
            prefix = bits
        }
        self.network = CIDR.masked(address, prefix)
        self.prefix = prefix
    }

    public var description: String { "\(CIDR.format(network))/\(prefix)" }

    /// Whether `address` is in the range (an IPv4 address is never in an IPv6 range, nor the reverse).
    public func contains(_ address: [UInt8]) -> Bool {
        address.count == network.count && CIDR.masked(address, prefix) == network
    }

    private static func masked(_ address: [UInt8], _ prefix: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let kept = max(0, min(8, prefix - index * 8))
            return kept == 8 ? byte : byte & ~(UInt8(0xFF) >> kept)
        }
    }

    /// The bytes of an IPv4 or IPv6 literal (brackets allowed), or nil.
    public static func parseAddress(_ text: String) -> [UInt8]? {
        var host = text
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }

    /// The address as text.
    public static func format(_ address: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = address.count == 4 ? AF_INET : AF_INET6
        let text = address.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return text == nil ? "?" : String(cString: buffer)
    }

    /// The IPv4 address inside an IPv6 one: mapped (::ffff:0:0/96), IPv4-compatible (::/96,
    /// but not :: and ::1), SIIT (::ffff:0:0:0/96), NAT64 (64:ff9b::/96, and the local-use
    /// 64:ff9b:1::/48 with the address after the prefix, around the reserved octet), 6to4
    /// (2002::/16) or Teredo (2001::/32, the client address inverted).
    static func embeddedIPv4(_ address: [UInt8]) -> [UInt8]? {
        guard address.count == 16 else { return nil }
        if address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xFF, address[11] == 0xFF { return Array(address[12..<16]) }
        if address[0..<12].allSatisfy({ $0 == 0 }), !address[12..<15].allSatisfy({ $0 == 0 }) || address[15] > 1 {
            return Array(address[12..<16])
        }
        if address[0..<8].allSatisfy({ $0 == 0 }), address[8] == 0xFF, address[9] == 0xFF, address[10] == 0, address[11] == 0 {
            return Array(address[12..<16])
        }
        if address[0..<6] == [0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01] { return [address[6], address[7], address[9], address[10]] }
        if address[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] { return Array(address[12..<16]) }
        if address[0] == 0x20, address[1] == 0x02 { return Array(address[2..<6]) }
        if address[0..<4] == [0x20, 0x01, 0x00, 0x00] { return address[12..<16].map { ~$0 } }
        return nil
    }
}

/// Resolves host names with the system resolver, off the concurrency pool's threads.
public enum HostResolver {
    private static let queue = DispatchQueue(label: "almanac.resolver", attributes: .concurrent)

    /// Every address `host` resolves to (IPv4 and IPv6), or an error message.
    public static func resolve(_ host: String) async -> Result<[[UInt8]], ResolutionError> {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: resolveNow(host)) }
        }
    }

    private static func resolveNow(_ host: String) -> Result<[[UInt8]], ResolutionError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else {
            return .failure(ResolutionError(message: "cannot resolve \(host): \(String(cString: gai_strerror(status)))"))
        }
        defer { freeaddrinfo(first) }
        var addresses: [[UInt8]] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let current = node {
            if let socket = current.pointee.ai_addr {
                if current.pointee.ai_family == AF_INET {
                    let address = socket.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    addresses.append(withUnsafeBytes(of: address) { Array($0) })
                } else if current.pointee.ai_family == AF_INET6 {
                    let address = socket.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    addresses.append(withUnsafeBytes(of: address) { Array($0) })
                }
            }
            node = current.pointee.ai_next
        }
        var unique: [[UInt8]] = []
        for address in addresses where !unique.contains(address) { unique.append(address) }
        return unique.isEmpty ? .failure(ResolutionError(message: "\(host) has no address")) : .success(unique)
    }
}

/// A host name that did not resolve.
public struct ResolutionError: Error, Sendable {
    public let message: String
}
