import Engine
import Foundation

/// The file that holds the server's webhook signing secret (`whsec_…`, one line, mode 0600):
/// created on first start, read on every start after.
enum SigningSecretFile {
    /// The secret in `path`, created there (mode 0600) when the file does not exist.
    static func loadOrCreate(_ path: String) throws -> (secret: String, created: Bool) {
        let manager = FileManager.default
        if !manager.fileExists(atPath: path) {
            var generator = SystemRandomNumberGenerator()
            let secret = WebhookSigner.generateSecret(using: &generator)
            // O_EXCL: two servers starting at once cannot both write a different secret.
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if descriptor >= 0 {
                let line = Array((secret + "\n").utf8)
                let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                let synced = fsync(descriptor)
                close(descriptor)
                guard written == line.count, synced == 0 else {
                    unlink(path)
                    throw SigningSecretError(message: "cannot write the webhook signing secret to \(path)")
                }
                return (secret, true)
            }
            guard errno == EEXIST else {
                throw SigningSecretError(message: "cannot create the webhook signing secret file \(path): \(String(cString: strerror(errno)))")
            }
        }
        var status = stat()
        guard stat(path, &status) == 0 else { throw SigningSecretError(message: "cannot read \(path)") }
        guard status.st_mode & 0o077 == 0 else {
            throw SigningSecretError(message: "\(path) can be read by other users; run chmod 600 \(path)")
        }
        guard let data = manager.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw SigningSecretError(message: "cannot read the webhook signing secret in \(path)")
        }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try WebhookSigner(secret: secret)
        return (secret, false)
    }
}
