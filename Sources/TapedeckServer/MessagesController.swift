public import Hummingbird
import MessagesAPI
import NIOCore
import Synthesis

/// `POST /v1/messages` and `POST /v1/messages/count_tokens`: parse, validate, then answer.
public struct MessagesController: Sendable {
    let configuration: TapedeckConfiguration
    let validator: RequestValidator
    let synthesizer = Synthesizer()

    public init(configuration: TapedeckConfiguration) {
        self.configuration = configuration
        self.validator = RequestValidator(catalog: configuration.models)
    }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.post("/v1/messages") { request, context in
            try await self.createMessage(request, context: context).response()
        }
        router.post("/v1/messages/count_tokens") { request, context in
            try await self.countTokens(request, context: context).response()
        }
    }

    /// Reads the body, refusing more than the configured limit with the API's 413.
    func readBody(_ request: Request) async throws -> JSONObject {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError.requestTooLarge(limit: configuration.maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.requestTooLarge(limit: configuration.maxBodyBytes)
        }
        return try buffer.withUnsafeReadableBytes { raw throws(APIError) in
            try RequestValidator.parseBody(raw.bindMemory(to: UInt8.self))
        }
    }

    func createMessage(_ request: Request, context: some RequestContext) async throws -> Answer {
        let body = try await readBody(request)
        let parsed = try validator.validateShape(body, endpoint: .messages)
        let fingerprint = Fingerprint(
            method: "POST", path: request.uri.path, body: .object(body), ignoring: configuration.ignoredPaths)
        let model = try validator.validateModel(parsed)
        let message = synthesizer.message(for: parsed, model: model, fingerprint: fingerprint)
        return synthesizedAnswer(message, stream: parsed.stream, fingerprint: fingerprint)
    }

    func synthesizedAnswer(_ message: JSONValue, stream: Bool, fingerprint: Fingerprint) -> Answer {
        let headers = [
            ("request-id", Identifier.make(prefix: Identifier.request, seed: fingerprint.bytes, label: "request")),
            ("anthropic-organization-id", Self.organizationID),
        ]
        if stream {
            let events = StreamBuilder(seed: fingerprint.seed).events(for: message)
            return Answer(headers: headers, body: .events(events), source: .synthesized)
        }
        return Answer(headers: headers, body: .json(JSONWriter.bytes(message)), source: .synthesized)
    }

    func countTokens(_ request: Request, context: some RequestContext) async throws -> Answer {
        let body = try await readBody(request)
        let parsed = try validator.validateShape(body, endpoint: .countTokens)
        _ = try validator.validateModel(parsed)
        let fingerprint = Fingerprint(
            method: "POST", path: request.uri.path, body: .object(body), ignoring: configuration.ignoredPaths)
        let json: JSONValue = ["input_tokens": .int(TokenEstimator.inputTokens(for: parsed))]
        return Answer(
            headers: [
                ("request-id", Identifier.make(prefix: Identifier.request, seed: fingerprint.bytes, label: "request")),
                ("anthropic-organization-id", Self.organizationID),
            ],
            body: .json(JSONWriter.bytes(json)),
            source: .synthesized
        )
    }

    /// A fixed organization id: real responses carry one, and clients may log it.
    static let organizationID = "6e0a4a5c-7d1f-4e2b-9c3d-7a7065646563"
}
