import Cassette
import MessagesAPI
import NIOCore

/// `GET /v1/models` (paginated like the API, `has_more` always present) and `GET /v1/models/{id}` from the
/// model catalog, when nothing recorded answers them.
struct CatalogSource: AnswerSource {
    enum Lookup: Sendable {
        /// A page of the list, from the query's `limit`, `after_id` and `before_id`.
        case list
        /// One model, by the id as the client meant it (`%2F` and friends decoded).
        case retrieve(id: String)
    }

    let lookup: Lookup
    let models: ModelRegistry

    var kind: SourceKind { .catalog }

    init(lookup: Lookup, models: ModelRegistry) {
        self.lookup = lookup
        self.models = models
    }

    init(lookup: Lookup, catalog: ModelCatalog) { self.init(lookup: lookup, models: ModelRegistry(catalog)) }

    var catalog: ModelCatalog { models.catalog }

    @inline(never)  // its own frame, not part of every caller's: see `AnswerSource`
    func answer(_ request: IncomingRequest, tape: Tape) async throws -> Answer? {
        switch lookup {
        case .list: return try list(query: QueryParameters.parse(request.query), for: request)
        case .retrieve(let id):
            let (answer, model) = try retrieve(id: id, for: request)
            if model.isInferred { request.trace.warn(ModelInfo.inferenceWarning(for: model)) }
            return answer
        }
    }

    func list(query: [String: String], for request: IncomingRequest) throws(APIError) -> Answer {
        let limit = try ListPage<ModelInfo>.limit(query["limit"])
        let (after, before) = (query["after_id"], query["before_id"])
        guard let listed = ListPage.of(catalog.models, id: \.id, limit: limit, after: after, before: before) else {
            throw after.map { .invalidRequest("after_id: unknown model id '\($0)'") }
                ?? .invalidRequest("before_id: unknown model id '\(before ?? "")'")
        }
        let page = listed.items
        let json: JSONValue = [
            "data": .array(page.map(\.json)),
            "has_more": .bool(listed.hasMore),
            "first_id": page.first.map { .string($0.id) } ?? .null,
            "last_id": page.last.map { .string($0.id) } ?? .null,
        ]
        return Self.answer(json, for: request)
    }

    func retrieve(id: String, for request: IncomingRequest) throws(APIError) -> (Answer, ModelInfo) {
        guard let model = catalog.model(named: id) else { throw .notFound("model: \(id)") }
        return (Self.answer(model.json, for: request), model)
    }

    static func answer(_ json: JSONValue, for request: IncomingRequest) -> Answer {
        Answer(
            headers: HeaderPolicy.made(for: request), body: .json(ByteBuffer(bytes: JSONWriter.bytes(json))),
            source: .synthesized)
    }
}
