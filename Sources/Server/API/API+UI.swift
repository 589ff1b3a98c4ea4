import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The web UI: plain HTML, CSS and JavaScript modules shipped as resources of this module
/// (`Sources/Server/Resources/ui`) and served from memory, with no build step and nothing
/// fetched from elsewhere.
extension API {
    static let uiRoutes: [Route] = [
        Route("", [.get: { api, request, _, _ in try api.uiFile("index.html", request) }]),
        Route("ui/:file", [.get: { api, request, parameters, _ in try api.uiFile(parameters["file"] ?? "", request) }]),
        Route("ui/:folder/:file", [.get: { api, request, parameters, _ in
            try api.uiFile("\(parameters["folder"] ?? "")/\(parameters["file"] ?? "")", request)
        }]),
    ]

    /// A UI file, with an `ETag` so browsers revalidate cheaply (`304`), or a 404.
    func uiFile(_ path: String, _ request: Request) throws -> Response {
        guard let file = UIFiles.files[path] else { throw Problem.notFound("no UI file \(path)") }
        var headers = HTTPFields()
        headers[.eTag] = file.etag
        headers[.cacheControl] = "no-cache"
        headers[.contentType] = file.contentType
        headers[.xContentTypeOptions] = "nosniff"
        headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'"
        headers[.referrerPolicy] = "no-referrer"
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == file.etag }) {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }
}

/// The UI's files, read once from the module's resources.
enum UIFiles {
    struct File: Sendable {
        let bytes: [UInt8]
        let contentType: String
        let etag: String
    }

    static let files: [String: File] = {
        guard let root = Bundle.module.url(forResource: "ui", withExtension: nil) else { return [:] }
        var files: [String: File] = [:]
        let base = root.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [:] }
        while let relative = walker.nextObject() as? String {
            let path = base + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let data = FileManager.default.contents(atPath: path)
            else { continue }
            let bytes = Array(data)
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
            files[relative] = File(bytes: bytes, contentType: contentType(of: relative), etag: "\"\(String(hash, radix: 16))\"")
        }
        return files
    }()

    static func contentType(of path: String) -> String {
        switch path.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "json": "application/json"
        default: "application/octet-stream"
        }
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
