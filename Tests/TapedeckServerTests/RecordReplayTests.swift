import AsyncHTTPClient
import Cassette
import Foundation
import MessagesAPI
import NIOCore
import TapedeckServer
import TapedeckTestSupport
import Testing

@Suite("Record through an upstream, replay offline")
struct RecordReplayTests {
    static let streamScenarios = ["text", "thinking", "tool", "stop", "midstream_error"]

    @Test(arguments: streamScenarios)
    func streamsReplayByteForByte(_ scenario: String) async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let request = scenarioRequest(scenario, stream: true)
        let recorded = try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in try await send(base, "/v1/messages", body: request) }
        }
        #expect(recorded.header("tapedeck-source") == "proxied")
        let replayed = try await withTapedeck(replaying(cassette)) { base in try await send(base, "/v1/messages", body: request) }
        #expect(replayed.status == 200)
        #expect(replayed.header("tapedeck-source") == "recorded")
        #expect(replayed.body == recorded.body)
        let original =
            switch scenario {
            case "thinking": ExampleStreams.thinking
            case "tool": ExampleStreams.toolUse
            case "stop": ExampleStreams.stopSequence
            case "midstream_error": ExampleStreams.midstreamError
            default: ExampleStreams.text
            }
        #expect(replayed.body == Array(original.utf8), "the upstream's bytes, padding included, survive the round trip")
        #expect(replayed.header("request-id") == recorded.header("request-id"))
        #expect(replayed.header("content-type") == "text/event-stream; charset=utf-8")
        #expect(replayed.header("transfer-encoding") == "chunked")
        #expect(replayed.header("content-length") == nil)
    }

    @Test(arguments: ["text", "thinking", "tool", "stop", "rate_limit", "overloaded", "non_json_error"])
    func jsonAndErrorsReplayWithStatusHeadersAndBody(_ scenario: String) async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let request = scenarioRequest(scenario)
        let recorded = try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in try await send(base, "/v1/messages", body: request) }
        }
        let replayed = try await withTapedeck(replaying(cassette)) { base in try await send(base, "/v1/messages", body: request) }
        #expect(replayed.status == recorded.status)
        #expect(replayed.body == recorded.body)
        for header in ["request-id", "retry-after", "anthropic-ratelimit-requests-remaining", "content-type"] {
            #expect(replayed.header(header) == recorded.header(header), "\(header)")
        }
        if scenario == "rate_limit" {
            #expect(replayed.status == 429)
            #expect(replayed.header("retry-after") == "7")
        }
    }

    @Test func crossStyleReplay() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let streamed = scenarioRequest("tool", stream: true)
        let plain = scenarioRequest("thinking")
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                _ = try await send(base, "/v1/messages", body: streamed)
                _ = try await send(base, "/v1/messages", body: plain)
            }
        }
        try await withTapedeck(replaying(cassette)) { base in
            // A streamed recording answers a JSON request with the assembled Message.
            let json = try await send(base, "/v1/messages", body: scenarioRequest("tool", stream: false))
            #expect(json.header("content-type") == "application/json")
            let expected = MessageAssembler.assemble(SSEParser.parse(Array(ExampleStreams.toolUse.utf8))).assembled
            #expect(json.json == expected)
            // A JSON recording answers a stream request with a stream that assembles to it.
            let stream = try await send(base, "/v1/messages", body: scenarioRequest("thinking", stream: true))
            #expect(stream.header("content-type") == "text/event-stream; charset=utf-8")
            let events = SSEParser.parse(stream.body)
            #expect(events.first?.name == "message_start")
            #expect(events.last?.name == "message_stop")
            let recordedJSON = MessageAssembler.assemble(SSEParser.parse(Array(ExampleStreams.thinking.utf8))).assembled
            #expect(MessageAssembler.assemble(events).assembled == recordedJSON)
        }
    }

    @Test func midstreamErrorAnswersAJSONRequestWithTheError() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                _ = try await send(base, "/v1/messages", body: scenarioRequest("midstream_error", stream: true))
            }
        }
        let reply = try await withTapedeck(replaying(cassette)) { base in
            try await send(base, "/v1/messages", body: scenarioRequest("midstream_error"))
        }
        #expect(reply.status == 529)
        #expect(reply.json?["error"]?["type"] == "overloaded_error")
    }

    @Test func occurrencesReplayInOrderThenRepeatTheLastAndRewind() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let request = scenarioRequest("counter")
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                for _ in 0..<3 { _ = try await send(base, "/v1/messages", body: request) }
            }
        }
        try await withTapedeck(replaying(cassette)) { base in
            var texts: [String] = []
            for _ in 0..<4 {
                texts.append(
                    try await send(base, "/v1/messages", body: request).json?["content"]?.arrayValue?.first?["text"]?.stringValue ?? "")
            }
            #expect(texts == ["call 1", "call 2", "call 3", "call 3"])
            #expect(try await send(base, "/_tapedeck/reset").status == 200)
            #expect(try await send(base, "/v1/messages", body: request).json?["content"]?.arrayValue?.first?["text"] == "call 1")
        }
        // Re-recording replaces occurrences instead of adding to them.
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                for _ in 0..<3 { _ = try await send(base, "/v1/messages", body: request) }
            }
        }
        #expect(try await CassetteStore(path: cassette).count() == 3)
    }

    @Test func streamAndNonStreamShareARecording() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                _ = try await send(base, "/v1/messages", body: scenarioRequest("text", stream: true))
            }
        }
        let store = try CassetteStore(path: cassette)
        let stored = try #require(try await store.all().first)
        // The fingerprint ignores `stream` and `metadata.user_id`.
        let other =
            #"{"model":"claude-sonnet-4-5","max_tokens":1024,"metadata":{"user_id":"someone"},"messages":[{"role":"user","content":"scenario:text"}]}"#
        #expect(Fingerprint(method: "POST", path: "/v1/messages", body: try JSONParser.parse(other)).hex == stored.fingerprint)
        #expect(stored.isStream)
        #expect(stored.events.first?.name == "message_start")
        #expect(stored.events.last?.byteEnd == stored.responseBody.count)
        #expect(stored.message?["content"]?.arrayValue?.first?["text"] == "Hello! How can I help you today?")
    }

    @Test func forwardsHeadersPathAndBodyButNeverStoresSecrets() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let secret = "sk-ant-api03-" + String(repeating: "Z", count: 40)
        let request = scenarioRequest("text")
        let received = try await FakeUpstream.withRunning { fake, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream + "/gateway/anthropic")) { base in
                _ = try await send(
                    base, "/v1/messages?beta=true", body: request,
                    headers: [
                        ("x-api-key", secret), ("anthropic-version", "2023-06-01"), ("anthropic-beta", "tools-2024-04-04"),
                        ("cookie", "sid=\(secret)"),
                    ])
                _ = try await send(
                    base, "/v1/messages/count_tokens", body: #"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}"#,
                    headers: [("authorization", "Bearer \(secret)")])
            }
            return fake.requests
        }
        #expect(received.count == 2)
        #expect(received[0].path == "/gateway/anthropic/v1/messages")
        #expect(received[0].query == "beta=true")
        #expect(received[0].headers["x-api-key"] == secret)
        #expect(received[0].headers["anthropic-version"] == "2023-06-01")
        #expect(received[0].headers["anthropic-beta"] == "tools-2024-04-04")
        #expect(received[0].body == Array(request.utf8))
        #expect(received[1].headers["authorization"] == "Bearer \(secret)")
        // Nothing of the key reaches the disk: not the database, not its write-ahead log.
        for file in [cassette, cassette + "-wal"] {
            if let data = FileManager.default.contents(atPath: file) {
                #expect(data.range(of: Data(secret.utf8)) == nil, "\(file) holds the key")
                #expect(data.range(of: Data("fake-session-cookie".utf8)) == nil, "\(file) holds a set-cookie value")
            }
        }
        let stored = try await CassetteStore(path: cassette).all()
        #expect(stored.count == 2)
        #expect(stored[0].requestHeaders.contains(HeaderPair("anthropic-beta", "tools-2024-04-04")))
        #expect(!stored[0].requestHeaders.contains { ["x-api-key", "authorization", "cookie"].contains($0.name) })
    }

    @Test func usesTheConfiguredKeyWhenTheClientSendsNone() async throws {
        let received = try await FakeUpstream.withRunning { fake, upstream in
            let cassette = temporaryCassette()
            defer { removeTemporaryCassette(cassette) }
            try await withTapedeck(recording(cassette, upstream: upstream) { $0.upstreamKey = "sk-from-env" }) { base in
                _ = try await send(base, "/v1/messages", body: scenarioRequest("text"))
            }
            return fake.requests
        }
        #expect(received.first?.headers["x-api-key"] == "sk-from-env")
    }

    @Test func clientGetsTheFirstEventWhileTheUpstreamIsStillSending() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        try await FakeUpstream.withRunning { fake, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                var request = HTTPClientRequest(url: base + "/v1/messages")
                request.method = .POST
                request.body = .bytes(ByteBuffer(string: scenarioRequest("gated", stream: true)))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                var parser = SSEParser()
                var names: [String] = []
                for try await chunk in response.body {
                    names += parser.feed(chunk.readableBytesView).map(\.name)
                    // The upstream holds everything after its first event until the gate opens.
                    if names == ["message_start"] { fake.gate.open() }
                }
                #expect(names.first == "message_start")
                #expect(names.last == "message_stop")
            }
        }
        #expect(try await CassetteStore(path: cassette).count() == 1)
    }

    @Test func upstreamBreakingOffRecordsNothing() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let reply = try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                try? await send(base, "/v1/messages", body: scenarioRequest("disconnect", stream: true))
            }
        }
        if let reply { #expect(reply.body.count < ExampleStreams.text.utf8.count) }
        #expect(try await CassetteStore(path: cassette).count() == 0)
    }

    @Test func unreachableUpstreamIs502AndRecordsNothing() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        // Port 9 on loopback: nothing listens there. The default connect timeout: a refusal is not retried until it runs out.
        let reply = try await withTapedeck(recording(cassette, upstream: "http://127.0.0.1:9")) { base in
            try await send(base, "/v1/messages", body: scenarioRequest("text"))
        }
        #expect(reply.status == 502)
        #expect(reply.json?["type"] == "error")
        #expect(reply.json?["error"]?["type"] == "api_error")
        #expect(try await CassetteStore(path: cassette).count() == 0)
    }

    @Test func fiftyConcurrentRecordingsAreAllKept() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for i in 0..<60 {
                        group.addTask {
                            try await send(
                                base, "/v1/messages",
                                body: scenarioRequest(i % 2 == 0 ? "text" : "thinking", stream: i % 3 == 0, extra: " #\(i)")
                            ).status
                        }
                    }
                    for try await status in group { #expect(status == 200) }
                }
            }
        }
        #expect(try await CassetteStore(path: cassette).count() == 60)
        #expect(try await CassetteStore(path: cassette).integrityCheck() == "ok")
        // Every one of them replays.
        try await withTapedeck(replaying(cassette)) { base in
            for i in [0, 17, 33, 59] {
                let reply = try await send(
                    base, "/v1/messages", body: scenarioRequest(i % 2 == 0 ? "text" : "thinking", stream: i % 3 == 0, extra: " #\(i)"))
                #expect(reply.header("tapedeck-source") == "recorded")
            }
        }
    }

    @Test func recordedPaceReproducesTheGaps() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let request = scenarioRequest("paced", stream: true)
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                _ = try await send(base, "/v1/messages", body: request)
            }
        }
        let stored = try #require(try await CassetteStore(path: cassette).all().first)
        let span = try #require(stored.events.last?.offsetMilliseconds) - (stored.events.first?.offsetMilliseconds ?? 0)
        #expect(span >= 150, "the fake spaces its events 40 ms apart")
        func timed(_ edit: @escaping (inout TapedeckConfiguration) -> Void) async throws -> (Duration, Reply) {
            try await withTapedeck(replaying(cassette, edit)) { base in
                let start = ContinuousClock.now
                let reply = try await send(base, "/v1/messages", body: request)
                return (ContinuousClock.now - start, reply)
            }
        }
        let (paced, pacedReply) = try await timed { $0.pace = .recorded }
        let (fast, fastReply) = try await timed {
            $0.pace = .recorded
            $0.speed = 4
        }
        let (instant, _) = try await timed { $0.pace = .instant }
        #expect(pacedReply.body == stored.responseBody)
        #expect(fastReply.body == stored.responseBody)
        #expect(paced >= .milliseconds(span * 9 / 10))
        #expect(fast < paced)
        #expect(instant < .milliseconds(span / 2))
        // A fault that reshapes the body sees every event of a paced one (it is paced through the fault's writer,
        // not from the connection's loop).
        let faulted = try await withTapedeck(replaying(cassette) { $0.pace = .recorded }) { base in
            try await send(base, "/v1/messages", body: request, headers: [("tapedeck-fault", "midstream_error;after=2")])
        }
        let firstTwo = try #require(stored.events.dropFirst().first?.byteEnd)
        #expect(Array(faulted.body.prefix(firstTwo)) == Array(stored.responseBody.prefix(firstTwo)))
        #expect(faulted.text.contains("event: error"), "\(faulted.text)")
        #expect(faulted.body.count < stored.responseBody.count + 200)
    }

    @Test func redactedCassettesStillReplay() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let request = scenarioRequest("text", extra: " my token is tok-12345abc")
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream) { $0.redactPatterns = ["tok-[0-9a-z]+"] }) { base in
                _ = try await send(base, "/v1/messages", body: request)
            }
        }
        let stored = try #require(try await CassetteStore(path: cassette).all().first)
        let storedText = String(decoding: stored.requestBody, as: UTF8.self)
        #expect(!storedText.contains("tok-12345abc"))
        #expect(storedText.contains(Redactor.placeholder))
        let reply = try await withTapedeck(replaying(cassette) { $0.redactPatterns = ["tok-[0-9a-z]+"] }) { base in
            try await send(base, "/v1/messages", body: request)
        }
        #expect(reply.header("tapedeck-source") == "recorded")
    }

    @Test func autoModeReplaysHitsAndRecordsMisses() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let sources = try await FakeUpstream.withRunning { fake, upstream in
            let sources = try await withTapedeck(recording(cassette, upstream: upstream) { $0.mode = .auto }) { base in
                [
                    try await send(base, "/v1/messages", body: scenarioRequest("text")).header("tapedeck-source"),
                    try await send(base, "/v1/messages", body: scenarioRequest("text")).header("tapedeck-source"),
                    try await send(base, "/v1/messages", body: scenarioRequest("thinking")).header("tapedeck-source"),
                ]
            }
            #expect(fake.requests.count == 2)
            return sources
        }
        #expect(sources == ["proxied", "recorded", "proxied"])
    }

    @Test func missesExplainTheClosestRecording() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                _ = try await send(
                    base, "/v1/messages", body: #"{"model":"claude-sonnet-4-5","max_tokens":9,"messages":[{"role":"user","content":"Hi"}]}"#
                )
            }
        }
        try await withTapedeck(replaying(cassette)) { base in
            let miss = try await send(
                base, "/v1/messages", body: #"{"model":"claude-sonnet-4-5","max_tokens":9,"messages":[{"role":"user","content":"Hello"}]}"#)
            #expect(miss.status == 404)
            #expect(miss.json?["error"]?["type"] == "not_found_error")
            let message = miss.json?["error"]?["message"]?.stringValue ?? ""
            #expect(message.hasPrefix(#"no recorded interaction matches; closest differs at messages[0].content: "Hi" vs "Hello""#))
        }
        // With on-miss synthesize, a miss gets a synthetic answer instead.
        let synthesized = try await withTapedeck(replaying(cassette) { $0.onMiss = .synthesize }) { base in
            try await send(
                base, "/v1/messages", body: #"{"model":"claude-sonnet-4-5","max_tokens":9,"messages":[{"role":"user","content":"Hello"}]}"#)
        }
        #expect(synthesized.header("tapedeck-source") == "synthesized")
    }

    @Test func replayNeverCreatesACassetteFile() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        _ = try await withTapedeck(replaying(cassette) { $0.onMiss = .synthesize }) { base in
            try await send(base, "/v1/messages", body: scenarioRequest("text"))
        }
        #expect(!FileManager.default.fileExists(atPath: cassette))
    }
}

