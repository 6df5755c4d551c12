import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MessagesAPI
import NIOCore
import TapedeckServer
import Testing

@Suite("Messages API routes (synthesized answers)")
struct SynthesisRouteTests {
    static let hello = #"{"model":"claude-sonnet-4-5","max_tokens":256,"messages":[{"role":"user","content":"Hello"}]}"#

    @Test func answersAMessageWithTheAPIsShapeAndHeaders() async throws {
        try await withApp { client in
            try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(Self.hello)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(response.headers[.sourceHeader] == "synthesized")
                #expect(Identifier.isWellFormed(response.headers[.requestIDHeader] ?? "", prefix: "req_"))
                let json = try #require(response.body.json)
                #expect(json["type"] == "message")
                #expect(json["role"] == "assistant")
                #expect(json["content"]?.arrayValue?.first?["type"] == "text")
            }
        }
    }

    static let authStyles: [HTTPFields] = [
        [HTTPField.Name.authorization: "Bearer sk-test"],
        [
            HTTPField.Name.apiKey: "sk-test", HTTPField.Name.version: "2026-10-21",
            HTTPField.Name.beta: "token-counting-2024-11-01,made-up-beta",
        ],
        [:],
    ]

    @Test(arguments: authStyles)
    func acceptsEitherAuthStyleAnyVersionAndBeta(_ headers: HTTPFields) async throws {
        try await withApp { client in
            try await client.execute(uri: "/v1/messages?beta=true", method: .post, headers: headers, body: body(Self.hello)) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func sameRequestSameBytesAcrossServers() async throws {
        var bodies: [ByteBuffer] = []
        for _ in 0..<2 {
            let app = try await buildApplication(configuration: testConfiguration(), logger: testLogger)
            bodies.append(
                try await app.test(.router) { client in
                    try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(Self.hello)).body
                })
        }
        #expect(bodies[0] == bodies[1])
        #expect(bodies[0].readableBytes > 100)
    }

    /// A synthesized answer is kept by what it is a function of (SynthesisSource's memo): a repetition gets the
    /// same body with a request id of its own and its warning again, and the same bytes under other headers are
    /// judged again (a beta field accepted with its beta is refused without it).
    @Test func aRepeatedRequestIsAnsweredAlikeAndOtherHeadersAreJudgedAgain() async throws {
        let inferred =
            #"{"model":"claude-opus-9-1","max_tokens":64,"context_management":{"edits":[]},"messages":[{"role":"user","content":"again"}]}"#
        var beta = jsonHeaders
        beta[.beta] = "context-management-2025-06-27"
        let withBeta = beta
        try await withApp { client in
            var replies: [(ByteBuffer, String?)] = []
            for _ in 0..<2 {
                let response = try await client.execute(uri: "/v1/messages", method: .post, headers: withBeta, body: body(inferred))
                #expect(response.status == .ok)
                replies.append((response.body, response.headers[.requestIDHeader]))
            }
            #expect(replies[0].0 == replies[1].0)
            #expect(replies[0].1 != nil && replies[0].1 != replies[1].1, "each request has an id of its own")
            let refused = try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(inferred))
            #expect(refused.status == .badRequest)
            let journal = try #require(try await client.execute(uri: "/_tapedeck/journal", method: .get).body.json)
            let warned = (journal["data"]?.arrayValue ?? []).filter { $0["warnings"]?.arrayValue?.isEmpty == false }
            #expect(warned.count == 2, "each answered repetition carries the inferred model's warning")
        }
    }

    /// Answers that depend on the prompt cache are made each time, even when the body spells `cache_control`
    /// with an escape (the memo's byte search alone would miss it): the second request reads what the first wrote.
    @Test func aCachedPromptIsReadOnTheSecondRequestHoweverItsKeyIsSpelled() async throws {
        let system = Array(repeating: "Tapedeck keeps every answer it recorded and replays it offline.", count: 400)
            .joined(separator: " ")
        let request =
            #"{"model":"claude-sonnet-4-5","max_tokens":32,"system":[{"type":"text","text":"\#(system)","cache\u005fcontrol":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}"#
        try await withApp { client in
            var usages: [JSONValue] = []
            for _ in 0..<2 {
                let response = try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(request))
                #expect(response.status == .ok)
                usages.append(try #require(response.body.json?["usage"]))
            }
            #expect((usages[0]["cache_creation_input_tokens"]?.intValue ?? 0) > 0, "\(usages[0])")
            #expect(usages[0]["cache_read_input_tokens"] == 0)
            #expect(usages[1]["cache_read_input_tokens"] == usages[0]["cache_creation_input_tokens"], "\(usages[1])")
        }
    }

    @Test func streamAndJSONCarryTheSameMessage() async throws {
        try await withApp { client in
            let request =
                #"{"model":"claude-sonnet-4-5","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"stop_sequences":["zz"],"messages":[{"role":"user","content":"Explain tapes"}]}"#
            let streamed = request.replacingOccurrences(of: #"{"model""#, with: #"{"stream":true,"model""#)
            let plain = try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(request))
            let stream = try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(streamed))
            #expect(stream.headers[.contentType] == "text/event-stream; charset=utf-8")
            #expect(stream.headers[.cacheControl] == "no-cache")
            let events = SSEParser.parse(Array(stream.body.readableBytesView))
            #expect(events.first?.name == "message_start")
            #expect(events.last?.name == "message_stop")
            #expect(stream.body.text.hasSuffix("\n\n"))
            #expect(!stream.body.text.contains("\r"))
            let assembled = try #require(MessageAssembler.assemble(events).assembled)
            #expect(assembled == plain.body.json)
        }
    }

    @Test func countTokensEqualsUsageInputTokens() async throws {
        try await withApp { client in
            let count = #"{"model":"claude-sonnet-4-5","system":"Be brief.","messages":[{"role":"user","content":"Hello there"}]}"#
            let create =
                #"{"model":"claude-sonnet-4-5","max_tokens":99,"system":"Be brief.","messages":[{"role":"user","content":"Hello there"}]}"#
            let counted = try await client.execute(uri: "/v1/messages/count_tokens", method: .post, headers: jsonHeaders, body: body(count))
            let created = try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(create))
            let tokens = try #require(counted.body.json?["input_tokens"]?.intValue)
            #expect(tokens > 0)
            #expect(created.body.json?["usage"]?["input_tokens"]?.intValue == tokens)
            #expect(counted.body.json?.objectValue?.keys == ["input_tokens"])
        }
    }

    @Test func listsAndRetrievesModels() async throws {
        try await withApp { client in
            let list = try await client.execute(uri: "/v1/models?limit=100", method: .get)
            let json = try #require(list.body.json)
            let ids = json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            for id in ["claude-opus-4-7", "deepseek-v4-pro", "kimi-k2.6", "claude-sonnet-4-5-20250929", "claude-3-7-sonnet-20250219"] {
                #expect(ids.contains(id))
            }
            #expect(json["has_more"] == false)
            #expect(json["first_id"]?.stringValue == ids.first)
            let page = try #require(try await client.execute(uri: "/v1/models?limit=2", method: .get).body.json)
            #expect(page["has_more"] == true)
            let next = try #require(
                try await client.execute(uri: "/v1/models?limit=100&after_id=\(page["last_id"]!.stringValue!)", method: .get).body.json)
            #expect(next["data"]?.arrayValue?.count == ids.count - 2)
            let one = try await client.execute(uri: "/v1/models/claude-sonnet-4-5", method: .get)
            #expect(one.body.json?["id"] == "claude-sonnet-4-5-20250929")
            try expectEnvelope(try await client.execute(uri: "/v1/models/nope", method: .get), status: 404, type: "not_found_error")
        }
    }

    @Test func healthAnswers() async throws {
        try await withApp { client in
            let response = try await client.execute(uri: "/_tapedeck/health", method: .get)
            #expect(response.status == .ok)
            #expect(response.body.json?["mode"] == "replay")
        }
    }
}

