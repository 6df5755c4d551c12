import AsyncHTTPClient
import Cassette
import Foundation
import MessagesAPI
import NIOCore
import NIOHTTP1
import TapedeckServer
import TapedeckTestSupport
import Testing

/// Paths under `/v1/` that Tapedeck does not model: forwarded and recorded generically, replayed byte for byte.
@Suite("Paths Tapedeck does not model")
struct UnmodeledPathTests {
    /// One request of the round trip: method, path with query, body bytes, content type.
    struct Call: Sendable {
        let method: HTTPMethod
        let path: String
        var body: [UInt8] = []
        var contentType: String?
    }

    /// A multipart upload whose file part is not UTF-8.
    static let multipart: [UInt8] =
        Array(
            "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                .utf8)
        + [0xFF, 0xFE, 0x00, 0x80, 0xC3] + Array("\r\n--XyZ--\r\n".utf8)

    static let calls: [Call] = [
        Call(
            method: .POST, path: "/v1/skills", body: Array(#"{"display_title":"a","files":[]}"#.utf8),
            contentType: "application/json"),
        Call(method: .GET, path: "/v1/skills/skill_1/versions"),
        // Files are modeled now (FileSource); skills stand for the API's other multipart resources.
        Call(method: .GET, path: "/v1/skills?limit=2&after_id=skill_9"),
        Call(method: .POST, path: "/v1/skills", body: multipart, contentType: "multipart/form-data; boundary=XyZ"),
        Call(method: .DELETE, path: "/v1/skills/skill_1"),
        Call(method: .GET, path: "/v1/skills/skill_1/binary"),
        Call(
            method: .POST, path: "/v1/chat/completions", body: Array(#"{"model":"claude-opus-4-7","messages":[]}"#.utf8),
            contentType: "application/json"),
        Call(method: .PUT, path: "/v1/whatever-ships-next/x", body: Array("plain text".utf8), contentType: "text/plain"),
        Call(method: .PATCH, path: "/v1/whatever-ships-next/x", body: Array(#"{"n":1}"#.utf8), contentType: "application/json"),
    ]

    static func perform(_ base: String, _ call: Call, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: base + call.path)
        request.method = call.method
        request.headers.add(name: "x-api-key", value: "sk-ant-unmodeled-secret")
        request.headers.add(name: "anthropic-version", value: "2023-06-01")
        if let type = call.contentType { request.headers.add(name: "content-type", value: type) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if !call.body.isEmpty { request.body = .bytes(ByteBuffer(bytes: call.body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 24)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView))
    }

    @Test func recordThenReplayWithTheUpstreamGone() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let (recorded, received) = try await FakeUpstream.withRunning { fake, upstream in
            let replies = try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                var replies: [Reply] = []
                for call in Self.calls { replies.append(try await Self.perform(base, call)) }
                return replies
            }
            return (replies, fake.requests)
        }
        // The upstream got each request as sent: method, path, query and body bytes.
        #expect(received.count == Self.calls.count)
        for (call, got) in zip(Self.calls, received) {
            #expect(got.method == call.method.rawValue)
            #expect(got.path + (got.query.map { "?" + $0 } ?? "") == call.path)
            #expect(got.body == call.body)
            #expect(got.headers["x-api-key"] == "sk-ant-unmodeled-secret")
        }
        for reply in recorded {
            #expect(reply.status == 200)
            #expect(reply.header("tapedeck-source") == "proxied")
        }
        #expect(recorded[5].body.starts(with: FakeUpstream.binaryBody), "a body that is not UTF-8 is relayed as it is")

        let replayed = try await withTapedeck(replaying(cassette)) { base in
            var replies: [Reply] = []
            for call in Self.calls { replies.append(try await Self.perform(base, call)) }
            return replies
        }
        for (i, (first, again)) in zip(recorded, replayed).enumerated() {
            #expect(again.status == first.status, "\(Self.calls[i].path)")
            #expect(again.header("tapedeck-source") == "recorded", "\(Self.calls[i].path)")
            #expect(again.body == first.body, "\(Self.calls[i].path): byte for byte")
            #expect(again.header("content-type") == first.header("content-type"))
            #expect(again.header("request-id") == first.header("request-id"))
        }
        // Keys never reach the cassette, whatever the path.
        let file = try Data(contentsOf: URL(fileURLWithPath: cassette))
        #expect(file.range(of: Data("sk-ant-unmodeled-secret".utf8)) == nil)
    }

    @Test func replayMatchesOnMethodPathQueryAndBodyWithOccurrences() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let echo = Call(method: .POST, path: "/v1/echo?x=1", body: Array(#"{"a":1}"#.utf8), contentType: "application/json")
        let recorded = try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                [try await Self.perform(base, echo), try await Self.perform(base, echo)]
            }
        }
        #expect(recorded.map { $0.json?["call"] } == [1, 2])
        try await withTapedeck(replaying(cassette)) { base in
            let first = try await Self.perform(base, echo)
            let second = try await Self.perform(base, echo)
            #expect([first.json?["call"], second.json?["call"]] == [1, 2], "the n-th identical request replays the n-th recording")
            // Same JSON with its keys reordered is the same request.
            let reordered = try await Self.perform(
                base, Call(method: .POST, path: "/v1/echo?x=1", body: Array(#"{ "a" : 1 }"#.utf8), contentType: "application/json"))
            #expect(reordered.status == 200)
            for other in [
                Call(method: .POST, path: "/v1/echo?x=2", body: echo.body, contentType: "application/json"),
                Call(method: .PUT, path: "/v1/echo?x=1", body: echo.body, contentType: "application/json"),
                Call(method: .POST, path: "/v1/echo?x=1", body: Array(#"{"a":2}"#.utf8), contentType: "application/json"),
                Call(method: .POST, path: "/v1/echo", body: echo.body, contentType: "application/json"),
            ] {
                let miss = try await Self.perform(base, other)
                #expect(miss.status == 404, "\(other.method) \(other.path)")
                #expect(miss.json?["error"]?["type"] == "not_found_error")
            }
        }
    }

    @Test func withNothingRecordedReplayKeepsTheAPIs404AndNotesAMiss() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        try await withTapedeck(testConfiguration { $0.cassettePath = cassette }) { base in
            let reply = try await Self.perform(base, Call(method: .POST, path: "/v1/skills", body: Array("{}".utf8)))
            #expect(reply.status == 404)
            #expect(reply.json?["type"] == "error")
            #expect(reply.json?["error"]?["type"] == "not_found_error")
            let misses = try await send(base, "/_tapedeck/misses", method: .GET)
            #expect(misses.json?["data"]?.arrayValue?.first?["path"] == "/v1/skills")
            // Outside /v1/ is still no API path at all.
            #expect(try await send(base, "/v2/anything", method: .GET).status == 404)
            // A path Tapedeck models keeps its own rules: a GET of /v1/messages is still the API's 405.
            #expect(try await send(base, "/v1/messages", method: .GET).status == 405)
        }
    }

    @Test func aStreamPassesThroughLiveAndReplaysByteForByte() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let recorded = try await FakeUpstream.withRunning { fake, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                var request = HTTPClientRequest(url: base + "/v1/chat/completions/events")
                request.method = .POST
                request.headers.add(name: "fake-scenario", value: "gated")
                request.body = .bytes(ByteBuffer(string: #"{"stream":true}"#))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                var bytes: [UInt8] = []
                for try await chunk in response.body {
                    bytes += chunk.readableBytesView
                    // The upstream holds everything after its first event until the gate opens: the client has it.
                    if String(decoding: bytes, as: UTF8.self) == "data: {\"delta\":\"a\"}\n\n" { fake.gate.open() }
                }
                return bytes
            }
        }
        #expect(String(decoding: recorded, as: UTF8.self) == FakeUpstream.unmodeledStream)
        let replayed = try await withTapedeck(replaying(cassette)) { base in
            try await send(base, "/v1/chat/completions/events", body: #"{"stream":true}"#, headers: [("fake-scenario", "gated")])
        }
        #expect(replayed.status == 200)
        #expect(replayed.header("tapedeck-source") == "recorded")
        #expect(replayed.body == recorded)
        #expect(replayed.header("content-type") == "text/event-stream")
    }

    @Test func bodiesThatAreNotUTF8SurviveExportAndImport() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let upload = Self.calls[3]
        let download = Self.calls[5]
        _ = try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                [try await Self.perform(base, upload), try await Self.perform(base, download)]
            }
        }
        let stored = try await CassetteStore(path: cassette).all()
        #expect(stored.count == 2)
        #expect(stored.first { $0.method == "POST" }?.requestBody == upload.body)
        #expect(stored.first { $0.method == "GET" }?.responseBody.starts(with: FakeUpstream.binaryBody) == true)
        #expect(stored.first { $0.method == "GET" }?.query == nil)
        let text = InteractionCodec.export(stored)
        let back = try InteractionCodec.decodeExport(text, file: "export.jsonl")
        #expect(back == stored, "export then import gives back every byte")
        #expect(text.contains("base64"))
    }
}
