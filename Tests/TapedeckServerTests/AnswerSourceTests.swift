import AsyncHTTPClient
import Cassette
import Foundation
import HTTPTypes
import Logging
import MessagesAPI
import NIOCore
import TapedeckTestSupport
import Testing

@testable import TapedeckServer

/// Each answer source driven with plain values: an `IncomingRequest` built by hand, a real cassette on disk, and
/// for recording a real upstream on loopback. No HTTP server in front.
@Suite("Answer sources")
struct AnswerSourceTests {
    static func request(_ json: String, path: String = "/v1/messages", method: String = "POST", query: String? = nil)
        throws -> IncomingRequest
    {
        let raw = Array(json.utf8)
        let body: JSONValue? = json.isEmpty ? nil : try JSONParser.parse(raw)
        return IncomingRequest(
            method: method, path: path, query: query, headers: [.init("x-api-key")!: "sk-test", .init("anthropic-version")!: "2023-06-01"],
            rawBody: raw, body: body, fingerprint: Fingerprint(method: method, path: path, body: body))
    }

    /// A request to a path Tapedeck does not model, read as the unmodeled route reads it.
    static func unmodeledRequest(path: String, method: String = "POST", query: String? = nil, body: String) throws -> IncomingRequest {
        let raw = Array(body.utf8)
        let json = Interaction.json(raw)
        var request = IncomingRequest(
            method: method, path: path, query: query, headers: [.init("x-api-key")!: "sk-test"], rawBody: raw, body: json,
            fingerprint: Fingerprint(unmodeled: method, path: path, query: query, body: json == nil ? raw : [], json: json, ignoring: []))
        request.isUnmodeled = true
        return request
    }

    static let hello = #"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}"#
    static let helloStream = #"{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hello"}]}"#

    static func json(_ answer: Answer) throws -> JSONValue {
        guard case .json(let buffer) = answer.body else { throw Unexpected(answer: "\(answer.body)") }
        return try JSONParser.parse(Array(buffer.readableBytesView))
    }

    struct Unexpected: Error { var answer: String }

    // MARK: the values every source passes on

    @Test func aRequestIsOnePointerAndCopiesOnWrite() throws {
        // Async frames hold copies of the request, and a connection's task keeps its deepest frames as long as it
        // lives: inline fields cost every open stream kilobytes (see `IncomingRequest`).
        #expect(MemoryLayout<IncomingRequest>.size == MemoryLayout<Int>.size)
        #expect(MemoryLayout<Answer>.size < 128)
        let original = try Self.request(Self.hello)
        var copy = original
        copy.occurrence = 3
        copy.path = "/v1/messages/count_tokens"
        copy.faults = try Faults(parsing: "latency=5")
        #expect(original.occurrence == 1 && original.path == "/v1/messages" && original.faults == nil)
        #expect(copy.occurrence == 3 && copy.path == "/v1/messages/count_tokens" && copy.faults?.latency == 5)
        #expect(copy.rawBody == original.rawBody && copy.fingerprint == original.fingerprint)
    }

    // MARK: synthesis

    @Test func synthesisAnswersAMessageSeededByTheFingerprint() async throws {
        try await withTemporaryDirectory { directory in
            let tape = try await Tape(path: directory.file("c.sqlite"), create: true)
            let source = SynthesisSource(.messages, catalog: .standard, vocabulary: try SynthesisVocabulary.loadBundled())
            let request = try Self.request(Self.hello)
            let first = try #require(try await source.answer(request, tape: tape))
            let again = try #require(try await source.answer(request, tape: tape))
            let message = try Self.json(first)
            #expect(message["type"] == "message")
            #expect(message["role"] == "assistant")
            #expect(try Self.json(again) == message, "the same request gets the same answer")
            #expect(first.source == .synthesized)
            #expect(first.header("request-id") == request.requestID)
            #expect(again.header("request-id") == first.header("request-id"), "the same request, the same id")
            let other = try #require(try await source.answer(try Self.request(Self.hello.replacing("hello", with: "bye")), tape: tape))
            #expect(try Self.json(other)["id"] != message["id"])
        }
    }

