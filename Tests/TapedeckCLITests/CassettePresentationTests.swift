import Cassette
import Foundation
import MessagesAPI
import TapedeckCLI
import TapedeckTestSupport
import Testing

/// Recordings shaped as the API sends them: a stream from the shared fixtures and a JSON answer.
enum Recordings {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/streams")

    static func request(_ prompt: String) -> (body: [UInt8], fingerprint: String) {
        let body: JSONValue = [
            "model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [["role": "user", "content": .string(prompt)]],
        ]
        return (JSONWriter.bytes(body), Fingerprint(method: "POST", path: "/v1/messages", body: body).hex)
    }

    static func stream(_ file: String = "a_text.sse", prompt: String = "tell me a story") throws -> Interaction {
        let bytes = Array(try Data(contentsOf: fixtures.appendingPathComponent(file)))
        var parser = SSEParser()
        let events = (parser.feedLocated(bytes) + parser.finish().map { ($0, bytes.count) }).enumerated().map { i, pair in
            Interaction.Event(offsetMilliseconds: 10 * i, byteEnd: pair.1, name: pair.0.name, data: pair.0.data)
        }
        let (body, fingerprint) = request(prompt)
        return Interaction(
            recordedAt: "2026-01-01T00:00:00Z", method: "POST", path: "/v1/messages", query: nil, fingerprint: fingerprint,
            occurrence: 1, requestHeaders: [HeaderPair("anthropic-version", "2023-06-01")], requestBody: body, status: 200,
            responseHeaders: [HeaderPair("content-type", "text/event-stream; charset=utf-8")], responseBody: bytes,
            isStream: true, events: events,
            message: MessageAssembler.assemble(events.map { SSEEvent(name: $0.name, data: $0.data) }).assembled,
            model: "claude-sonnet-4-5")
    }

    static func json(prompt: String = "count to three", status: Int = 200) -> Interaction {
        let (body, fingerprint) = request(prompt)
        return Interaction(
            recordedAt: "2026-01-01T00:00:01Z", method: "POST", path: "/v1/messages", query: nil, fingerprint: fingerprint,
            occurrence: 1, requestHeaders: [], requestBody: body, status: status,
            responseHeaders: [HeaderPair("content-type", "application/json")],
            responseBody: Array(#"{"type":"message","content":[{"type":"text","text":"one two three"}]}"#.utf8),
            isStream: false, events: [], message: nil, model: "claude-sonnet-4-5")
    }
}

@Suite("tapedeck cassette: what it prints")
struct CassettePresentationTests {
    /// The round trip `export` → `import` leaves nothing for `verify` or `diff` to report.
    @Test func aRoundTripVerifiesAndDiffsClean() async throws {
        let directory = try TemporaryDirectory()
        let store = try CassetteStore(path: directory.file("a.sqlite"))
        try await store.saveAll([try Recordings.stream(), try Recordings.stream("b_thinking_text.sse", prompt: "think"), Recordings.json()])
        let exported = InteractionCodec.export(try await store.all())
        let store2 = try CassetteStore(path: directory.file("b.sqlite"))
        try await store2.saveAll(try InteractionCodec.decodeExport(exported, file: "x.jsonl"))
        #expect(InteractionCodec.export(try await store2.all()) == exported)
        #expect(CassettePresentation.verify(try await store2.all()).isEmpty)
        #expect(CassettePresentation.diff(try await store.all(), try await store2.all()) == ("no differences\n", false))
    }

    @Test func verifyNamesAStreamCutBeforeItsEnd() throws {
        var cut = try Recordings.stream()
        cut.id = 7
        let keep = cut.events.count - 1
        cut.responseBody = Array(cut.responseBody.prefix(cut.events[keep - 1].byteEnd))
        cut.events = Array(cut.events.prefix(keep))
        let problems = CassettePresentation.verify([cut])
        #expect(problems.count == 1 && problems.first?.contains("without message_stop") == true, "\(problems)")
        #expect(problems.first?.hasPrefix("interaction 7: ") == true)
    }

    @Test func verifyNamesAStoredMessageItsEventsDoNotMake() throws {
        var stream = try Recordings.stream()
        stream.id = 3
        stream.message = ["type": "message", "content": []]
        #expect(CassettePresentation.verify([stream]) == ["interaction 3: its events do not assemble to its stored message"])
    }

    @Test func diffSaysWhatWasAddedRemovedAndChanged() throws {
        let kept = try Recordings.stream()
        let changed = Recordings.json()
        var after = changed
        after.status = 529
        let (text, differs) = CassettePresentation.diff([kept, changed], [kept, after, Recordings.json(prompt: "new one")])
        #expect(differs)
        #expect(
            text == """
                + added   POST /v1/messages #1 "new one"
                ~ changed POST /v1/messages #1 "count to three" at response.status: 200 → 529

                """)
        let (removed, _) = CassettePresentation.diff([kept, changed], [changed])
        #expect(removed == "- removed POST /v1/messages #1 \"tell me a story\"\n")
    }

    @Test func listShowAndStatsDescribeEachInteraction() throws {
        var stream = try Recordings.stream()
        stream.id = 1
        var json = Recordings.json()
        json.id = 2
        let list = CassettePresentation.list([stream, json]).split(separator: "\n")
        #expect(list.count == 3)
        #expect(list[0].hasPrefix("ID  METHOD  PATH"))
        #expect(list[1].contains("stream") && list[1].hasSuffix("tell me a story"))
        #expect(list[2].contains("json") && list[2].contains("200"))
        let show = CassettePresentation.show(stream)
        #expect(show.hasPrefix("interaction 1: POST /v1/messages\n"))
        #expect(show.contains("── response 200") && show.contains("assembled message:"))
        let stats = CassettePresentation.stats([stream, json], fileSize: 4096)
        #expect(stats.hasPrefix("interactions: 2 (1 streamed, 0 loose fixtures)\n"))
        #expect(stats.contains("file: 4.0 KB") && stats.contains("  claude-sonnet-4-5: 2"))
    }
}
