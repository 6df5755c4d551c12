import AsyncHTTPClient
import Foundation
import MessagesAPI
import TapedeckServer
import TapedeckTestSupport
import Testing

/// The Files API through the server: the store answers in every mode, record mode keeps the upstream's ids.
@Suite("Files routes")
struct FilesRouteTests {
    static let headers = [("x-api-key", "k"), ("content-type", "multipart/form-data; boundary=Z")]

    static func upload(_ name: String, _ content: String) -> String {
        "--Z\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: text/plain\r\n\r\n\(content)\r\n--Z--\r\n"
    }

    /// Upload, list, metadata, a message naming the file, delete, metadata again: statuses and bodies.
    static func lifecycle(_ base: String) async throws -> [String] {
        let uploaded = try await send(base, "/v1/files", body: upload("a.txt", "hello"), headers: headers)
        let id = uploaded.json?["id"]?.stringValue ?? ""
        let message =
            #"{"model":"claude-sonnet-4-5","max_tokens":50,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"file","file_id":"\#(id)"}},{"type":"text","text":"hi"}]}]}"#
        var replies = [uploaded]
        replies.append(try await send(base, "/v1/files?limit=5", method: .GET, headers: [("x-api-key", "k")]))
        replies.append(try await send(base, "/v1/files/\(id)", method: .GET, headers: [("x-api-key", "k")]))
        replies.append(try await send(base, "/v1/messages", body: message, headers: [("x-api-key", "k")]))
        replies.append(try await send(base, "/v1/files/\(id)", method: .DELETE, headers: [("x-api-key", "k")]))
        replies.append(try await send(base, "/v1/files/\(id)", method: .GET, headers: [("x-api-key", "k")]))
        return replies.map { "\($0.status) \($0.text)" }
    }

    @Test func synthesizedFilesLiveInTheCassette() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let first = try await withTapedeck(testConfiguration { $0.cassettePath = cassette }) { try await Self.lifecycle($0) }
        #expect(first.map { $0.prefix(3) } == ["200", "200", "200", "200", "200", "404"])
        #expect(first[0].contains(#""id":"file_01"#) && first[0].contains(#""downloadable":false"#))
        #expect(first[5].contains("File not found: file_01"))
        // A fresh run over the same cassette hands the same file back (undeleted) with the same id.
        let second = try await withTapedeck(testConfiguration { $0.cassettePath = cassette }) { try await Self.lifecycle($0) }
        #expect(second == first)
    }

    @Test func recordKeepsTheUpstreamsIdsAndReplayOfflineMatches() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let recorded = try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { try await Self.lifecycle($0) }
        }
        #expect(recorded.map { $0.prefix(3) } == ["200", "200", "200", "200", "200", "404"])
        let replayed = try await withTapedeck(replaying(cassette) { $0.onMiss = .error }) { try await Self.lifecycle($0) }
        // The 404 after the delete is the upstream's own text while recording, Tapedeck's in replay.
        #expect(Array(replayed.prefix(5)) == Array(recorded.prefix(5)))
        #expect(replayed[5].hasPrefix("404"))
    }
}
