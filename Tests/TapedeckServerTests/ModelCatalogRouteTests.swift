import AsyncHTTPClient
import Cassette
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MessagesAPI
import NIOCore
import TapedeckTestSupport
import Testing

@testable import TapedeckServer

@Suite("Models: unknown claude ids, --models, --strict-models, learning")
struct ModelCatalogRouteTests {
    static func ask(_ model: String, maxTokens: Int = 5) -> ByteBuffer {
        body(#"{"model":"\#(model)","max_tokens":\#(maxTokens),"messages":[{"role":"user","content":"hi"}]}"#)
    }

    @Test func anUnknownClaudeIDIsServedWithAWarningInTheJournal() async throws {
        try await withApp { client in
            let response = try await client.execute(
                uri: "/v1/messages", method: .post, headers: jsonHeaders, body: Self.ask("claude-opus-9-1"))
            #expect(response.status == .ok)
            #expect(response.body.json?["model"] == "claude-opus-9-1", "answers carry the id as given")
            let retrieved = try await client.execute(uri: "/v1/models/claude-opus-9-1", method: .get)
            #expect(retrieved.status == .ok)
            #expect(retrieved.body.json?["display_name"] == "Claude Opus 9.1")
            #expect(retrieved.body.json?["max_tokens"] == 128_000, "its line's newest model's limit")
            let journal = try #require(try await client.execute(uri: "/_tapedeck/journal", method: .get).body.json)
            let entries = journal["data"]?.arrayValue ?? []
            let warnings = entries.flatMap { $0["warnings"]?.arrayValue ?? [] }.compactMap(\.stringValue)
            #expect(warnings.count == 2, "\(entries)")
            #expect(warnings.allSatisfy { $0.contains("claude-opus-9-1") && $0.contains("--strict-models") })
            // A known model answers without one.
            _ = try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: Self.ask("claude-opus-4-7"))
            let after = try #require(try await client.execute(uri: "/_tapedeck/journal", method: .get).body.json)
            let all = after["data"]?.arrayValue ?? []
            let known = try #require(all.first { $0["path"] == "/v1/messages" && $0["warnings"]?.arrayValue?.isEmpty == true })
            #expect(known["status"] == 200)
            // Inferred limits are still limits: over its line's max_tokens is the API's 400.
            let over = try await client.execute(
                uri: "/v1/messages", method: .post, headers: jsonHeaders, body: Self.ask("claude-opus-9-1", maxTokens: 200_000))
            #expect(over.status == .badRequest)
        }
    }

