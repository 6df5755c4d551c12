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
    let synthesizer = Synthesizer()

    var kind: SourceKind { .synthesis }

    init(_ endpoint: RequestValidator.Endpoint, models: ModelRegistry) {
        self.endpoint = endpoint
        self.models = models
    }

    init(_ endpoint: RequestValidator.Endpoint, catalog: ModelCatalog) {
        self.init(endpoint, models: ModelRegistry(catalog))
    }

    var validator: RequestValidator { RequestValidator(catalog: models.catalog) }

    func check(_ request: IncomingRequest) throws(APIError) {
        _ = try validator.validateShape(request.body?.objectValue ?? JSONObject(), endpoint: endpoint, dialect: request.dialect)
    }

    func answer(_ request: IncomingRequest, tape: Tape) async throws -> Answer? {
        let parsed = try validator.validateShape(
            request.body?.objectValue ?? JSONObject(), endpoint: endpoint, dialect: request.dialect)
        let model = try validator.validateModel(parsed)
        try await FileReferences.check(request.body, tape: tape)
        if model.isInferred { request.trace.warn(ModelInfo.inferenceWarning(for: model)) }
        let headers = HeaderPolicy.made(for: request)
        switch endpoint {
        case .countTokens:
            let json: JSONValue = ["input_tokens": .int(TokenEstimator.inputTokens(for: parsed))]
            return Answer(headers: headers, body: .json(ByteBuffer(bytes: JSONWriter.bytes(json))), source: .synthesized)
        case .messages:
            let message = synthesizer.message(for: parsed, model: model, fingerprint: request.fingerprint)
            if parsed.stream {
                let events = StreamBuilder(seed: request.fingerprint.seed).events(for: message)
                return Answer(headers: headers, body: .events(events), source: .synthesized)
            }
            return Answer(headers: headers, body: .json(ByteBuffer(bytes: JSONWriter.bytes(message.json))), source: .synthesized)
        }
    }
}
