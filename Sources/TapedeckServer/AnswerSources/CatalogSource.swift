import Hummingbird
import MessagesAPI

/// `GET /v1/models` (paginated like the API, `has_more` always present) and `GET /v1/models/{id}`: recorded
/// answers when there are some, the catalog otherwise.
struct ModelsController: Sendable {
    let dispatcher: Dispatcher
    var catalog: ModelCatalog { dispatcher.configuration.models }

    func addRoutes(to router: Router<TapedeckRequestContext>) {
        for prefix in apiPrefixes {
            router.get("\(prefix)/v1/models") { request, context in
                let exchange = try await dispatcher.exchange(for: request, context: context, hasBody: false)
                return try await dispatcher.respond(to: exchange) { _ in try self.list(query: request.uri.queryParameters) }
            }
            router.get("\(prefix)/v1/models/{id}") { request, context in
                let exchange = try await dispatcher.exchange(for: request, context: context, hasBody: false)
                // The id as the client meant it: `%2F` and friends decoded, as they are in the message.
                let id = (context.parameters.get("id") ?? "").removingPercentEncoding
                return try await dispatcher.respond(to: exchange) { _ in try self.retrieve(id: id) }
            }
        }
    }

    func list(query: Parameters) throws(APIError) -> Answer {
        var limit = 20
        if let text = query["limit"] {
            guard let n = Int(text), (1...1000).contains(n) else {
                throw .invalidRequest("limit: Input should be between 1 and 1000")
            }
            limit = n
        }
        var models = catalog.models
        if let after = query["after_id"].map(String.init) {
            guard let i = models.firstIndex(where: { $0.id == after }) else { throw .invalidRequest("after_id: unknown model id '\(after)'") }
            models = Array(models[(i + 1)...])
        } else if let before = query["before_id"].map(String.init) {
            guard let i = models.firstIndex(where: { $0.id == before }) else { throw .invalidRequest("before_id: unknown model id '\(before)'") }
            models = Array(models[max(0, i - limit)..<i])
        }
        let page = Array(models.prefix(limit))
        let json: JSONValue = [
            "data": .array(page.map(\.json)),
            "has_more": .bool(models.count > page.count),
            "first_id": page.first.map { .string($0.id) } ?? .null,
            "last_id": page.last.map { .string($0.id) } ?? .null,
        ]
        return Self.answer(json, label: "models")
    }

    func retrieve(id: String) throws(APIError) -> Answer {
        guard let model = catalog.model(named: id) else { throw .notFound("model: \(id)") }
        return Self.answer(model.json, label: "model \(id)")
    }

    static func answer(_ json: JSONValue, label: String) -> Answer {
        Answer(
            headers: [
                ("request-id", Identifier.make(prefix: Identifier.request, seed: Array(label.utf8), label: "request")),
                ("anthropic-organization-id", MessagesController.organizationID),
            ],
            body: .json(JSONWriter.bytes(json)),
            source: .synthesized
        )
    }
}
