import Cassette
import Foundation
import MessagesAPI
import TapedeckServer
import TapedeckTestSupport
import Testing

@Suite("Matching across runs: profiles, normalizers, request ids")
struct MatchingTests {
    static let path = "/v1/messages?beta=true"

    /// Records `run`'s first request (with its own headers, unless `headers` says otherwise) into `cassette`.
    func record(_ run: ClaudeCodeRun, into cassette: String, headers: [(String, String)]? = nil, systemEntry: Bool = false) async throws {
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                let reply = try await send(base, Self.path, body: run.body(systemEntry: systemEntry), headers: headers ?? run.headers)
                #expect(reply.header("tapedeck-source") == "proxied")
            }
        }
    }

    /// Headers like `run`'s, from a client that is not Claude Code.
    func plainHeaders(_ run: ClaudeCodeRun) -> [(String, String)] {
        run.headers.map { $0.0 == "user-agent" ? ("user-agent", "python-httpx/0.28") : $0 }
    }

    @Test(arguments: [false, true])
    func aSecondClaudeCodeRunReplaysTheFirstByItsUserAgent(systemEntry: Bool) async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        try await record(.first, into: cassette, systemEntry: systemEntry)
        let second = ClaudeCodeRun.second
        let replies = try await withTapedeck(replaying(cassette)) { base in
            [
                try await send(base, Self.path, body: second.body(systemEntry: systemEntry), headers: second.headers),
                // The same body from another client is matched as sent: a miss.
                try await send(base, Self.path, body: second.body(systemEntry: systemEntry), headers: plainHeaders(second)),
            ]
        }
        #expect(replies[0].status == 200)
        #expect(replies[0].header("tapedeck-source") == "recorded")
        #expect(replies[1].status == 404)
        // The cassette keeps the request as the first run sent it.
        let stored = try #require(try await CassetteStore(path: cassette).all().first)
        let storedText = String(decoding: stored.requestBody, as: UTF8.self)
        #expect(storedText == ClaudeCodeRun.first.body(systemEntry: systemEntry))
        #expect(storedText.contains(ClaudeCodeRun.first.directory) && storedText.contains(ClaudeCodeRun.first.sessionID))
    }

    /// The intake keeps what a body parsed to by its bytes: the same bytes on another path, or in the same
    /// request repeated, must still be matched as that request (count_tokens is not answered by a message).
    @Test func theSameBytesOnAnotherPathAreAnotherRequest() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let request = scenarioRequest("text", extra: " same bytes")
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                let reply = try await send(base, "/v1/messages", body: request)
                #expect(reply.header("tapedeck-source") == "proxied")
            }
        }
        let sources = try await withTapedeck(replaying(cassette)) { base in
            var sources: [String?] = []
            for path in ["/v1/messages", "/v1/messages/count_tokens", "/v1/messages"] {
                sources.append(try await send(base, path, body: request).header("tapedeck-source"))
            }
            return sources
        }
        // count_tokens refuses a Messages body's `max_tokens`: what matters is that no recording answers it.
        #expect(sources == ["recorded", "tapedeck", "recorded"])
    }

    @Test func theProfileCanBeChosenForEveryClientOrTurnedOff() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let first = ClaudeCodeRun.first
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream) { $0.matchProfile = .claudeCode }) { base in
                _ = try await send(base, Self.path, body: first.body(), headers: plainHeaders(first))
            }
        }
        let second = ClaudeCodeRun.second
        let chosen = try await withTapedeck(replaying(cassette) { $0.matchProfile = .claudeCode }) { base in
            try await send(base, Self.path, body: second.body(), headers: plainHeaders(second))
        }
        #expect(chosen.header("tapedeck-source") == "recorded")
        // `--match-profile none`: not even Claude Code's own requests are normalized.
        let off = try await withTapedeck(replaying(cassette) { $0.matchProfile = .plain }) { base in
            try await send(base, Self.path, body: second.body(), headers: second.headers)
        }
        #expect(off.status == 404)
    }

    @Test func userNormalizersMatchWhatChangesAndStoreWhatWasSent() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let rule = "build-[0-9]+=>build-N"
        @Sendable func request(_ build: Int) -> String { scenarioRequest("text", extra: " for build-\(build)") }
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream) { $0.matchNormalize = [rule] }) { base in
                _ = try await send(base, "/v1/messages", body: request(41))
            }
        }
        let stored = try #require(try await CassetteStore(path: cassette).all().first)
        #expect(String(decoding: stored.requestBody, as: UTF8.self) == request(41))
        let (hit, miss) = try await withTapedeck(replaying(cassette) { $0.matchNormalize = [rule] }) { base in
            (
                try await send(base, "/v1/messages", body: request(42)),
                try await send(base, "/v1/messages", body: request(42).replacing("build-42", with: "release-42"))
            )
        }
        #expect(hit.header("tapedeck-source") == "recorded")
        #expect(miss.status == 404)
        #expect(
            miss.json?["error"]?["message"]?.stringValue?.contains(#""scenario:text for build-N" vs "scenario:text for release-42""#)
                == true)
        let without = try await withTapedeck(replaying(cassette)) { base in try await send(base, "/v1/messages", body: request(42)) }
        #expect(without.status == 404)
    }

    @Test func theMissDiffComparesNormalizedForms() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        try await record(.first, into: cassette)
        let second = {
            var run = ClaudeCodeRun.second
            run.prompt = "Say goodbye in one word."
            return run
        }()
        let (miss, misses) = try await withTapedeck(replaying(cassette)) { base in
            (
                try await send(base, Self.path, body: second.body(), headers: second.headers),
                try await send(base, "/_tapedeck/misses", method: .GET)
            )
        }
        #expect(miss.status == 404)
        let message = miss.json?["error"]?["message"]?.stringValue ?? ""
        // Not the session id, the date or the directory: the prompt is what differs.
        #expect(
            message.hasPrefix(
                #"no recorded interaction matches; closest differs at messages[0].content[7].text: "Say hello in one word." vs "Say goodbye in one word.""#
            ), "\(message)")
        let explained = misses.json?["data"]?.arrayValue?.first
        #expect(explained?["diff"]?["path"] == "messages[0].content[7].text")
        #expect(explained?["explanation"]?.stringValue == message)
    }

    @Test func aBadNormalizerStopsTheStartNamingTheFlag() async throws {
        let error = await #expect(throws: ConfigurationError.self) {
            _ = try await buildApplication(configuration: testConfiguration { $0.matchNormalize = ["([unclosed=>x"] }, logger: testLogger)
        }
        #expect(error?.code == .invalidMatchNormalizer)
        #expect(error?.description.contains("--match-normalize '([unclosed=>x'") == true)
    }

    // MARK: request ids

    @Test func requestIDsAreDistinctForDistinctRequestsAndTheSameOnARerun() async throws {
        let hello = #"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}"#
        let helloStream = #"{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hello"}]}"#
        let unknownModel = #"{"model":"gpt-4o","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}"#
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        @Sendable func run() async throws -> [String] {
            try await withTapedeck(testConfiguration { $0.cassettePath = cassette }) { base in
                let replies = [
                    try await send(base, "/v1/no-such-path", method: .GET),
                    try await send(base, "/v1/another-path", method: .GET),
                    try await send(base, "/v1/messages", body: unknownModel),
                    try await send(base, "/v1/messages", body: unknownModel.replacing("gpt-4o", with: "gpt-5")),
                    try await send(base, "/v1/messages", body: helloStream),
                    try await send(base, "/v1/messages", body: hello),
                    try await send(base, "/v1/messages", body: hello),
                    try await send(base, "/v1/models", method: .GET),
                    try await send(base, "/v1/models?limit=1", method: .GET),
                ]
                #expect(replies.map(\.status) == [404, 404, 404, 404, 200, 200, 200, 200, 200])
                for reply in replies where reply.status == 404 {
                    #expect(reply.json?["request_id"]?.stringValue == reply.header("request-id"))
                }
                return replies.map { $0.header("request-id") ?? "" }
            }
        }
        let ids = try await run()
        #expect(ids.allSatisfy { Identifier.isWellFormed($0, prefix: "req_") })
        #expect(Set(ids).count == ids.count, "every request its own id: \(ids)")
        #expect(try await run() == ids, "a rerun gets the same ids")
    }

    @Test func replayedRecordingsKeepTheirRecordedRequestID() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let recorded = try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                try await send(base, "/v1/messages", body: scenarioRequest("text"))
            }
        }
        let replayed = try await withTapedeck(replaying(cassette)) { base in
            [
                try await send(base, "/v1/messages", body: scenarioRequest("text")),
                try await send(base, "/v1/messages", body: scenarioRequest("text", stream: true)),
            ]
        }
        let id = try #require(recorded.header("request-id"))
        #expect(replayed.map { $0.header("request-id") } == [id, id])
    }
}
