/// A Message Batch and its life: `in_progress` for as many retrieves as its delay says, then `ended`; a cancel
/// before the end passes through `canceling` and cancels every request. Pure state, no clock: times are seconds on
/// a fixed epoch (the creation time a function of the batch's place in the run), advanced one second per retrieve.
public struct MessageBatch: Sendable, Equatable {
    public enum Status: String, Sendable {
        case inProgress = "in_progress"
        case canceling
        case ended
    }

    public let id: String
    /// Seconds since the Unix epoch.
    public let createdAt: Int
    /// The requests' ids, in the order sent.
    public let customIDs: [String]
    /// What each request's processing gives (`succeeded` or `errored` result objects), in request order; shown once
    /// the batch ends.
    let processed: [JSONValue]
    public private(set) var status: Status = .inProgress
    /// Retrieves still answered `in_progress`.
    public private(set) var pendingRetrieves: Int
    public private(set) var cancelInitiatedAt: Int?
    public private(set) var endedAt: Int?
    /// Seconds since creation, on the batch's own clock.
    private var elapsed = 0

    /// The id prefix [PY types/messages/message_batch.py examples: `msgbatch_…`].
    public static let idPrefix = "msgbatch_"
    /// Where Tapedeck's batch clock starts: 2026-01-01T00:00:00Z.
    public static let epoch = 1_767_225_600
    /// A batch expires 24 hours after creation [PY `expires_at`].
    public static let lifetime = 86_400

    /// - Parameters:
    ///   - processed: One `result` object per request, in order.
    ///   - delay: Retrieves answered `in_progress` before the batch ends.
    public init(id: String, createdAt: Int, customIDs: [String], processed: [JSONValue], delay: Int) {
        self.id = id
        self.createdAt = createdAt
        self.customIDs = customIDs
        self.processed = processed
        self.pendingRetrieves = max(0, delay)
    }

    /// A retrieve: the batch moves on by one step (and one second).
    public mutating func retrieve() {
        switch status {
        case .inProgress where pendingRetrieves > 0:
            pendingRetrieves -= 1
            elapsed += 1
        case .inProgress, .canceling:
            elapsed += 1
            status = .ended
            endedAt = createdAt + elapsed
        case .ended:
            break
        }
    }

    /// Starts a cancellation; a batch already canceling stays so.
    public mutating func cancel() throws(APIError) {
        switch status {
        case .inProgress:
            status = .canceling
            cancelInitiatedAt = createdAt + elapsed
        case .canceling:
            break
        case .ended:
            throw APIError(BatchRefusal.cancelEnded(id))
        }
    }

    /// Refuses to delete a batch that is still processing.
    public func checkDeletable() throws(APIError) {
        if status != .ended { throw APIError(BatchRefusal.deleteWhileProcessing(id)) }
    }

    /// Each request's result as it stands: its processed result once ended, `canceled` if the batch was canceled.
    public var results: [JSONValue] {
        cancelInitiatedAt == nil ? processed : Array(repeating: ["type": "canceled"], count: processed.count)
    }

    /// The results file: one `{"custom_id", "result"}` line per request, in request order.
    public func resultsJSONL() throws(APIError) -> [UInt8] {
        guard status == .ended else { throw APIError(BatchRefusal.resultsNotReady(id)) }
        var out: [UInt8] = []
        for (customID, result) in zip(customIDs, results) {
            JSONWriter.write(["custom_id": .string(customID), "result": result], into: &out, canonical: false)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// The `request_counts` object: every request `processing` until the batch ends, then tallied by result type.
    public var requestCounts: JSONValue {
        var counts = ["processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0]
        if status == .ended {
            for result in results { counts[result["type"]?.stringValue ?? "errored", default: 0] += 1 }
        } else {
            counts["processing"] = customIDs.count
        }
        return .object(JSONObject(["processing", "succeeded", "errored", "canceled", "expired"].map { ($0, .int(counts[$0] ?? 0)) }))
    }

    /// The `message_batch` object [PY types/messages/message_batch.py], with `results_url` under `resultsBase`
    /// (the server's own address, which the SDK fetches the results from) once ended.
    public func json(resultsBase: String) -> JSONValue {
        func time(_ seconds: Int?) -> JSONValue { seconds.map { .string(Self.timestamp($0)) } ?? .null }
        return [
            "id": .string(id), "type": "message_batch", "processing_status": .string(status.rawValue),
            "request_counts": requestCounts, "ended_at": time(endedAt), "created_at": time(createdAt),
            "expires_at": time(createdAt + Self.lifetime), "archived_at": .null, "cancel_initiated_at": time(cancelInitiatedAt),
            "results_url": status == .ended ? .string(resultsBase + Self.resultsPath(id)) : .null,
        ]
    }

    /// The `message_batch_deleted` object [PY types/messages/deleted_message_batch.py].
    public static func deleted(_ id: String) -> JSONValue { ["id": .string(id), "type": "message_batch_deleted"] }

    /// The path of a batch's results file.
    public static func resultsPath(_ id: String) -> String { "/v1/messages/batches/\(id)/results" }

    /// RFC 3339 in the API's form, with microseconds: `2026-01-01T00:00:05.000000Z`.
    public static func timestamp(_ seconds: Int) -> String {
        RFC3339.string(unixSeconds: Int64(seconds), fraction: ".000000")
    }

    /// The deterministic id of a batch made from a create request with this fingerprint, the `occurrence`-th time.
    public static func makeID(fingerprint: [UInt8], occurrence: Int) -> String {
        Identifier.make(prefix: idPrefix, seed: fingerprint, label: "\(occurrence)")
    }

    /// A results line for a request answered with `message`.
    public static func succeeded(_ message: JSONValue) -> JSONValue { ["type": "succeeded", "message": message] }

    /// A results line for a request answered with an error; `error` is the API's whole error body.
    public static func errored(_ error: JSONValue) -> JSONValue { ["type": "errored", "error": error] }
}
