import Foundation
import MessagesAPI
import TapedeckTestSupport
import Testing

@testable import Cassette

/// Interactions of every kind, built from real-shaped bytes.
enum Samples {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/streams")

    static func stream(_ file: String, prompt: String) throws -> Interaction {
        let bytes = Array(try Data(contentsOf: fixtures.appendingPathComponent(file)))
        var parser = SSEParser()
        let events = (parser.feedLocated(bytes) + parser.finish().map { ($0, bytes.count) }).enumerated().map { i, pair in
            Interaction.Event(offsetMilliseconds: 10 * i, byteEnd: pair.1, name: pair.0.name, data: pair.0.data)
        }
        return interaction(prompt: prompt, status: 200, body: bytes, stream: events)
    }

    static func interaction(
        prompt: String, path: String = "/v1/messages", method: String = "POST", status: Int, body: [UInt8],
        stream: [Interaction.Event]? = nil, headers: [HeaderPair] = [HeaderPair("content-type", "application/json")]
    ) -> Interaction {
        let request: JSONValue =
            method == "GET"
            ? .null : ["model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [["role": "user", "content": .string(prompt)]]]
        let requestBody = method == "GET" ? [] : JSONWriter.bytes(request)
        let fingerprint = Fingerprint(method: method, path: path, body: method == "GET" ? nil : request)
        return Interaction(
            recordedAt: "2026-01-01T00:00:00Z", method: method, path: path, query: nil, fingerprint: fingerprint.hex,
            occurrence: 1, requestHeaders: [HeaderPair("anthropic-version", "2023-06-01")], requestBody: requestBody,
            status: status, responseHeaders: stream == nil ? headers : [HeaderPair("content-type", "text/event-stream; charset=utf-8")],
            responseBody: body, isStream: stream != nil, events: stream ?? [],
            message: stream.map { MessageAssembler.assemble($0.map { SSEEvent(name: $0.name, data: $0.data) }).assembled } ?? nil,
            model: method == "GET" ? nil : "claude-sonnet-4-5")
    }

    static func all() throws -> [Interaction] {
        let redacted = Array(
            #"event: message_start\#ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"usage":{"output_tokens":1}}}\#n\#nevent: content_block_start\#ndata: {"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4a"}}\#n\#nevent: content_block_stop\#ndata: {"type":"content_block_stop","index":0}\#n\#nevent: message_stop\#ndata: {"type":"message_stop"}\#n\#n"#
                .utf8)
        var parser = SSEParser()
        let redactedEvents = parser.feedLocated(redacted).map {
            Interaction.Event(offsetMilliseconds: 5, byteEnd: $0.end, name: $0.event.name, data: $0.event.data)
        }
        return [
            try stream("a_text.sse", prompt: "text"),
            try stream("b_thinking_text.sse", prompt: "thinking"),
            try stream("c_tool_use.sse", prompt: "tool"),
            try stream("d_stop_sequence.sse", prompt: "stop"),
            try stream("e_error_midstream.sse", prompt: "midstream error"),
            interaction(prompt: "redacted", status: 200, body: redacted, stream: redactedEvents),
            interaction(
                prompt: "rate limited", status: 429,
                body: Array(#"{"type":"error","error":{"type":"rate_limit_error","message":"slow"},"request_id":"req_011"}"#.utf8),
                headers: [HeaderPair("content-type", "application/json"), HeaderPair("retry-after", "7")]),
            interaction(prompt: "padded json", status: 200, body: Array("{ \"type\" : \"message\" }\n".utf8)),
            interaction(
                prompt: "html", status: 502, body: Array("<html>bad gateway</html>".utf8),
                headers: [HeaderPair("content-type", "text/html")]),
            interaction(prompt: "binary", status: 500, body: [0xFF, 0x00, 0xC3, 0x28]),
            interaction(prompt: "count", path: "/v1/messages/count_tokens", status: 200, body: Array(#"{"input_tokens":42}"#.utf8)),
            interaction(
                prompt: "", path: "/v1/models", method: "GET", status: 200,
                body: Array(#"{"data":[],"has_more":false,"first_id":null,"last_id":null}"#.utf8)),
        ]
    }
}

@Suite("Export and import")
struct CodecTests {
    @Test func everyKindRoundTripsExactly() throws {
        for (i, interaction) in try Samples.all().enumerated() {
            let line = InteractionCodec.encode(interaction)
            #expect(!line.contains("\n"))
            let back = try InteractionCodec.decode(line, line: i + 1)
            #expect(back == interaction, "\(interaction.path) \(String(decoding: interaction.requestBody, as: UTF8.self))")
        }
    }

    @Test func streamsAreEventListsAndRawOnlyWhenNeeded() throws {
        let text = try Samples.stream("a_text.sse", prompt: "text")
        let line = try JSONParser.parse(InteractionCodec.encode(text))
        let stream = try #require(line["response"]?["stream"]?.arrayValue)
        #expect(stream.count == text.events.count)
        #expect(stream.first?["data"]?["type"] == "message_start", "data is JSON, not an escaped string")
        #expect(stream.first?["pad"] != nil, "the API's padding is kept as a count")
        #expect(stream.contains { $0["data_text"] == #"{"type": "ping"}"# })
        #expect(line["response"]?["raw"] == nil, "the events rebuild the bytes, so no raw copy")
        #expect(
            line.objectValue?.keys == [
                "id", "recorded_at", "method", "path", "query", "fingerprint", "occurrence", "model", "request", "response",
            ])
        // A stream whose bytes the events cannot rebuild (CRLF here) keeps its raw text.
        var crlf = text
        crlf.responseBody = Array(String(decoding: text.responseBody, as: UTF8.self).replacing("\n", with: "\r\n").utf8)
        #expect(try JSONParser.parse(InteractionCodec.encode(crlf))["response"]?["raw"] != nil)
        #expect(try InteractionCodec.decode(InteractionCodec.encode(crlf), line: 1).responseBody == crlf.responseBody)
    }

    /// "Stable" as git needs it: an export read back exports the same text, and every line keeps one key order
    /// whatever order the stored JSON had.
    @Test func exportIsStable() throws {
        let all = try Samples.all()
        let text = InteractionCodec.export(all)
        #expect(InteractionCodec.export(try InteractionCodec.decodeExport(text, file: "x.jsonl")) == text)
        let keyOrder = ["id", "recorded_at", "method", "path", "query", "fingerprint", "occurrence", "model"]
        for line in text.split(separator: "\n") {
            let keys = try #require(try JSONParser.parse(String(line)).objectValue).keys
            #expect(Array(keys.prefix(keyOrder.count)) == keyOrder)
            #expect(keys.suffix(2) == ["request", "response"])
        }
    }

    @Test func storeRoundTripKeepsEverything() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("codec.sqlite")
        let store = try CassetteStore(path: path)
        try await store.saveAll(try Samples.all())
        let exported = InteractionCodec.export(try await store.all())
        let path2 = directory.file("codec-2.sqlite")
        let store2 = try CassetteStore(path: path2)
        try await store2.saveAll(try InteractionCodec.decodeExport(exported, file: "x.jsonl"))
        #expect(InteractionCodec.export(try await store2.all()) == exported)
        // Ids are kept on import, so the two cassettes read equal; `cassette verify` and `diff` over the same
        // round trip are in TapedeckCLITests (CassettePresentationTests).
        #expect(try await store2.all() == store.all())
        #expect(try await store2.all().allSatisfy { $0.damage == nil })
    }

    @Test(arguments: [
        ("{\"method\":\"POST\"", "x.jsonl:1: not valid JSON"),
        ("[1,2]", "x.jsonl:1: expected a JSON object"),
        ("{\"request\":{\"body\":{\"model\":\"m\"}}}", "x.jsonl:1: response: missing"),
        ("{\"request\":{\"body\":{\"model\":\"m\"}},\"response\":{\"status\":200}}", "x.jsonl:1: response: needs one of"),
        ("{\"response\":{\"body\":{}}}", "x.jsonl:1: request.body: needed to match"),
        ("{\"match\":{\"colour\":\"red\"},\"response\":{\"body\":{}}}", "x.jsonl:1: match.colour: unknown condition"),
        ("{\"fingerprint\":\"abc\",\"response\":{\"body\":{}}}", "x.jsonl:1: fingerprint: expected 64 hex digits"),
    ])
    func badLinesSayWhereAndWhat(_ line: String, _ expected: String) {
        #expect {
            _ = try InteractionCodec.decodeExport(line, file: "x.jsonl")
        } throws: { error in
            "\(error)".hasPrefix(expected)
        }
    }

    @Test func errorsAreFoundOnTheirLine() {
        let text = "// a comment\n\n{\"match\":{\"model\":\"m\"},\"response\":{\"message\":{}}}\n{broken\n"
        #expect {
            _ = try InteractionCodec.decodeExport(text, file: "f.jsonl")
        } throws: { error in
            "\(error)".hasPrefix("f.jsonl:4: not valid JSON")
        }
    }

    /// Bodies that are not UTF-8 export as standard, padded base64 (what the hand-written encoder wrote before
    /// Foundation's), and read back with or without the padding.
    @Test(arguments: [
        ([UInt8](), ""), ([0xFF], "/w=="), ([0xFF, 0x00], "/wA="), ([0xFF, 0x00, 0xC3, 0x28], "/wDDKA=="),
        ([0xFB, 0xEF, 0xBE, 0x80], "++++gA=="),
    ])
    func binaryBodiesAreStandardPaddedBase64(bytes: [UInt8], base64: String) throws {
        if !bytes.isEmpty { #expect(InteractionCodec.rawText(bytes) == ["base64": .string(base64)]) }
        #expect(InteractionCodec.bytes(fromRaw: ["base64": .string(base64)]) == bytes)
        var unpadded = Substring(base64)
        while unpadded.hasSuffix("=") { unpadded = unpadded.dropLast() }
        #expect(InteractionCodec.bytes(fromRaw: ["base64": .string(String(unpadded))]) == bytes)
    }

    @Test(arguments: ["a", "abcde", "ab cd", "-_-_"])
    func malformedBase64IsRefused(_ text: String) {
        #expect(InteractionCodec.bytes(fromRaw: ["base64": .string(text)]) == nil)
    }

    @Test func handWrittenFixturesMayOmitWhatCanBeDerived() throws {
        let exact = try InteractionCodec.decode(
            #"{"request":{"body":{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}},"response":{"message":{"content":[{"type":"text","text":"hello"}]}}}"#,
            line: 1)
        #expect(exact.isFixture)
        #expect(exact.fingerprint == Fingerprint(method: "POST", path: "/v1/messages", body: exact.requestJSON).hex)
        #expect(exact.model == "claude-sonnet-4-5")
        let error = try InteractionCodec.decode(
            #"{"match":{"last_user":"x"},"response":{"error":{"type":"overloaded_error","message":"busy"},"retry_after":2}}"#, line: 2)
        #expect(error.status == 529)
        #expect(error.responseHeader("retry-after") == "2")
        #expect(try JSONParser.parse(error.responseBody)["error"]?["type"] == "overloaded_error")
    }

    @Test func looseMatchers() throws {
        let body = try JSONParser.parse(
            #"{"model":"claude-sonnet-4-5","tools":[{"name":"t"}],"messages":[{"role":"user","content":"what's the weather?"}]}"#)
        #expect(Fixture.matches(["last_user": ["regex": "weather"]], body: body))
        #expect(!Fixture.matches(["last_user": "weather"], body: body))
        #expect(Fixture.matches(["last_user": "what's the weather?", "model": "claude-sonnet-4-5", "tools": true], body: body))
        #expect(!Fixture.matches(["tools": false], body: body))
        #expect(!Fixture.matches(["model": "claude-opus-4-7"], body: body))
    }
}

@Suite("Cassette store")
struct StoreTests {
    /// Kept for the test's duration, then removed with every file in it.
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory() }

    func temporaryPath() -> String { directory.file("store-\(UUID().uuidString)/c.sqlite") }

    @Test func createsMigratesAndUpserts() async throws {
        let path = temporaryPath()
        let store = try CassetteStore(path: path)
        #expect(try await store.storedSchemaVersion() == CassetteStore.schemaVersion)
        var sample = try Samples.all()[0]
        let id = try await store.save(sample)
        sample.status = 201
        #expect(try await store.save(sample) == id, "re-recording an occurrence keeps its row")
        #expect(try await store.count() == 1)
        #expect(try await store.all().first?.status == 201)
        sample.occurrence = 2
        try await store.save(sample)
        #expect(try await store.count() == 2)
        #expect(try await store.integrityCheck() == "ok")
    }

    @Test func refusesFilesThatAreNotCassettes() throws {
        let path = temporaryPath()
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("hello, not sqlite at all".utf8).write(to: URL(fileURLWithPath: path))
        #expect { try CassetteStore(path: path) } throws: { "\($0)".contains("not a cassette") }
        #expect { try CassetteStore(path: temporaryPath(), create: false) } throws: { "\($0)".contains("no such cassette") }
    }

    @Test func tapeReplaysOccurrencesAndFallsBackToLooseFixtures() async throws {
        let path = temporaryPath()
        let store = try CassetteStore(path: path)
        var first = try Samples.all()[0]
        var second = first
        second.occurrence = 2
        second.status = 202
        first.status = 201
        let fixture = try InteractionCodec.decode(#"{"match":{"last_user":{"regex":"."}},"response":{"message":{"content":[]}}}"#, line: 1)
        try await store.saveAll([first, second, fixture])
        let tape = try await Tape(path: path, create: false)
        let fingerprint = try #require(Fingerprint(hex: first.fingerprint))
        var statuses: [Int] = []
        for _ in 0..<3 {
            statuses.append(try await tape.recording(for: fingerprint, occurrence: tape.nextOccurrence(of: fingerprint))?.status ?? 0)
        }
        #expect(statuses == [201, 202, 202])
        tape.rewind()
        #expect(tape.nextOccurrence(of: fingerprint) == 1)
        #expect(tape.looseRecording(for: try JSONParser.parse(#"{"messages":[{"role":"user","content":"anything"}]}"#))?.isFixture == true)
    }
}