    @Test func strictModelsRefusesUnknownClaudeIDs() async throws {
        try await withApp({ $0.strictModels = true }) { client in
            try expectEnvelope(
                try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: Self.ask("claude-opus-9-1")),
                status: 404, type: "not_found_error", message: "model: claude-opus-9-1")
            try expectEnvelope(
                try await client.execute(uri: "/v1/models/claude-opus-9-1", method: .get), status: 404, type: "not_found_error",
                message: "model: claude-opus-9-1")
            // The SDK's own ids are in the catalog, strict or not.
            let known = try await client.execute(
                uri: "/v1/messages", method: .post, headers: jsonHeaders, body: Self.ask("claude-sonnet-5-5"))
            #expect(known.status == .ok)
        }
    }

    @Test func otherUnknownIDsKeepTheAPIs404() async throws {
        try await withApp { client in
            try expectEnvelope(
                try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: Self.ask("gpt-9")),
                status: 404, type: "not_found_error", message: "model: gpt-9")
            try expectEnvelope(try await client.execute(uri: "/v1/models/gpt-9", method: .get), status: 404, type: "not_found_error")
        }
    }

    @Test func aModelsFileAddsAndOverridesEntries() async throws {
        let extra = try ModelInfo.models(
            in: [
                ["id": "house-model-1", "display_name": "House Model", "max_tokens": 100],
                ["id": "claude-opus-4-7", "display_name": "Opus Overridden", "max_tokens": 10],
            ],
            knowing: ModelCatalog.standard.models)
        try await withApp({
            $0.models = ModelCatalog.standard.adding(extra)
            $0.strictModels = true
        }) { client in
            let list = try #require(try await client.execute(uri: "/v1/models?limit=1000", method: .get).body.json)
            let data = list["data"]?.arrayValue ?? []
            #expect(data.first?["id"] == "house-model-1")
            #expect(data.first { $0["id"] == "claude-opus-4-7" }?["display_name"] == "Opus Overridden")
            let ok = try await client.execute(
                uri: "/v1/messages", method: .post, headers: jsonHeaders, body: Self.ask("house-model-1", maxTokens: 100))
            #expect(ok.status == .ok)
            #expect(ok.body.json?["model"] == "house-model-1")
            let over = try await client.execute(
                uri: "/v1/messages", method: .post, headers: jsonHeaders, body: Self.ask("claude-opus-4-7", maxTokens: 11))
            #expect(over.status == .badRequest, "the overriding entry's max_tokens applies")
        }
    }

    @Test func recordingLearnsModelsFromTheUpstream() async throws {
        try await withTemporaryDirectory { directory in
            try await FakeUpstream.withRunning { _, upstream in
                var configuration = TapedeckConfiguration()
                configuration.mode = .record
                configuration.upstream = upstream
                configuration.strictModels = true
                configuration.cassettePath = directory.file("default.sqlite")
                let tape = try await Tape(path: configuration.cassettePath, create: true)
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                defer { _ = client.shutdown() }
                let models = ModelRegistry(configuration.startingCatalog)
                let record = RecordSource(
                    client: client, upstream: upstream, redactor: try Redactor(), upstreamKey: nil, maxRecordingBytes: 1 << 20,
                    logger: Logger(label: "test"), models: models)
                let pipeline = Pipeline(
                    configuration: configuration, shelf: Shelf(defaultTape: tape, directory: directory.path, create: true), record: record,
                    models: models)
                let gateway = FakeUpstream.unknownModelID
                #expect(pipeline.models.catalog.model(named: gateway) == nil)
                let list = try AnswerSourceTests.request("", path: "/v1/models", method: "GET")
                let listed = try await pipeline.answer(list, fallback: CatalogSource(lookup: .list, models: models))
                #expect(listed.source == .proxied)
                let learned = try #require(pipeline.models.catalog.model(named: gateway))
                #expect(learned.maxOutputTokens == 4_096)
                #expect(learned.displayName == "Fake Gateway Model 1")
                // What was learned is what validation and the catalog use now.
                let synthesis = SynthesisSource(.messages, models: models, vocabulary: try SynthesisVocabulary.loadBundled())
                let asked = try AnswerSourceTests.request(
                    #"{"model":"\#(gateway)","max_tokens":4096,"messages":[{"role":"user","content":"hi"}]}"#)
                #expect(try await synthesis.answer(asked, tape: tape)?.status == 200)
                let retrieved = try CatalogSource(lookup: .retrieve(id: gateway), models: models).retrieve(id: gateway, for: asked).0
                guard case .json(let bytes) = retrieved.body else { throw TestFailure("not JSON") }
                #expect(bytes.json?["created_at"] == "2026-11-01T00:00:00Z", "the upstream's own object")
                // A message the upstream answered for a model nobody listed teaches its id.
                var named = try AnswerSourceTests.request(AnswerSourceTests.hello)
                named.headers[HTTPField.Name("fake-model")!] = "claude-sonnet-9-20301231"
                let answer = try await pipeline.answer(
                    named, fallback: SynthesisSource(.messages, models: models, vocabulary: try SynthesisVocabulary.loadBundled()))
                #expect(answer.source == .proxied)
                let fromMessage = try #require(pipeline.models.catalog.model(named: "claude-sonnet-9-20301231"))
                #expect(!fromMessage.isInferred)
                #expect(fromMessage.line == "sonnet")
            }
        }
    }

    @Test func replayedModelListsTeachValidationToo() async throws {
        let cassette = temporaryCassette()
        defer { removeTemporaryCassette(cassette) }
        let gateway = FakeUpstream.unknownModelID
        let ask = #"{"model":"\#(gateway)","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}"#
        try await FakeUpstream.withRunning { _, upstream in
            try await withTapedeck(
                testConfiguration {
                    $0.mode = .record
                    $0.cassettePath = cassette
                    $0.upstream = upstream
                }
            ) { base in
                let listed = try await send(base, "/v1/models", method: .GET)
                #expect(listed.status == 200)
            }
        }
        try await withTapedeck(
            testConfiguration {
                $0.cassettePath = cassette
                $0.strictModels = true
            }
        ) { base in
            let before = try await send(base, "/v1/messages", body: ask, headers: [("content-type", "application/json")])
            #expect(before.status == 404, "nothing has listed \(gateway) yet")
            let listed = try await send(base, "/v1/models", method: .GET)
            #expect(listed.header("tapedeck-source") == "recorded")
            let after = try await send(base, "/v1/messages", body: ask, headers: [("content-type", "application/json")])
            #expect(after.status == 200)
            #expect(after.header("tapedeck-source") == "synthesized")
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
