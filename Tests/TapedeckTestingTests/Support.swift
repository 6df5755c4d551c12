import AsyncHTTPClient
import Cassette
import Foundation
import NIOCore
import Synchronization
import TapedeckTestSupport

/// The tests' HTTP client. It does not retry a refused connection (the shared client does, until the deadline), so
/// asking a stopped server fails at once.
let client: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// A response read to the end.
struct Reply: Sendable {
    let status: Int
    let headers: [(String, String)]
    let body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
}

/// Sends `body` to `path` under `base` and reads the whole answer.
func post(_ base: URL, _ path: String, body: [UInt8], headers: [(String, String)] = []) async throws -> Reply {
    var request = HTTPClientRequest(url: base.absoluteString + path)
    request.method = .POST
    request.headers.add(name: "content-type", value: "application/json")
    request.headers.add(name: "x-api-key", value: "test")
    request.headers.add(name: "anthropic-version", value: "2023-06-01")
    for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
    request.body = .bytes(ByteBuffer(bytes: body))
    let response = try await client.execute(request, timeout: .seconds(30))
    let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
    return Reply(
        status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
        body: Array(bytes.readableBytesView))
}

/// Asks the server's health endpoint; throws when nothing listens at `base`.
func health(_ base: URL) async throws -> Int {
    let request = HTTPClientRequest(url: base.absoluteString + "/_tapedeck/health")
    let response = try await client.execute(request, timeout: .seconds(10))
    _ = try await response.body.collect(upTo: 1024 * 1024)
    return Int(response.status.code)
}

/// The repository's demo cassette, copied into `directory` (replay opens a cassette in WAL mode, which may leave
/// `-shm` files beside it: the copy keeps the checkout clean).
func demoCassette(in directory: TemporaryDirectory, filePath: String = #filePath) throws -> String {
    let source = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        .appendingPathComponent("../../cassettes/demo.sqlite").standardizedFileURL.path
    let copy = directory.file("demo.sqlite")
    try FileManager.default.copyItem(atPath: source, toPath: copy)
    return copy
}

/// The demo cassette's first successful Messages recording: what to send, and the bytes it answers.
func firstRecording(in cassette: String) async throws -> Interaction? {
    let store = try CassetteStore(path: cassette, create: false, readOnly: true)
    return try await store.all().first { $0.path == "/v1/messages" && $0.status == 200 }
}

/// A Messages request whose last user turn picks the fake upstream's scenario.
func scenarioRequest(_ scenario: String, stream: Bool) -> [UInt8] {
    Array(
        #"{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":\#(stream),"messages":[{"role":"user","content":"scenario:\#(scenario)"}]}"#
            .utf8)
}

struct Planted: Error, Equatable {}

/// A value shared between a test and the tasks it starts.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) { self.value = Mutex(value) }

    func update<R: Sendable>(_ change: (inout Value) -> R) -> R { value.withLock { change(&$0) } }

    var current: Value { value.withLock { $0 } }
}
