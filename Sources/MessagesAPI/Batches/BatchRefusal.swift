/// What the Message Batches endpoints refuse beyond the pydantic rules `Refusal` words (a field missing, too long,
/// of the wrong type), each with its status and where the text comes from.
///
/// Sources: ISS (a public issue quoting the API), DOC (the API reference's constraints, worded as pydantic words
/// them), TAPEDECK (no public capture of the API's text was found: Tapedeck's wording, the status the API uses
/// for the same class of error).
public enum BatchRefusal: Error, Sendable, Hashable {
    /// `requests` is an empty list.
    case noRequests
    /// Two requests share a `custom_id`.
    case duplicateCustomID(_ id: String, at: Int)
    /// No batch has this id (never made, or deleted).
    case unknownBatch(_ id: String)
    /// `DELETE` of a batch that has not ended.
    case deleteWhileProcessing(_ id: String)
    /// `cancel` of a batch that has ended.
    case cancelEnded(_ id: String)
    /// `results` of a batch that has not ended.
    case resultsNotReady(_ id: String)
    /// A list cursor naming no batch.
    case unknownCursor(_ name: String, id: String)

    public var status: Int {
        if case .unknownBatch = self { return 404 }
        return 400
    }

    /// The error message.
    public var message: String {
        switch self {
        case .noRequests: "requests: List should have at least 1 item after validation, not 0"
        case .duplicateCustomID(let id, let i):
            "requests.\(i).custom_id: Duplicate custom_id '\(id)'. Each request in a Message Batch must have a unique custom_id."
        case .unknownBatch(let id): "message_batch: \(id)"
        case .deleteWhileProcessing(let id):
            "Message Batch \(id) cannot be deleted while it is processing. Cancel it first, and delete it once it has ended."
        case .cancelEnded(let id): "Message Batch \(id) has already ended and cannot be canceled."
        case .resultsNotReady(let id): "Message Batch \(id) has not ended yet: results are available once processing has ended."
        case .unknownCursor(let name, let id): "\(name): unknown message batch id '\(id)'"
        }
    }

    /// Where the text comes from.
    public var source: String {
        switch self {
        case .noRequests: "DOC requests minItems 1, in pydantic's words"
        case .unknownBatch: "TAPEDECK (status from the API's 404 for unknown ids; wording in the form of `model: <id>`)"
        case .duplicateCustomID, .deleteWhileProcessing, .cancelEnded, .resultsNotReady, .unknownCursor:
            "TAPEDECK (the rule is documented; no capture of the API's text was found)"
        }
    }
}

extension APIError {
    /// The API's error for a refused batch call.
    public init(_ refusal: BatchRefusal) {
        self = refusal.status == 404 ? .notFound(refusal.message) : .invalidRequest(refusal.message)
    }
}
