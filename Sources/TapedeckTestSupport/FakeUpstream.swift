import HTTPTypes
public import Hummingbird
import Logging
import MessagesAPI
import NIOCore
import Synchronization
import TapedeckTesting

/// A stand-in for the real API on loopback, for recording tests: it answers with real-shaped streams written in
/// odd pieces, and misbehaves on request.
///
/// The scenario comes from the `fake-scenario` header, or from a last user message that starts with
/// `scenario:NAME`. Scenarios: `text` (default), `thinking`, `tool`, `stop`, `midstream_error`, `disconnect`,
/// `slow_first_byte`, `paced`, `gated`, `whole` (the `text` stream an event per write, at once, as the real API
/// frames a stream), `rate_limit`, `overloaded`, `non_json_error`. A `fake-model` header
/// names the model of a JSON Messages answer. `/v1/files…` is a small Files API (`FakeFiles`), `/v1/messages/batches…`
/// a Message Batches API (`FakeBatches`). Other paths under `/v1/` (any method) stand for what Tapedeck does
/// not model: `…/binary` answers bytes that are not UTF-8, `…/events` a stream that is not the Messages API's
/// (held after its first event by `fake-scenario: gated`), anything else a JSON echo with a call counter.
public final class FakeUpstream: Sendable {
    /// What the fake received, for assertions (headers lower-cased).
    public struct Received: Sendable {
        public let method: String
        public let path: String
        public let query: String?
        public let headers: [String: String]
        public let body: [UInt8]
    }

    private let received = Mutex<[Received]>([])
    private let counter = Mutex(0)
    /// Holds `gated` streams after their first event until opened.
    public let gate = Gate()
    let batches = FakeBatches()
    /// The Files API it speaks (`/v1/files…`).
    let files = FakeFiles()

    public init() {}

    /// Every request received so far.
    public var requests: [Received] { received.withLock { $0 } }

