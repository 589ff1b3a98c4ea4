// bench-http-echo: a bare Hummingbird server with one JSON echo route, the baseline the API's
// benchmark is measured against (same framework, same machine, same wrk run).
//
//   bench-http-echo PORT
import Hummingbird

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 8089 : 8089
let router = Router()
router.post("/echo") { request, _ -> Response in
    let body = try await request.body.collect(upTo: 256 * 1024)
    return Response(status: .created, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
}
let application = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await application.runService()
