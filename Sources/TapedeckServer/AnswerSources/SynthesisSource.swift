import Cassette
import MessagesAPI
import NIOCore
import Synthesis

/// A deterministic answer for `POST /v1/messages` and `POST /v1/messages/count_tokens` when nothing recorded
/// answers: the request is validated as the API would, then a Message (JSON or stream) or a token count is made,
/// seeded by the fingerprint.
///
/// Only this source validates: recorded and upstream answers are the real API's own verdicts on the request.
struct SynthesisSource: AnswerSource {
    let endpoint: RequestValidator.Endpoint
    /// The models now: the validator of each request is made from this, so learned models count at once.
    let models: ModelRegistry
    let synthesizer: Synthesizer
    /// The prompt caches answers account against; `nil`: no cache use is reported.
    var caches: PromptCacheBook?
    /// Answers made before, by what they are a function of: the body as sent, the fingerprint that seeds them,
    /// the headers' dialect and the catalog they were validated against. Making an answer (validation, text,
    /// the stream's events) was three quarters of a synthesized request's time; a repeated request (a test run
    /// again, a load test) now costs a lookup. Only what is the same for every repetition is kept: the request
    /// id is made for each request.
    private let made = BoundedCache<MadeKey, Made>(budget: Limits.preparedAnswerBytes / 4)

    private struct MadeKey: Hashable, Sendable {
        var body: RawBody
        var fingerprint: String
        var dialect: RequestDialect
        var catalog: Int
    }

    private struct Made: Sendable {
        var body: Answer.Body
        var warning: String?
        /// Input and output tokens, for the rate limiter.
        var tokens: (input: Int, output: Int)?
    }

    var kind: SourceKind { .synthesis }

    init(_ endpoint: RequestValidator.Endpoint, models: ModelRegistry, caches: PromptCacheBook? = nil, vocabulary: Vocabulary) {
        self.endpoint = endpoint
        self.models = models
        self.caches = caches
        self.synthesizer = Synthesizer(vocabulary: vocabulary)
    }

    init(_ endpoint: RequestValidator.Endpoint, catalog: ModelCatalog, vocabulary: Vocabulary) {
        self.init(endpoint, models: ModelRegistry(catalog), vocabulary: vocabulary)
    }

    var validator: RequestValidator { RequestValidator(catalog: models.catalog) }

    func check(_ request: IncomingRequest) throws(APIError) {
        _ = try validator.validateShape(request.body?.objectValue ?? JSONObject(), endpoint: endpoint, dialect: request.dialect)
    }

    @inline(never)  // its own frame, not part of every caller's: see `AnswerSource`
    func answer(_ request: IncomingRequest, tape: Tape) async throws -> Answer? {
        let (catalog, generation) = models.snapshot
        let dialect = request.dialect
        let key = MadeKey(
            body: RawBody(bytes: request.rawBody), fingerprint: request.fingerprint.hex, dialect: dialect, catalog: generation)
        // An answer that depends on more than the request (the prompt cache's state, a forced stop reason) is
        // made each time; the byte search keeps that check off the parsed body.
        let keeps =
            request.rawBody.count <= Limits.largestParsedBody && request.faults?.stop == nil
            && !Self.mentionsCacheControl(request.rawBody, parsed: request.body)
        let made: Made
        if keeps, let hit = self.made.value(for: key) {
            made = hit
        } else {
            made = try make(request, validator: RequestValidator(catalog: catalog), dialect: dialect)
            if keeps { self.made.set(made, for: key, cost: Answer(body: made.body, source: .synthesized).size + 2 * request.rawBody.count) }
        }
        // After validation, as the API answers; never kept, since files come and go in the cassette.
        try await FileReferences.check(request.body, tape: tape)
        if let warning = made.warning { request.trace.warn(warning) }
        var answer = Answer(headers: HeaderPolicy.made(for: request), body: made.body, source: .synthesized)
        answer.tokens = made.tokens
        return answer
    }

    static let cacheControlKey = Array("\"cache_control\"".utf8)

    /// Whether the body names `cache_control` anywhere: the key as bytes, or, in a body with `\u` escapes (one
    /// could spell the key), among the parsed keys.
    static func mentionsCacheControl(_ bytes: [UInt8], parsed: JSONValue?) -> Bool {
        if contains(cacheControlKey, in: bytes) { return true }
        guard contains(unicodeEscape, in: bytes), let parsed else { return false }
        return hasKey("cache_control", in: parsed)
    }

    static let unicodeEscape = Array("\\u".utf8)

    static func contains(_ needle: [UInt8], in bytes: [UInt8]) -> Bool {
        guard let first = needle.first, bytes.count >= needle.count else { return false }
        return bytes.withUnsafeBufferPointer { buffer in
            var i = 0
            while i <= buffer.count - needle.count {
                if buffer[i] == first, buffer[i..<(i + needle.count)].elementsEqual(needle) { return true }
                i += 1
            }
            return false
        }
    }

    static func hasKey(_ key: String, in value: JSONValue) -> Bool {
        switch value {
        case .object(let object): object.entries.contains { $0.key == key || hasKey(key, in: $0.value) }
        case .array(let items): items.contains { hasKey(key, in: $0) }
        default: false
        }
    }

    /// Validates `request` and makes its answer's body.
    private func make(_ request: IncomingRequest, validator: RequestValidator, dialect: RequestDialect) throws(APIError) -> Made {
        let parsed = try validator.validateShape(request.body?.objectValue ?? JSONObject(), endpoint: endpoint, dialect: dialect)
        let model = try validator.validateModel(parsed)
        let warning = model.isInferred ? ModelInfo.inferenceWarning(for: model) : nil
        switch endpoint {
        case .countTokens:
            let json: JSONValue = ["input_tokens": .int(TokenEstimator.inputTokens(for: parsed))]
            return Made(body: .json(ByteBuffer(bytes: JSONWriter.bytes(json))), warning: warning)
        case .messages:
            var message = synthesizer.message(for: parsed, model: model, fingerprint: request.fingerprint)
            ServerToolTurn.apply(to: &message, request: parsed, fingerprint: request.fingerprint)
            if let caches {
                message.usage = caches.usage(message.usage, for: parsed, model: model.id, cassette: request.cassetteName)
            }
            request.faults?.stop?.apply(to: &message)
            let tokens = (message.usage.inputTokens + (message.usage.cacheCreationInputTokens ?? 0), message.usage.outputTokens)
            if parsed.stream {
                return Made(
                    body: .events(StreamBuilder(seed: request.fingerprint.seed).events(for: message)), warning: warning, tokens: tokens)
            }
            return Made(body: .json(ByteBuffer(bytes: JSONWriter.bytes(message.json))), warning: warning, tokens: tokens)
        }
    }
}
