import Crypto
import Foundation
public import Scheduling

/// Seals and opens task secrets with the server's secrets key (AES-256-GCM).
///
/// A sealed value binds the task id and the field it belongs to (``WebhookAction/sealingField(header:)``)
/// as authenticated data, so a sealed value copied into another task or another header does
/// not open. Its text names the key's id — the first 8 bytes of the SHA-256 of the key, in hex
/// — so a secret sealed with another key is reported as such rather than as tampering.
public struct SecretBox: Sendable {
    /// The key.
    private let key: SymmetricKey
    /// The key's id, 16 hex digits.
    public let keyID: String

    /// A box for a 32-byte key.
    public init(key bytes: [UInt8]) throws(SecretError) {
        guard bytes.count == 32 else { throw SecretError("a secrets key is 32 bytes, not \(bytes.count)") }
        key = SymmetricKey(data: bytes)
        keyID = SHA256.hash(data: bytes).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// A box with a new random key: for tests and for servers that keep no key file.
    public static func ephemeral() -> SecretBox {
        let key = SymmetricKey(size: .bits256)
        // Thirty-two bytes make a valid key, so this cannot throw.
        return try! SecretBox(key: key.withUnsafeBytes { Array($0) })
    }

    /// Seals `secret`, the value of `field` of task `task`.
    public func seal(_ secret: String, task: TaskID, field: String) -> SealedSecret {
        // Sealing with a fresh random nonce cannot fail.
        let box = try! AES.GCM.seal(Array(secret.utf8), using: key, authenticating: Self.context(task: task, field: field))
        // The combined form is nonce, ciphertext and tag; it exists for the default nonce size.
        return SealedSecret(text: "sealed:v1:\(keyID):" + box.combined!.base64EncodedString())
    }

    /// Opens a value sealed for `field` of task `task`.
    public func open(_ sealed: SealedSecret, task: TaskID, field: String) throws(SecretError) -> String {
        guard let sealedKey = sealed.keyID,
              let encoded = sealed.text.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false).last,
              let bytes = Data(base64Encoded: String(encoded))
        else { throw SecretError("the stored \(Self.name(of: field)) is not a sealed value") }
        guard sealedKey == keyID else {
            throw SecretError(
                "the \(Self.name(of: field)) was sealed with key \(sealedKey), and the server's secrets key is \(keyID); "
                    + "restore that key file, or enter the secret again (docs/secrets.md)"
            )
        }
        do {
            let box = try AES.GCM.SealedBox(combined: bytes)
            let opened = try AES.GCM.open(box, using: key, authenticating: Self.context(task: task, field: field))
            return String(decoding: opened, as: UTF8.self)
        } catch {
            throw SecretError("the \(Self.name(of: field)) does not open with key \(keyID): it was altered, or sealed for another task or field")
        }
    }

    /// `secret header authorization`, or `signing secret`: what a message calls the field.
    private static func name(of field: String) -> String {
        field.hasPrefix("header:") ? "secret header " + field.dropFirst(7) : field == WebhookAction.signingSecretField ? "signing secret" : field
    }

    private static func context(task: TaskID, field: String) -> [UInt8] {
        Array("almanac-secret\u{0}\(task.rawValue)\u{0}\(field)".utf8)
    }
}

/// A secret that cannot be sealed or opened, or a secrets key that cannot be used.
public struct SecretError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
