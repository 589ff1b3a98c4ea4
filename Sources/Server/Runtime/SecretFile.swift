import Engine
import Foundation

/// A file that holds one secret on one line, mode 0600: created on first start (`O_EXCL`, so
/// two servers starting at once cannot both write a different one), read on every start
/// after, and refused when other users can read it.
enum SecretFile {
    /// The text in `path`, created there from `make()` when the file does not exist.
    /// `what` names the secret in errors.
    static func loadOrCreate(_ path: String, what: String, make: () -> String) throws(SecretError) -> (text: String, created: Bool) {
        let manager = FileManager.default
        if !manager.fileExists(atPath: path) {
            let text = make()
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if descriptor >= 0 {
                let line = Array((text + "\n").utf8)
                let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                let synced = fsync(descriptor)
                close(descriptor)
                guard written == line.count, synced == 0 else {
                    unlink(path)
                    throw SecretError("cannot write the \(what) to \(path)")
                }
                return (text, true)
            }
            guard errno == EEXIST else {
                throw SecretError("cannot create the \(what) file \(path): \(String(cString: strerror(errno)))")
            }
        }
        var status = stat()
        guard stat(path, &status) == 0 else { throw SecretError("cannot read \(path)") }
        guard status.st_mode & 0o077 == 0 else {
            throw SecretError("\(path) can be read by other users; run chmod 600 \(path)")
        }
        guard let data = manager.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw SecretError("cannot read the \(what) in \(path)")
        }
        return (text.trimmingCharacters(in: .whitespacesAndNewlines), false)
    }

    /// The webhook signing secret (`whsec_…`) in `path`, created when missing.
    static func signingSecret(_ path: String) throws -> (secret: String, created: Bool) {
        let (secret, created) = try loadOrCreate(path, what: "webhook signing secret") {
            var generator = SystemRandomNumberGenerator()
            return WebhookSigner.generateSecret(using: &generator)
        }
        _ = try WebhookSigner(secret: secret)
        return (secret, created)
    }

    /// The secrets key (the base64 of 32 bytes) in `path`, created when missing and
    /// `create` allows it.
    static func secretsKey(_ path: String, create: Bool) throws(SecretError) -> (box: SecretBox, created: Bool) {
        if !create && !FileManager.default.fileExists(atPath: path) {
            throw SecretError("the secrets key file \(path) does not exist")
        }
        let (text, created) = try loadOrCreate(path, what: "secrets key") {
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            return Data(bytes).base64EncodedString()
        }
        guard let bytes = Data(base64Encoded: text) else {
            throw SecretError("\(path) does not hold a secrets key (the base64 of 32 bytes)")
        }
        do {
            return (try SecretBox(key: Array(bytes)), created)
        } catch {
            throw SecretError("\(path) does not hold a secrets key: \(error.message)")
        }
    }
}
