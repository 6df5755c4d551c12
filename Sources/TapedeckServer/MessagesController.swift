import Hummingbird
import MessagesAPI
import NIOCore
import Synthesis

/// `POST /v1/messages` and `POST /v1/messages/count_tokens`.
struct MessagesController: Sendable {
    let dispatcher: Dispatcher
    let validator: RequestValidator
    let synthesizer = Synthesizer()

    init(dispatcher: Dispatcher) {
        self.dispatcher = dispatcher
        self.validator = RequestValidator(catalog: dispatcher.configuration.models)
    }

    func addRoutes(to router: Router<TapedeckRequestContext>) {
        for prefix in apiPrefixes {
            router.post("\(prefix)/v1/messages") { request, context in
                let exchange = try await dispatcher.exchange(for: request, context: context, hasBody: true)
                return try await dispatcher.respond(to: exchange) { exchange in try await self.createMessage(exchange) }
            }
            router.post("\(prefix)/v1/messages/count_tokens") { request, context in
                let exchange = try await dispatcher.exchange(for: request, context: context, hasBody: true)
                return try await dispatcher.respond(to: exchange) { exchange in try await self.countTokens(exchange) }
            }
        }
    }

    /// Nothing recorded answers this request: validate it as the API would, then synthesize (or refuse).
    func createMessage(_ exchange: Dispatcher.Exchange) async throws -> Answer {
        let body = exchange.body?.objectValue ?? JSONObject()
        let parsed = try validator.validateShape(body, endpoint: .messages)
        if dispatcher.configuration.onMiss == .error { throw try await dispatcher.missError(for: exchange) }
        let model = try validator.validateModel(parsed)
        dispatcher.noteMiss(exchange, answered: "synthesized")
        let message = synthesizer.message(for: parsed, model: model, fingerprint: exchange.fingerprint)
        let headers = Self.headers(for: exchange.fingerprint)
        if parsed.stream {
            let events = StreamBuilder(seed: exchange.fingerprint.seed).events(for: message)
            return Answer(headers: headers, body: .events(events), source: .synthesized)
        }
        return Answer(headers: headers, body: .json(JSONWriter.bytes(message.json)), source: .synthesized)
    }

    func countTokens(_ exchange: Dispatcher.Exchange) async throws -> Answer {
        let body = exchange.body?.objectValue ?? JSONObject()
        let parsed = try validator.validateShape(body, endpoint: .countTokens)
        if dispatcher.configuration.onMiss == .error { throw try await dispatcher.missError(for: exchange) }
        _ = try validator.validateModel(parsed)
        dispatcher.noteMiss(exchange, answered: "synthesized")
        let json: JSONValue = ["input_tokens": .int(TokenEstimator.inputTokens(for: parsed))]
        return Answer(headers: Self.headers(for: exchange.fingerprint), body: .json(JSONWriter.bytes(json)), source: .synthesized)
    }

    /// Headers of a synthesized answer: a request id derived from the request, and an organization id.
    static func headers(for fingerprint: Fingerprint) -> [(String, String)] {
        [
            ("request-id", Identifier.make(prefix: Identifier.request, seed: fingerprint.bytes, label: "request")),
            ("anthropic-organization-id", organizationID),
        ]
    }

    /// A fixed organization id: real responses carry one, and clients may log it.
    static let organizationID = "6e0a4a5c-7d1f-4e2b-9c3d-7a7065646563"
}