@Suite("The bundled demo cassette")
struct DemoCassetteTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("cassettes/demo.sqlite").path

    @Test func everyInteractionReplaysAsRecorded() async throws {
        // Work on a copy: opening a WAL database writes beside it, and the checkout should stay clean.
        let copy = temporaryCassette()
        defer { removeTemporaryCassette(copy) }
        try FileManager.default.createDirectory(atPath: (copy as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.path, toPath: copy)
        let interactions = try await CassetteStore(path: copy, create: false).all()
        #expect(interactions.count >= 6)
        let kinds = Set(interactions.flatMap { ($0.message?["content"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue } })
        #expect(kinds.isSuperset(of: ["text", "thinking", "tool_use"]))
        #expect(interactions.contains { $0.status == 529 })
        #expect(interactions.contains { $0.message?["stop_reason"] == "stop_sequence" })
        try await withTapedeck(
            testConfiguration {
                $0.cassettePath = copy
                $0.onMiss = .error
            }
        ) { base in
            for interaction in interactions {
                let reply = try await send(base, interaction.path, body: String(decoding: interaction.requestBody, as: UTF8.self))
                #expect(reply.status == interaction.status)
                #expect(reply.body == interaction.responseBody)
                #expect(reply.header("tapedeck-source") == "recorded")
            }
        }
    }
}
