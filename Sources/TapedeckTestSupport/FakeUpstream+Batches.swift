import HTTPTypes
import Hummingbird
import MessagesAPI
import NIOCore
import Synchronization

/// The fake's Message Batches: real-shaped batch objects under its own ids (`msgbatch_…` with a `fake` seed), one
/// retrieve `in_progress` before each batch ends, results that are its Messages answer to each request, and a
/// `results_url` on its own address, as the real API names its own.
final class FakeBatches: Sendable {
    private let batches = Mutex<[MessageBatch]>([])

    /// Retrieves answered `in_progress` before a batch ends.
    static let delay = 1

    func respond(to request: Request, body: [UInt8], answer message: @Sendable (JSONValue) -> JSONValue) -> (Int, JSONValue?, [UInt8]?) {
        let parts = request.uri.path.split(separator: "/").map(String.init)  // v1 messages batches [id] [verb]
        let base = "http://" + (request.head.authority ?? "127.0.0.1")
        let method = request.method
        do {
            switch (method, parts.count, parts.last) {
            case (.post, 3, _):
                let create = try BatchCreateRequest(parsing: try? JSONParser.parse(body))
                let results = create.items.map { item -> JSONValue in
                    // The API's first complaint about a request missing a required field.
                    for field in ["max_tokens", "messages", "model"] where item.params[field] == nil {
                        return MessageBatch.errored(APIError(Refusal.missing(field)).body(requestID: "req_fake_batch"))
                    }
                    return MessageBatch.succeeded(message(item.params))
                }
                let batch = batches.withLock { batches in
                    let batch = MessageBatch(
                        id: MessageBatch.makeID(fingerprint: body, occurrence: batches.count + 1),
                        createdAt: MessageBatch.epoch + 3600 + 60 * batches.count, customIDs: create.items.map(\.customID),
                        processed: results, delay: Self.delay)
                    batches.append(batch)
                    return batch
                }
                return (200, batch.json(resultsBase: base), nil)
            case (.get, 3, _):
                let all = batches.withLock { Array($0.reversed()) }
                return (
                    200,
                    [
                        "data": .array(all.map { $0.json(resultsBase: base) }), "has_more": false,
                        "first_id": all.first.map { .string($0.id) } ?? .null, "last_id": all.last.map { .string($0.id) } ?? .null,
                    ], nil
                )
            case (.get, 4, let id?):
                return (200, try change(id) { $0.retrieve() }.json(resultsBase: base), nil)
            case (.post, 5, "cancel"):
                return (200, try change(parts[3]) { batch throws(APIError) in try batch.cancel() }.json(resultsBase: base), nil)
            case (.get, 5, "results"):
                return (200, nil, try change(parts[3]) { _ in }.resultsJSONL())
            case (.delete, 4, let id?):
                _ = try change(id) { batch throws(APIError) in try batch.checkDeletable() }
                batches.withLock { $0.removeAll { $0.id == id } }
                return (200, MessageBatch.deleted(id), nil)
            default:
                return (404, APIError.notFound("Not Found").body(requestID: "req_fake_batch"), nil)
            }
        } catch {
            return (error.status, error.body(requestID: "req_fake_batch"), nil)
        }
    }

    private func change(_ id: String, _ body: (inout MessageBatch) throws(APIError) -> Void) throws(APIError) -> MessageBatch {
        try batches.withLock { batches throws(APIError) in
            guard let i = batches.firstIndex(where: { $0.id == id }) else { throw APIError(BatchRefusal.unknownBatch(id)) }
            try body(&batches[i])
            return batches[i]
        }
    }
}
