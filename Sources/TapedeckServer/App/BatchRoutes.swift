import HTTPTypes
import Hummingbird
import MessagesAPI
import NIOCore

extension Route {
    static let batches = Route(path: "/v1/messages/batches", methods: [.get, .post], isAPI: true)
    static let batch = Route(path: "/v1/messages/batches/{id}", methods: [.get, .delete], isAPI: true)
    static let batchCancel = Route(path: "/v1/messages/batches/{id}/cancel", methods: [.post], isAPI: true)
    static let batchResults = Route(path: "/v1/messages/batches/{id}/results", methods: [.get], isAPI: true)
    /// The batches Tapedeck made and keeps in memory, per cassette.
    static let adminBatches = Route(path: adminPrefix + "batches", methods: [.get], isAPI: false)
    static let inspectorBatches = Route(path: adminPrefix + "ui/batches", methods: [.get], isAPI: false)
}

/// The Message Batches endpoints. Each call is read, matched and recorded as a path Tapedeck does not model is
/// (method, path, query, body; replayed byte for byte), so record mode forwards the whole conversation with the
/// upstream and replay gives back the same sequence of states; with nothing recorded, `BatchSource` answers.
struct BatchRoutes: Sendable {
    let reader: RequestReader
    let pipeline: Pipeline
    let book: BatchBook
    /// The source `/v1/messages` falls back to, shared: its kept answers and prompt caches are the same.
    let messages: SynthesisSource
    let recorder = BatchRecorder()

    func add(to router: Router<TapedeckRequestContext>) {
        router.on(.batches, .post) { request, context in
            try await answer(request, context) { incoming throws(APIError) in
                // Refused before anything is forwarded or recorded: a create the API refuses whole leaves the
                // cassette untouched.
                var body = incoming.body
                if body == nil { body = try Self.parsed(incoming.rawBody) }
                return .create(try BatchCreateRequest(parsing: body))
            }
        }
        router.on(.batches, .get) { request, context in try await answer(request, context) { _ in .list } }
        router.on(.batch, .get) { request, context in try await answer(request, context) { _ in .retrieve(id: Self.id(context)) } }
        router.on(.batch, .delete) { request, context in try await answer(request, context) { _ in .delete(id: Self.id(context)) } }
        router.on(.batchCancel, .post) { request, context in
            try await answer(request, context) { _ in .cancel(id: Self.id(context)) }
        }
        router.on(.batchResults, .get) { request, context in
            try await answer(request, context) { _ in .results(id: Self.id(context)) }
        }
    }

    private static func id(_ context: TapedeckRequestContext) -> String {
        (context.parameters.get("id") ?? "").removingPercentEncoding
    }

    /// A body that is not JSON gets the API's parse error.
    private static func parsed(_ raw: [UInt8]) throws(APIError) -> JSONValue {
        .object(try RequestValidator.parseBody(raw))
    }

    private func answer(
        _ request: Request, _ context: TapedeckRequestContext,
        operation: (IncomingRequest) throws(APIError) -> BatchSource.Operation
    ) async throws -> Response {
        let incoming = try await reader.read(request, context: context, hasBody: true, unmodeled: true)
        let base = Self.base(request, context)
        let operation = try operation(incoming)
        let source = BatchSource(
            operation: operation, book: book, pipeline: pipeline,
            messages: messages, delay: pipeline.configuration.batchDelay, base: base)
        let answer = try await pipeline.answer(incoming, fallback: source)
        if let record = pipeline.record {
            switch operation {
            case .create(let create): recorder.noteCreate(create, answer: answer, cassette: incoming.cassetteName)
            case .results(let id):
                let tape = try await pipeline.shelf.tape(named: incoming.cassette)
                await recorder.recordResults(of: id, answer: answer, request: incoming, tape: tape, record: record)
            default: break
            }
        }
        return Self.pointingAtServer(answer, base: base).response()
    }

    /// This server's address as the client reached it, with the `/cassettes/NAME` prefix it used.
    static func base(_ request: Request, _ context: TapedeckRequestContext) -> String {
        "http://" + (request.head.authority ?? "127.0.0.1") + (context.parameters.get("cassette").map { "/cassettes/" + $0 } ?? "")
    }

    /// A relayed or replayed batch object names the upstream in `results_url`; the client must fetch the results
    /// from Tapedeck (which forwards or replays that call too), so the origin is swapped for this server's.
    static func pointingAtServer(_ answer: Answer, base: String) -> Answer {
        guard answer.source != .synthesized, case .json(let buffer) = answer.body,
            let rewritten = ResultsURL.rewrite(Array(buffer.readableBytesView), base: base)
        else { return answer }
        var moved = Answer(
            status: answer.status, headers: answer.headers.map { ($0.name.rawName, $0.value) },
            body: .json(ByteBuffer(bytes: rewritten)), source: answer.source)
        moved.faults = answer.faults
        return moved
    }
}