    @Test func synthesisStreamsWhenAsked() async throws {
        try await withTemporaryDirectory { directory in
            let tape = try await Tape(path: directory.file("c.sqlite"), create: true)
            let answer = try #require(
                try await SynthesisSource(.messages, catalog: .standard, vocabulary: try SynthesisVocabulary.loadBundled()).answer(
                    try Self.request(Self.helloStream), tape: tape))
            guard case .events(let events) = answer.body else {
                Issue.record("not a stream: \(answer.body)")
                return
            }
            #expect(events.first?.name == "message_start")
            #expect(events.last?.name == "message_stop")
        }
    }

    @Test func synthesisCountsTokensAsTheMessageUsageDoes() async throws {
        try await withTemporaryDirectory { directory in
            let tape = try await Tape(path: directory.file("c.sqlite"), create: true)
            let counted = try #require(
                try await SynthesisSource(.countTokens, catalog: .standard, vocabulary: try SynthesisVocabulary.loadBundled()).answer(
                    try Self.request(
                        #"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hello"}]}"#,
                        path: "/v1/messages/count_tokens"), tape: tape))
            let message = try #require(
                try await SynthesisSource(.messages, catalog: .standard, vocabulary: try SynthesisVocabulary.loadBundled()).answer(
                    try Self.request(Self.hello), tape: tape))
            #expect(try Self.json(counted)["input_tokens"] == Self.json(message)["usage"]?["input_tokens"])
        }
    }

    @Test func synthesisRefusesWhatTheAPIRefuses() throws {
        let source = SynthesisSource(.messages, catalog: .standard, vocabulary: try SynthesisVocabulary.loadBundled())
        let request = try Self.request(#"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(throws: APIError.invalidRequest("max_tokens: Field required")) { try source.check(request) }
    }

    // MARK: catalog

    @Test func catalogPagesAndRetrieves() async throws {
        try await withTemporaryDirectory { directory in
            let tape = try await Tape(path: directory.file("c.sqlite"), create: true)
            let catalog = ModelCatalog.standard
            let page = try Self.json(
                try #require(
                    try await CatalogSource(lookup: .list, catalog: catalog).answer(
                        try Self.request("", path: "/v1/models", method: "GET", query: "limit=2"), tape: tape)))
            #expect(page["data"]?.arrayValue?.count == 2)
            #expect(page["has_more"] == .bool(catalog.models.count > 2))
            #expect(page["first_id"]?.stringValue == catalog.models.first?.id)
            let id = try #require(catalog.models.last?.id)
            let model = try Self.json(
                try #require(
                    try await CatalogSource(lookup: .retrieve(id: id), catalog: catalog).answer(
                        try Self.request("", path: "/v1/models/\(id)", method: "GET"), tape: tape)))
            #expect(model["id"]?.stringValue == id)
            await #expect(throws: APIError.notFound("model: no-such-model")) {
                _ = try await CatalogSource(lookup: .retrieve(id: "no-such-model"), catalog: catalog).answer(
                    try Self.request("", path: "/v1/models/no-such-model", method: "GET"), tape: tape)
            }
            await #expect(throws: APIError.invalidRequest("limit: Input should be between 1 and 1000")) {
                _ = try await CatalogSource(lookup: .list, catalog: catalog).answer(
                    try Self.request("", path: "/v1/models", method: "GET", query: "limit=0"), tape: tape)
            }
        }
    }

    // MARK: replay

    static func recorded(for request: IncomingRequest, text: String, occurrence: Int = 1) -> Interaction {
        let message: JSONValue = [
            "model": "claude-sonnet-4-5-20250929", "id": "msg_01Recorded", "type": "message", "role": "assistant",
            "content": [["type": "text", "text": .string(text)]], "stop_reason": "end_turn", "stop_sequence": .null,
            "usage": ["input_tokens": 3, "output_tokens": 2],
        ]
        return Interaction(
            recordedAt: "2026-01-01T00:00:00Z", method: request.method, path: request.path, query: nil,
            fingerprint: request.fingerprint.hex, occurrence: occurrence, requestHeaders: [], requestBody: request.rawBody,
            status: 200, responseHeaders: [HeaderPair("request-id", "req_01Recorded"), HeaderPair("content-type", "application/json")],
            responseBody: JSONWriter.bytes(message), isStream: false, events: [], message: nil, model: "claude-sonnet-4-5")
    }

    @Test func replayPassesWhenNothingIsRecorded() async throws {
        try await withTemporaryDirectory { directory in
            let tape = try await Tape(path: directory.file("c.sqlite"), create: true)
            let source = ReplaySource(pace: .instant, speed: 1, catalog: .standard)
            #expect(try await source.answer(try Self.request(Self.hello), tape: tape) == nil)
        }
    }

    @Test func replayAnswersTheRecordedBytesAndTheOccurrence() async throws {
        try await withTemporaryDirectory { directory in
            let tape = try await Tape(path: directory.file("c.sqlite"), create: true)
            var request = try Self.request(Self.hello)
            let first = Self.recorded(for: request, text: "first")
            try await tape.record(first)
            try await tape.record(Self.recorded(for: request, text: "second", occurrence: 2))
            let source = ReplaySource(pace: .instant, speed: 1, catalog: .standard)
            let answer = try #require(try await source.answer(request, tape: tape))
            #expect(answer.source == .recorded)
            guard case .json(let buffer) = answer.body else {
                Issue.record("not JSON")
                return
            }
            #expect(Array(buffer.readableBytesView) == first.responseBody, "recorded bytes pass through untouched")
            #expect(answer.header("request-id") == "req_01Recorded")
            request.occurrence = 2
            let second = try Self.json(try #require(try await source.answer(request, tape: tape)))
            #expect(second["content"]?.arrayValue?.first?["text"] == "second")
        }
    }

    @Test func replayRebuildsAJSONRecordingAsAStream() async throws {
        try await withTemporaryDirectory { directory in
            let tape = try await Tape(path: directory.file("c.sqlite"), create: true)
            let plain = try Self.request(Self.hello)
            try await tape.record(Self.recorded(for: plain, text: "as a stream"))
            // Same fingerprint: `stream` is ignored by matching.
            let streamed = try Self.request(Self.helloStream)
            #expect(streamed.fingerprint == plain.fingerprint)
            let answer = try #require(try await ReplaySource(pace: .instant, speed: 1, catalog: .standard).answer(streamed, tape: tape))
            guard case .events(let events) = answer.body else {
                Issue.record("not a stream: \(answer.body)")
                return
            }
            let rebuilt = MessageAssembler.assemble(events).assembled
            #expect(rebuilt?["content"]?.arrayValue?.first?["text"] == "as a stream")
            #expect(rebuilt?["id"] == "msg_01Recorded")
            #expect(
                answer.header("content-type") == "text/event-stream; charset=utf-8",
                "the JSON recording's content type is not carried onto a stream")
        }
    }

    // MARK: record

    @Test func recordRelaysAndSavesWithoutTheKey() async throws {
        try await withTemporaryDirectory { directory in
            let tape = try await Tape(path: directory.file("c.sqlite"), create: true)
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            defer { _ = client.shutdown() }
            let request = try Self.request(scenario: "text", stream: false)
            try await FakeUpstream.withRunning { fake, upstream in
                let source = RecordSource(
                    client: client, upstream: upstream + "/", redactor: try Redactor(patterns: [], headers: []), upstreamKey: nil,
                    maxRecordingBytes: 1 << 20, logger: Logger(label: "test"))
                let answer = try #require(try await source.answer(request, tape: tape))
                #expect(answer.source == .proxied)
                #expect(answer.status == 200)
                #expect(fake.requests.first?.headers["x-api-key"] == "sk-test", "the client's key goes upstream")
                #expect(fake.requests.first?.body == request.rawBody, "the body goes upstream as the client sent it")
            }
            let saved = try #require(try await tape.recording(for: request.fingerprint, occurrence: 1))
            #expect(saved.status == 200)
            #expect(!saved.requestHeaders.contains { $0.name == "x-api-key" }, "keys never touch the disk")
        }
    }

    /// Collects a relayed body, as the client's connection would receive it.
    struct Collected: AnswerWriter {
        var bytes: [UInt8] = []
        mutating func write(_ buffer: ByteBuffer) async throws { bytes += buffer.readableBytesView }
    }

    @Test func recordRelaysAStreamByteForByteAndSavesItWhole() async throws {
        try await withTemporaryDirectory { directory in
            let tape = try await Tape(path: directory.file("c.sqlite"), create: true)
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            defer { _ = client.shutdown() }
            let request = try Self.request(scenario: "thinking", stream: true)
            let relayed = try await FakeUpstream.withRunning { _, upstream in
                let source = RecordSource(
                    client: client, upstream: upstream, redactor: try Redactor(), upstreamKey: nil,
                    maxRecordingBytes: 1 << 20, logger: Logger(label: "test"))
                let answer = try #require(try await source.answer(request, tape: tape))
                guard case .relayed(let relay) = answer.body else { throw Unexpected(answer: "\(answer.body)") }
                var sink: any AnswerWriter = Collected()
                try await relay(&sink)
                return (sink as? Collected)?.bytes ?? []
            }
            #expect(relayed == Array(ExampleStreams.thinking.utf8), "the upstream's bytes, padding included")
            let saved = try #require(try await tape.recording(for: request.fingerprint, occurrence: 1))
            #expect(saved.isStream)
            #expect(saved.responseBody == relayed, "saved as the client got it")
        }
    }

    static func request(scenario: String, stream: Bool) throws -> IncomingRequest {
        try request(
            #"{"model":"claude-sonnet-4-5","max_tokens":64,"stream":\#(stream),"messages":[{"role":"user","content":"scenario:\#(scenario)"}]}"#
        )
    }
}
