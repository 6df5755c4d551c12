import Cassette
import HTTPTypes
import MessagesAPI

/// A request as the pipeline sees it: read, parsed, redacted and fingerprinted, with no HTTP framework type
/// inside, so every answer source can be driven with plain values.
struct IncomingRequest: Sendable {
    var method: String
    /// The API path, without a `/cassettes/NAME` prefix: what is matched, stored and forwarded.
    var path: String
    var query: String?
    /// The client's headers, in order, names as sent.
    var headers: HTTPFields
    /// The body exactly as the client sent it: what an upstream gets.
    var rawBody: [UInt8]
    /// The body as JSON after redaction: what is matched and stored.
    var body: JSONValue?
    var fingerprint: Fingerprint
    /// The cassette it selects; `nil` is the default one.
    var cassette: String?
    /// Faults the request asked for in its `tapedeck-fault` header.
    var faults: Faults?
    /// Which time this fingerprint has been asked on its cassette since the last reset (1-based): set by the
    /// pipeline, so the n-th identical request replays the n-th recording.
    var occurrence = 1
    /// Completes when the client's connection closes: upstream work done for it is cancelled then.
    var client: ClientConnection
    /// What the pipeline learns about the request, for the log line and the journal.
    var trace: RequestTrace
    /// A request to a path Tapedeck does not model: forwarded and recorded as it is, replayed byte for byte.
    var isUnmodeled = false

    init(
        method: String, path: String, query: String? = nil, headers: HTTPFields = [:],
        rawBody: [UInt8] = [], body: JSONValue? = nil, fingerprint: Fingerprint, cassette: String? = nil,
        faults: Faults? = nil, client: ClientConnection = ClientConnection(), trace: RequestTrace = RequestTrace()
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.rawBody = rawBody
        self.body = body
        self.fingerprint = fingerprint
        self.cassette = cassette
        self.faults = faults
        self.client = client
        self.trace = trace
    }

    /// The name the journal and the admin API use for its cassette.
    var cassetteName: String { cassette ?? Shelf.defaultName }

    /// Whether the client asked for a stream (`"stream": true`).
    var wantsStream: Bool { body?["stream"] == .bool(true) }

    /// The model the body names, if any.
    var model: String? { body?["model"]?.stringValue }
}