@Suite("Errors as the API shows them")
struct ErrorRouteTests {
    @Test func unknownPathAndWrongMethod() async throws {
        try await withApp { client in
            try expectEnvelope(try await client.execute(uri: "/v1/nope", method: .get), status: 404, type: "not_found_error")
            try expectEnvelope(try await client.execute(uri: "/v1/messages", method: .get), status: 405, type: "invalid_request_error")
            try expectEnvelope(try await client.execute(uri: "/v1/models", method: .post), status: 405, type: "invalid_request_error")
        }
    }

    @Test(arguments: [
        ("{", "There was an error parsing the body of your request: unexpected end of input at byte 1"),
        ("[]", "Input should be a valid dictionary or object to extract fields from"),
        (#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#, "messages: at least one message is required"),
        (#"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"x"}]}"#, "max_tokens: Field required"),
    ])
    func badBodiesGet400(_ text: String, _ message: String) async throws {
        try await withApp { client in
            let response = try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(text))
            try expectEnvelope(response, status: 400, type: "invalid_request_error", message: message)
        }
    }

    @Test func invalidUTF8AndDeepNestingGet400() async throws {
        try await withApp { client in
            var bad = ByteBuffer(string: #"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":""#)
            bad.writeBytes([0xFF, 0xFE])
            bad.writeString(#""}]}"#)
            try expectEnvelope(
                try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: bad), status: 400,
                type: "invalid_request_error")
            let deep = String(repeating: #"{"a":"#, count: 50_000) + "1" + String(repeating: "}", count: 50_000)
            try expectEnvelope(
                try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(deep)), status: 400,
                type: "invalid_request_error")
        }
    }

    @Test func unknownModelIs404() async throws {
        try await withApp { client in
            let text = #"{"model":"nope-1","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#
            try expectEnvelope(
                try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(text)),
                status: 404, type: "not_found_error", message: "model: nope-1")
        }
        // An Anthropic-shaped id is served unless --strict-models (ModelCatalogRouteTests); strict, it is a 404 too.
        try await withApp({ $0.strictModels = true }) { client in
            let text = #"{"model":"claude-nope","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#
            try expectEnvelope(
                try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(text)),
                status: 404, type: "not_found_error", message: "model: claude-nope")
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await withApp({ $0.maxBodyBytes = 1000 }) { client in
            let text =
                #"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":""# + String(repeating: "x", count: 2000)
                + #""}]}"#
            try expectEnvelope(
                try await client.execute(uri: "/v1/messages", method: .post, headers: jsonHeaders, body: body(text)),
                status: 413, type: "request_too_large")
        }
    }
}
