import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MessagesAPI
import NIOCore
import NIOHTTP1
import TapedeckServer
import TapedeckTestSupport
import TapedeckTesting
import Testing

/// A configuration for tests: a free port, quiet logs.
func testConfiguration(_ edit: (inout TapedeckConfiguration) -> Void = { _ in }) -> TapedeckConfiguration {
    var configuration = TapedeckConfiguration()
    configuration.port = 0
    configuration.logLevel = .warning
    configuration.onMiss = .synthesize
    edit(&configuration)
    return configuration
}

/// A configuration that records into `cassette` from `upstream`.
func recording(_ cassette: String, upstream: String, _ edit: (inout TapedeckConfiguration) -> Void = { _ in }) -> TapedeckConfiguration {
    testConfiguration {
        $0.mode = .record
        $0.cassettePath = cassette
        $0.upstream = upstream
        edit(&$0)
    }
}

/// A configuration that replays `cassette`, a miss answering the API's 404.
func replaying(_ cassette: String, _ edit: (inout TapedeckConfiguration) -> Void = { _ in }) -> TapedeckConfiguration {
    testConfiguration {
        $0.cassettePath = cassette
        $0.onMiss = .error
        edit(&$0)
    }
}

/// Runs `test` against the app through Hummingbird's router test client (no socket).
func withApp(
    _ edit: (inout TapedeckConfiguration) -> Void = { _ in },
    _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    let app = try await buildApplication(configuration: testConfiguration(edit), logger: testLogger)
    try await app.test(.router) { client in try await test(client) }
}

var testLogger: Logger {
    var logger = Logger(label: "tapedeck-test")
    logger.logLevel = .warning
    return logger
}

extension ByteBuffer {
    var json: JSONValue? { try? JSONParser.parse(Array(readableBytesView)) }
    var text: String { String(buffer: self) }
}

extension HTTPField.Name {
    static let requestIDHeader = Self("request-id")!
    static let sourceHeader = Self("tapedeck-source")!
    static let apiKey = Self("x-api-key")!
    static let version = Self("anthropic-version")!
    static let beta = Self("anthropic-beta")!
}

let jsonHeaders: HTTPFields = [.contentType: "application/json", .apiKey: "test", .version: "2023-06-01"]

func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

/// Checks the error envelope: status, `error.type`, message, and the request id in both header and body.
func expectEnvelope(
    _ response: TestResponse, status: Int, type: String, message: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(response.status.code == status, sourceLocation: sourceLocation)
    let json = try #require(response.body.json, sourceLocation: sourceLocation)
    #expect(json["type"] == "error", sourceLocation: sourceLocation)
    #expect(json["error"]?["type"]?.stringValue == type, sourceLocation: sourceLocation)
    if let message { #expect(json["error"]?["message"]?.stringValue == message, sourceLocation: sourceLocation) }
    let requestID = try #require(response.headers[.requestIDHeader], sourceLocation: sourceLocation)
    #expect(Identifier.isWellFormed(requestID, prefix: "req_"), sourceLocation: sourceLocation)
    #expect(json["request_id"]?.stringValue == requestID, sourceLocation: sourceLocation)
}

/// Runs tapedeck on a free loopback port for the duration of `body`, which gets its base URL as a string (the
/// tests append paths to it): the library's `withTapedeck`.
func withTapedeck<T: Sendable>(_ configuration: TapedeckConfiguration, _ body: @Sendable (String) async throws -> T) async throws -> T {
    try await TapedeckTesting.withTapedeck(configuration) { url in try await body(url.absoluteString) }
}

/// A response read to the end.
struct Reply: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: [UInt8]
    var json: JSONValue? { try? JSONParser.parse(body) }
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first(name: name) }
}

/// Sends a request with the shared HTTP client and reads the whole answer.
func send(_ base: String, _ path: String, method: HTTPMethod = .POST, body: String? = nil, headers: [(String, String)] = []) async throws
    -> Reply
{
    var request = HTTPClientRequest(url: base + path)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body { request.body = .bytes(ByteBuffer(string: body)) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
    return Reply(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView))
}

/// A Messages request whose last user turn picks the fake upstream's scenario.
func scenarioRequest(_ scenario: String, stream: Bool = false, extra: String = "") -> String {
    #"{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":\#(stream),"messages":[{"role":"user","content":"scenario:\#(scenario)\#(extra)"}]}"#
}

/// A fresh cassette path in a temporary directory of its own; pair it with `removeTemporaryCassette`.
func temporaryCassette() -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-tests-\(UUID().uuidString)")
    return directory.appendingPathComponent("cassette.sqlite").path
}

/// Removes the directory `temporaryCassette()` made, with the cassette and its `-wal`/`-shm` files.
func removeTemporaryCassette(_ path: String) {
    try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
}
