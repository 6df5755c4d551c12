import Foundation
import MessagesAPI
import TapedeckServer
import TapedeckTestSupport
import Testing

/// The Message Batches routes through the real server: synthesis, then record and replay from the fake upstream.
@Suite("Message Batches routes")
struct BatchRouteTests {
    static let create =
        #"{"requests":[{"custom_id":"a","params":{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}},"#
        + #"{"custom_id":"b","params":{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hi"}]}}]}"#
    static let plainRequest = #"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}"#
    static let headers = [("content-type", "application/json"), ("x-api-key", "test"), ("anthropic-version", "2023-06-01")]

    /// create, retrieve until ended, results: the statuses seen and the results file.
    static func lifecycle(_ base: String) async throws -> (statuses: [String], results: String, id: String) {
        let made = try await send(base, "/v1/messages/batches", body: create, headers: headers)
        #expect(made.status == 200)
        let id = try #require(made.json?["id"]?.stringValue)
        var statuses = [made.json?["processing_status"]?.stringValue ?? "?"]
        var url: String?
        for _ in 0..<5 where url == nil {
            let batch = try await send(base, "/v1/messages/batches/\(id)", method: .GET, headers: headers)
            statuses.append(batch.json?["processing_status"]?.stringValue ?? "?")
            url = batch.json?["results_url"]?.stringValue
        }
        let resultsURL = try #require(url)
        #expect(resultsURL == base + "/v1/messages/batches/\(id)/results", "results are fetched from Tapedeck")
        let results = try await send(base, String(resultsURL.dropFirst(base.count)), method: .GET, headers: headers)
        #expect(results.status == 200)
        return (statuses, results.text, id)
    }

    @Test func synthesisAnswersEachRequestAsMessagesDoes() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        try await withTapedeck(
            testConfiguration {
                $0.cassettePath = cassette
                $0.batchDelay = 1
            }
        ) { base in
            let (statuses, results, id) = try await Self.lifecycle(base)
            #expect(statuses == ["in_progress", "in_progress", "ended"])
            #expect(Identifier.isWellFormed(id, prefix: MessageBatch.idPrefix))
            let lines = try results.split(separator: "\n").map { try JSONParser.parse(String($0)) }
            #expect(lines.map { $0["result"]?["type"] } == ["succeeded", "errored"])
            #expect(lines[1]["result"]?["error"]?["error"]?["message"] == "max_tokens: Field required")
            let direct = try await send(base, "/v1/messages", body: Self.plainRequest, headers: Self.headers)
            #expect(lines[0]["result"]?["message"] == direct.json)
            let twice = try await send(base, "/v1/messages/batches", body: Self.create, headers: Self.headers)
            #expect(twice.json?["id"]?.stringValue != id, "the second identical create is a new batch")
        }
        #expect(!FileManager.default.fileExists(atPath: cassette), "synthesized batches are not saved")
    }

    @Test func recordedBatchesReplayTheSameSequenceOffline() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let recorded = try await FakeUpstream.withRunning { fake, upstream in
            let run = try await withTapedeck(recording(cassette, upstream: upstream)) { base in try await Self.lifecycle(base) }
            #expect(fake.requests.filter { $0.path.hasPrefix("/v1/messages/batches") }.count == 4)
            return run
        }
        #expect(recorded.statuses == ["in_progress", "in_progress", "ended"])
        let replayed = try await withTapedeck(replaying(cassette)) { base in
            let run = try await Self.lifecycle(base)
            // The batch's succeeded answer also answers the plain call; its errored one records nothing.
            let plain = try await send(base, "/v1/messages", body: Self.plainRequest, headers: Self.headers)
            #expect(plain.status == 200)
            #expect(plain.header("tapedeck-source") == "recorded")
            let line = try JSONParser.parse(String(run.results.split(separator: "\n")[0]))
            #expect(plain.json == line["result"]?["message"])
            return run
        }
        #expect(replayed.statuses == recorded.statuses)
        #expect(replayed.results == recorded.results)
        #expect(replayed.id == recorded.id)
    }

    @Test func aCreateRefusedWholeIsNeitherForwardedNorRecorded() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        try await FakeUpstream.withRunning { fake, upstream in
            try await withTapedeck(recording(cassette, upstream: upstream)) { base in
                let duplicate = #"{"requests":[{"custom_id":"a","params":{}},{"custom_id":"a","params":{}}]}"#
                let refused = try await send(base, "/v1/messages/batches", body: duplicate, headers: Self.headers)
                #expect(refused.status == 400)
                #expect(refused.json?["error"]?["type"] == "invalid_request_error")
                let health = try await send(base, "/_tapedeck/health", method: .GET)
                #expect(health.json?["interactions"] == 0)
            }
            #expect(fake.requests.isEmpty)
        }
    }
}
