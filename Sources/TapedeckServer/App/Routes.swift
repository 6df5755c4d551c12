import HTTPTypes
import Hummingbird
import MessagesAPI
import Synthesis

/// Every path Tapedeck serves and the methods each accepts: routes are registered from this table, and every
/// other method on a known path gets the API's 405, derived from it.
struct Route: Sendable {
    let path: String
    let methods: [HTTPRequest.Method]
    /// API routes are also served under `/cassettes/NAME`, which selects a per-test cassette for SDKs that can
    /// only change their base URL.
    let isAPI: Bool

    static let messages = Route(path: "/v1/messages", methods: [.post], isAPI: true)
    static let countTokens = Route(path: "/v1/messages/count_tokens", methods: [.post], isAPI: true)
    static let models = Route(path: "/v1/models", methods: [.get], isAPI: true)
    static let model = Route(path: "/v1/models/{id}", methods: [.get], isAPI: true)
    /// Anthropic's OpenAI SDK compatibility layer.
    static let chatCompletions = Route(path: "/v1/chat/completions", methods: [.post], isAPI: true)
    static let files = Route(path: "/v1/files", methods: [.get, .post], isAPI: true)
    static let file = Route(path: "/v1/files/{id}", methods: [.get, .delete], isAPI: true)
    static let fileContent = Route(path: "/v1/files/{id}/content", methods: [.get], isAPI: true)
    /// Every other path under `/v1/`, any method: forwarded and recorded as it is, replayed byte for byte, so
    /// record mode never refuses what the upstream would answer (skills, whatever ships next).
    static let unmodeled = Route(path: "/v1/**", methods: allMethods, isAPI: true)

    static let health = admin("health", [.get])
    static let reset = admin("reset", [.post])
    static let interactions = admin("interactions", [.get])
    static let interaction = admin("interactions/{id}", [.get])
    static let journal = admin("journal", [.get])
    static let misses = admin("misses", [.get])
    static let faults = admin("faults", [.get, .post, .delete])
    static let clock = admin("clock", [.get, .post])
    static let settings = admin("settings", [.get, .put, .delete])
    static let adminFiles = admin("files", [.get])
    static let inspectorFiles = admin("ui/files", [.get])
    static let inspector = admin("ui", [.get])
    static let inspectorInteraction = admin("ui/interactions/{id}", [.get])
    static let inspectorJournal = admin("ui/journal", [.get])
    static let inspectorMisses = admin("ui/misses", [.get])

    static let all: [Route] = [
        messages, countTokens, models, model, chatCompletions, files, file, fileContent, unmodeled,
        batches, batch, batchCancel, batchResults,
        health, reset, interactions, interaction, journal, misses, faults, clock, settings, adminBatches, adminFiles,
        inspector, inspectorInteraction, inspectorJournal, inspectorMisses, inspectorBatches, inspectorFiles,
    ]

    /// The methods a route can be asked for; each one a known path does not accept gets a 405.
    static let allMethods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch, .options]

    /// Where Tapedeck's own endpoints live.
    static let adminPrefix = "/_tapedeck/"

    private static func admin(_ path: String, _ methods: [HTTPRequest.Method]) -> Route {
        Route(path: adminPrefix + path, methods: methods, isAPI: false)
    }

    /// The router paths this route is served at.
    var patterns: [RouterPath] {
        (isAPI ? ["", "/cassettes/{cassette}"] : [""]).map { RouterPath($0 + path) }
    }
}

extension RouterMethods {
    /// Registers `handler` for `route`'s `method` at each of its paths.
    func on(
        _ route: Route, _ method: HTTPRequest.Method,
        use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator
    ) {
        for pattern in route.patterns { on(pattern, method: method, use: handler) }
    }
}

/// The API routes: each reads its request and hands it to the pipeline with the source that answers when
/// nothing recorded does.
struct APIRoutes: Sendable {
    let reader: RequestReader
    let pipeline: Pipeline
    /// What synthetic answers are written from.
    let vocabulary: Vocabulary
    /// The batches Tapedeck makes, shared with the admin API.
    let batches = BatchBook()

    func add(to router: Router<TapedeckRequestContext>) {
        let models = pipeline.models
        let messages = SynthesisSource(.messages, models: models, caches: pipeline.caches, vocabulary: vocabulary)
        let countTokens = SynthesisSource(.countTokens, models: models, vocabulary: vocabulary)
        let list = CatalogSource(lookup: .list, models: models)
        router.on(.messages, .post) { request, context in try await answer(request, context, fallback: messages) }
        router.on(.countTokens, .post) { request, context in try await answer(request, context, fallback: countTokens) }
        router.on(.models, .get) { request, context in try await answer(request, context, fallback: list) }
        router.on(.model, .get) { request, context in
            let id = (context.parameters.get("id") ?? "").removingPercentEncoding
            return try await answer(request, context, fallback: CatalogSource(lookup: .retrieve(id: id), models: models))
        }
        BatchRoutes(reader: reader, pipeline: pipeline, book: batches, messages: messages).add(to: router)
        addFileRoutes(to: router)
        // Read as a path Tapedeck does not model (matched on its exact body), so that what record and auto mode
        // forwarded and recorded generically is what replay finds first; only then is it translated.
        let chat = ChatCompletionsSource(pipeline: pipeline, messages: messages)
        router.on(.chatCompletions, .post) { request, context in
            let incoming = try await reader.read(request, context: context, hasBody: true, unmodeled: true)
            return try await pipeline.answer(incoming, fallback: chat).response(over: incoming.client)
        }
        let unmodeled = UnmodeledSource()
        for method in Route.unmodeled.methods {
            router.on(.unmodeled, method) { request, context in
                let incoming = try await reader.read(request, context: context, hasBody: true, unmodeled: true)
                return try await pipeline.answer(incoming, fallback: unmodeled).response(over: incoming.client)
            }
        }
    }

    private func answer(_ request: Request, _ context: TapedeckRequestContext, fallback: some AnswerSource)
        async throws -> Response
    {
        let incoming = try await reader.read(request, context: context, hasBody: request.method == .post)
        return try await pipeline.answer(incoming, fallback: fallback).response(over: incoming.client)
    }
}

extension Router<TapedeckRequestContext> {
    /// Answers every method a known path does not accept with the API's 405.
    func refuseOtherMethods() {
        for route in Route.all {
            for method in Route.allMethods where !route.methods.contains(method) {
                on(route, method) { request, _ -> Response in
                    throw APIError.methodNotAllowed(request.method.rawValue, path: request.uri.path)
                }
            }
        }
    }
}
