import Cassette
import MessagesAPI
import NIOCore

/// The Message Batches endpoints when nothing recorded answers (replay and synthesis): a batch is made at once
/// from its requests, each answered by the engine that answers `POST /v1/messages` offline, and kept in the
/// `BatchBook` for the life of the server. A batch the upstream made is recorded and replayed call by call, and
/// never reaches this source.
struct BatchSource: AnswerSource {
    enum Operation: Sendable {
        case create(BatchCreateRequest)
        case list
        case retrieve(id: String)
        case cancel(id: String)
        case delete(id: String)
        case results(id: String)
    }

    let operation: Operation
    let book: BatchBook
    let pipeline: Pipeline
    /// Answers each request that no recording answers.
    let messages: SynthesisSource
    /// Retrieves answered `in_progress` before a batch ends (`--batch-delay`).
    let delay: Int
    /// Where the server is reached for this request (with its `/cassettes/NAME` prefix): `results_url` names it.
    let base: String

    /// Its answers are Tapedeck's own, like the model catalog: never a miss (a request inside that nothing
    /// answered is noted as one, by the engine).
    var kind: SourceKind { .catalog }

    @inline(never)  // its own frame, not part of every caller's: see `AnswerSource`
    func answer(_ request: IncomingRequest, tape: Tape) async throws -> Answer? {
        let cassette = request.cassetteName
        switch operation {
        case .create(let create):
            let results = await results(of: create, for: request, tape: tape)
            let id = MessageBatch.makeID(fingerprint: request.fingerprint.bytes, occurrence: request.occurrence)
            let batch = book.add(id, to: cassette) { place in
                MessageBatch(
                    id: id, createdAt: MessageBatch.epoch + 60 * place, customIDs: create.items.map(\.customID),
                    processed: results, delay: delay)
            }
            return json(batch.json(resultsBase: base), for: request)
        case .list:
            return try list(QueryParameters.parse(request.query), for: request)
        case .retrieve(let id):
            return json(try book.update(id, in: cassette) { $0.retrieve() }.json(resultsBase: base), for: request)
        case .cancel(let id):
            return json(
                try book.update(id, in: cassette) { batch throws(APIError) in try batch.cancel() }.json(resultsBase: base), for: request)
        case .delete(let id):
            try book.delete(id, in: cassette)
            return json(MessageBatch.deleted(id), for: request)
        case .results(let id):
            let bytes = try book.batch(id, in: cassette).resultsJSONL()
            return Answer(
                headers: HeaderPolicy.made(for: request) + [("content-type", Self.resultsContentType)],
                body: .json(ByteBuffer(bytes: bytes)), source: .synthesized)
        }
    }

    /// The content type of a results file, the one the SDKs ask for (`Accept: application/binary`).
    static let resultsContentType = "application/binary"

    /// Each request's result, in order: a request that appears k times in the batch gets its k-th recording, as the
    /// k-th identical `/v1/messages` call would (no occurrence of the cassette's counters is used up).
    func results(of create: BatchCreateRequest, for request: IncomingRequest, tape: Tape) async -> [JSONValue] {
        var seen: [Fingerprint: Int] = [:]
        var results: [JSONValue] = []
        results.reserveCapacity(create.items.count)
        for item in create.items {
            var params = item.params.objectValue ?? JSONObject()
            // Batch requests are never streams: the answer is one Message.
            params["stream"] = nil
            let body = JSONValue.object(params)
            let fingerprint = request.matcher.fingerprint(method: "POST", path: Route.messages.path, body: body)
            var inner = IncomingRequest(
                method: "POST", path: Route.messages.path, headers: request.headers, rawBody: JSONWriter.bytes(body), body: body,
                fingerprint: fingerprint, matcher: request.matcher, cassette: request.cassette, client: request.client)
            let occurrence = seen[fingerprint, default: 0] + 1
            seen[fingerprint] = occurrence
            inner.occurrence = occurrence
            results.append(await pipeline.batchResult(for: inner, tape: tape, fallback: messages))
        }
        return results
    }

    func list(_ query: [String: String], for request: IncomingRequest) throws(APIError) -> Answer {
        let limit = try ListPage<MessageBatch>.limit(query["limit"])
        let (after, before) = (query["after_id"], query["before_id"])
        let all = book.newestFirst(in: request.cassetteName)
        guard let listed = ListPage.of(all, id: \.id, limit: limit, after: after, before: before) else {
            throw APIError(after.map { BatchRefusal.unknownCursor("after_id", id: $0) } ?? .unknownCursor("before_id", id: before ?? ""))
        }
        let page = listed.items
        let json: JSONValue = [
            "data": .array(page.map { $0.json(resultsBase: base) }),
            "has_more": .bool(listed.hasMore),
            "first_id": page.first.map { .string($0.id) } ?? .null,
            "last_id": page.last.map { .string($0.id) } ?? .null,
        ]
        return self.json(json, for: request)
    }

    func json(_ json: JSONValue, for request: IncomingRequest) -> Answer {
        Answer(headers: HeaderPolicy.made(for: request), body: .json(ByteBuffer(bytes: JSONWriter.bytes(json))), source: .synthesized)
    }
}

extension Pipeline {
    /// One request of a batch Tapedeck makes, answered as `POST /v1/messages` is answered offline: its recording
    /// if one matches, else synthesis (validation included), else, with `--on-miss error`, the miss error; an
    /// error becomes the request's `errored` result instead of failing the batch.
    func batchResult(for request: IncomingRequest, tape: Tape, fallback: SynthesisSource) async -> JSONValue {
        do {
            let answer: Answer
            if let replayed = try await replay.answer(request, tape: tape) {
                answer = replayed
            } else if configuration.onMiss == .synthesize {
                guard let synthesized = try await fallback.answer(request, tape: tape) else { throw APIError.api("Nothing answered.") }
                noteMiss(request, answered: "synthesized")
                answer = synthesized
            } else {
                try fallback.check(request)
                throw try await missError(for: request, tape: tape)
            }
            guard case .json(let buffer) = answer.body, let json = try? JSONParser.parse(buffer.readableBytesView) else {
                throw APIError.api("The answer to this request is not a JSON Message.")
            }
            return answer.status == 200 ? MessageBatch.succeeded(json) : MessageBatch.errored(json)
        } catch let error as APIError {
            return MessageBatch.errored(error.body(requestID: request.requestID))
        } catch {
            return MessageBatch.errored(APIError.api("\(error)").body(requestID: request.requestID))
        }
    }
}
