import Crypto
import Foundation

/// Signs webhook calls as the Standard Webhooks specification says: `webhook-id`,
/// `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
///
/// The secret is written `whsec_<base64 of the key>`, the form receivers' libraries take.
public struct WebhookSigner: Sendable {
    /// The HMAC key.
    private let key: SymmetricKey

    /// A signer for `secret` (`whsec_<base64>`; 24 to 64 key bytes). Throws when it is not one.
    public init(secret: String) throws {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let bytes = Data(base64Encoded: encoded), (24...64).contains(bytes.count) else {
            throw SigningSecretError(
                message: "a webhook signing secret is whsec_ followed by the base64 of 24 to 64 random bytes"
            )
        }
        key = SymmetricKey(data: bytes)
    }

    /// A new secret from `generator`: 32 random bytes.
    public static func generateSecret(using generator: inout some RandomNumberGenerator) -> String {
        var bytes = [UInt8]()
        for _ in 0..<4 {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return "whsec_" + Data(bytes).base64EncodedString()
    }

    /// The `webhook-signature` value for a message.
    public func signature(id: String, timestamp: Int64, body: [UInt8]) -> String {
        var content = Array("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }

    /// Whether `header` (space-separated `v1,<base64>` signatures) holds a valid signature of
    /// the message — what a receiver does; used by tests and by `almanac` to check a secret.
    public func verify(id: String, timestamp: Int64, body: [UInt8], header: String) -> Bool {
        let expected = Array(signature(id: id, timestamp: timestamp, body: body).utf8)
        for candidate in header.split(separator: " ") {
            let presented = Array(candidate.utf8)
            guard presented.count == expected.count else { continue }
            var difference: UInt8 = 0
            for (a, b) in zip(presented, expected) { difference |= a ^ b }
            if difference == 0 { return true }
        }
        return false
    }
}

/// A webhook signing secret that cannot be used.
public struct SigningSecretError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