    /// Builds the fake's application on `host:port` (0 picks a free port); `onRunning` gets the bound port.
    public func buildApplication(host: String = "127.0.0.1", port: Int = 0, onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        let router = Router()
        for method in [HTTPRequest.Method.post, .get, .put, .delete, .patch] {
            router.on("/**", method: method) { request, _ in try await self.respond(to: request) }
        }
        var logger = Logger(label: "fake-upstream")
        logger.logLevel = .warning
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    func respond(to request: Request) async throws -> Response {
        let bodyBuffer = try await request.body.collect(upTo: 64 * 1024 * 1024)
        let body = Array(bodyBuffer.readableBytesView)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        received.withLock {
            $0.append(
                Received(method: request.method.rawValue, path: request.uri.path, query: request.uri.query, headers: headers, body: body))
        }
        if request.uri.path == "/_fake/requests" { return jsonResponse(.int(received.withLock { $0.count })) }

        let json = try? JSONParser.parse(body)
        if request.uri.path.hasSuffix("/count_tokens") {
            return jsonResponse(["input_tokens": 42])
        }
        if request.uri.path.hasSuffix("/models") || request.uri.path.contains("/models/") {
            let model: JSONValue = [
                "type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5",
                "created_at": "2025-09-29T00:00:00Z",
            ]
            if request.uri.path.hasSuffix("/models") {
                return jsonResponse([
                    "data": [model, Self.unknownModel], "has_more": false, "first_id": "claude-sonnet-4-5-20250929",
                    "last_id": .string(Self.unknownModelID),
                ])
            }
            if request.uri.path.hasSuffix("/" + Self.unknownModelID) { return jsonResponse(Self.unknownModel) }
            return jsonResponse(model)
        }
        if request.uri.path.hasPrefix("/v1/messages/batches") {
            let (status, json, bytes) = batches.respond(to: request, body: body) { params in
                var message = MessageAssembler.assemble(SSEParser.parse(Array(ExampleStreams.text.utf8))).assembled ?? .null
                if case .object(var object) = message {
                    object["id"] = .string(
                        Identifier.make(prefix: Identifier.message, seed: JSONWriter.canonicalBytes(params), label: "fake"))
                    message = .object(object)
                }
                return message
            }
            if let bytes {
                var fields = HTTPFields()
                fields[.contentType] = "application/binary"
                fields[HTTPField.Name("request-id")!] = "req_fake_batch_results"  // lint: allow a valid literal header name
                return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
            let response = jsonResponse(
                json ?? .null, requestID: Identifier.make(prefix: Identifier.request, seed: body, label: "fake-batch"))
            return Response(status: .init(code: status), headers: response.headers, body: response.body)
        }
        if let answer = files.respond(to: request, body: body) { return answer }
        if request.uri.path.hasPrefix("/v1/"), request.uri.path != "/v1/messages" {
            return unmodeledResponse(to: request, body: body, headers: headers)
        }

        let scenario = headers["fake-scenario"] ?? Self.scenario(in: json) ?? "text"
        let wantsStream = json?["stream"] == .bool(true)
        let requestID = Identifier.make(prefix: Identifier.request, seed: body, label: "fake")

        switch scenario {
        case "rate_limit":
            return errorResponse(
                429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit",
                extra: [
                    ("retry-after", "7"), ("anthropic-ratelimit-requests-limit", "50"), ("anthropic-ratelimit-requests-remaining", "0"),
                    ("anthropic-ratelimit-requests-reset", "2025-08-21T12:40:59Z"),
                ])
        case "overloaded":
            return errorResponse(529, "overloaded_error", "Overloaded")
        case "counter":
            // A different answer on every call, to tell occurrences apart.
            let n = counter.withLock { value in
                value += 1
                return value
            }
            let message: JSONValue = [
                "model": "claude-sonnet-4-5-20250929", "id": .string("msg_01Counter\(n)"), "type": "message", "role": "assistant",
                "content": [["type": "text", "text": .string("call \(n)")]], "stop_reason": "end_turn", "stop_sequence": .null,
                "stop_details": .null, "usage": ["input_tokens": 5, "output_tokens": 3],
            ]
            return jsonResponse(
                message, requestID: Identifier.make(prefix: Identifier.request, seed: [UInt8(truncatingIfNeeded: n)], label: "counter"))
        case "non_json_error":
            var fields = HTTPFields()
            fields[.contentType] = "text/html"
            fields[HTTPField.Name("request-id")!] = requestID  // lint: allow a valid literal header name
            return Response(
                status: .init(code: 502), headers: fields,
                body: .init(byteBuffer: ByteBuffer(string: "<html><body>502 Bad Gateway</body></html>")))
        default:
            break
        }

        let stream: String
        switch scenario {
        case "thinking": stream = ExampleStreams.thinking
        case "tool": stream = ExampleStreams.toolUse
        case "stop": stream = ExampleStreams.stopSequence
        case "midstream_error": stream = ExampleStreams.midstreamError
        default: stream = ExampleStreams.text
        }
        let bytes = Array(stream.utf8)

        if !wantsStream {
            if scenario == "midstream_error" { return errorResponse(529, "overloaded_error", "Overloaded") }
            if scenario == "slow_first_byte" { try await Task.sleep(for: .milliseconds(300)) }
            var message = MessageAssembler.assemble(SSEParser.parse(bytes)).assembled ?? .null
            if let model = headers["fake-model"], case .object(var object) = message {
                object["model"] = .string(model)
                message = .object(object)
            }
            return jsonResponse(message, requestID: requestID)
        }

        var fields = HTTPFields()
        fields[.contentType] = "text/event-stream; charset=utf-8"
        fields[.cacheControl] = "no-cache"
        fields[HTTPField.Name("request-id")!] = requestID  // lint: allow a valid literal header name
        fields[HTTPField.Name("anthropic-organization-id")!] = "fake-org"  // lint: allow a valid literal header name
        if scenario == "slow_first_byte" { try await Task.sleep(for: .milliseconds(300)) }
        let gate = self.gate
        return Response(
            status: .ok, headers: fields,
            body: ResponseBody { writer in
                switch scenario {
                case "disconnect":
                    try await writer.write(ByteBuffer(bytes: bytes.prefix(bytes.count / 2)))
                    throw FakeUpstreamError.hungUp
                case "paced", "gated", "whole":
                    let events = SSEParser.parse(bytes)
                    for (i, event) in events.enumerated() {
                        if scenario == "paced", i > 0 { try await Task.sleep(for: .milliseconds(40)) }
                        if scenario == "gated", i == 1 { await gate.wait() }
                        try await writer.write(ByteBuffer(bytes: event.bytes))
                    }
                default:
                    // Odd piece sizes split events, lines and multi-byte characters.
                    let sizes = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
                    var i = 0
                    var n = 0
                    while i < bytes.count {
                        let end = min(bytes.count, i + sizes[n % sizes.count])
                        try await writer.write(ByteBuffer(bytes: bytes[i..<end]))
                        i = end
                        n += 1
                    }
                }
                try await writer.finish(nil)
            })
    }

    /// A model the upstream lists that no built-in catalog has, and whose id is not Anthropic-shaped: it
    /// answers `max_tokens` 4096 and `created_at` 2026-11-01.
    public static let unknownModelID = "fake-gateway-model-1"

    static let unknownModel: JSONValue = [
        "type": "model", "id": .string(unknownModelID), "display_name": "Fake Gateway Model 1", "created_at": "2026-11-01T00:00:00Z",
        "max_input_tokens": 50_000, "max_tokens": 4_096,
    ]

    /// Bytes that are not UTF-8 (every byte value once), for `…/binary`.
    public static let binaryBody: [UInt8] = Array(0...255)

    /// The non-Messages stream `…/events` sends: OpenAI-style `data:` lines ending with `[DONE]`.
    public static let unmodeledStream = "data: {\"delta\":\"a\"}\n\ndata: {\"delta\":\"b\"}\n\ndata: {\"delta\":\"c\"}\n\ndata: [DONE]\n\n"

    func unmodeledResponse(to request: Request, body: [UInt8], headers: [String: String]) -> Response {
        let n = counter.withLock { value in
            value += 1
            return value
        }
        var fields = HTTPFields()
        fields[HTTPField.Name("request-id")!] = "req_fake_unmodeled_\(n)"  // lint: allow a valid literal header name
        if request.uri.path.hasSuffix("/binary") {
            fields[.contentType] = "application/octet-stream"
            return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: Self.binaryBody + body)))
        }
        if request.uri.path.hasSuffix("/events") {
            fields[.contentType] = "text/event-stream"
            let events = SSEParser.parse(Array(Self.unmodeledStream.utf8))
            let (gate, gated) = (self.gate, headers["fake-scenario"] == "gated")
            return Response(
                status: .ok, headers: fields,
                body: ResponseBody { writer in
                    for (i, event) in events.enumerated() {
                        if gated, i == 1 { await gate.wait() }
                        try await writer.write(ByteBuffer(string: "data: \(event.data)\n\n"))
                    }
                    try await writer.finish(nil)
                })
        }
        let echo: JSONValue = [
            "method": .string(request.method.rawValue), "path": .string(request.uri.path),
            "query": request.uri.query.map(JSONValue.string) ?? .null, "body_bytes": .int(body.count), "call": .int(n),
            "content_type": headers["content-type"].map(JSONValue.string) ?? .null,
        ]
        return jsonResponse(echo, requestID: "req_fake_unmodeled_\(n)")
    }

    static func scenario(in json: JSONValue?) -> String? {
        guard let messages = json?["messages"]?.arrayValue, let last = messages.last else { return nil }
        var text = last["content"]?.stringValue
        if text == nil { text = last["content"]?.arrayValue?.first?["text"]?.stringValue }
        guard let text, text.hasPrefix("scenario:") else { return nil }
        return String(text.dropFirst("scenario:".count).prefix { !$0.isWhitespace })
    }

    func jsonResponse(_ json: JSONValue, requestID: String = Identifier.make(prefix: Identifier.request, seed: [], label: "fake-json"))
        -> Response
    {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[HTTPField.Name("request-id")!] = requestID  // lint: allow a valid literal header name
        fields[HTTPField.Name("set-cookie")!] = "session=fake-session-cookie"  // lint: allow a valid literal header name
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(json))))
    }

    func errorResponse(_ status: Int, _ type: String, _ message: String, extra: [(String, String)] = []) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        let requestID = Identifier.make(prefix: Identifier.request, seed: [], label: "fake-error-\(status)")
        fields[HTTPField.Name("request-id")!] = requestID  // lint: allow a valid literal header name
        for (name, value) in extra { if let field = HTTPField.Name(name) { fields[field] = value } }
        let body: JSONValue = [
            "type": "error", "error": ["type": .string(type), "message": .string(message)], "request_id": .string(requestID),
        ]
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(body))))
    }
}

enum FakeUpstreamError: Error { case hungUp }

/// A one-shot gate: waiters suspend until `open()`; after that, `wait()` returns at once.
public final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public init() {}

    public func wait() async {
        await withCheckedContinuation { continuation in
            let resume = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resume { continuation.resume() }
        }
    }

    public func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

extension FakeUpstream {
    /// Runs a fake upstream on loopback for the duration of `body`, which gets the fake and its base URL.
    public static func withRunning<T: Sendable>(_ body: @Sendable (FakeUpstream, String) async throws -> T) async throws -> T {
        let fake = FakeUpstream()
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = fake.buildApplication { port in continuation.yield(port) }
        var logger = Logger(label: "fake-upstream")
        logger.logLevel = .critical
        // Opening the gate first lets a held-back stream finish, so shutdown never waits on it.
        return try await withServing(app, ports: ports, logger: logger, beforeShutdown: { fake.gate.open() }) { port in
            try await body(fake, "http://127.0.0.1:\(port)")
        }
    }
}
