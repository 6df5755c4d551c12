import Hummingbird
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The benchmark's reference point: a bare Hummingbird route that answers every POST with fixed bytes.
/// Built by the benchmark harness only; not part of the product.
///
/// Usage: `bench-bare-server PORT BODY_FILE [CONTENT_TYPE]`
@main
enum BareServer {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 3, let port = Int(arguments[1]), let file = fopen(arguments[2], "rb") else {
            print("usage: bench-bare-server PORT BODY_FILE [CONTENT_TYPE]")
            exit(2)
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        fclose(file)
        let body = ByteBuffer(bytes: bytes)
        let contentType = arguments.count > 3 ? arguments[3] : "application/json"
        let router = Router()
        router.post("/v1/messages") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: body))
        }
        var logger = Logger(label: "bare")
        logger.logLevel = .warning
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        try await app.runService()
    }
}
