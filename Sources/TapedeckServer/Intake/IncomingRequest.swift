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
    /// The request target as sent (path, with any `/cassettes/NAME` prefix, and query): part of its request id.
    var target: String
    /// The client's headers, in order, names as sent.
    var headers: HTTPFields
    /// The body exactly as the client sent it: what an upstream gets.
    var rawBody: [UInt8]
    /// The body as JSON after redaction: what is matched and stored.
    var body: JSONValue?
    var fingerprint: Fingerprint
    /// How it was matched (ignored paths, normalization): a miss is explained with the same rules.
    var matcher: RequestMatcher
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
    /// The faults were drawn already, for the call this request is made from (a Chat Completions call's Messages
    /// request): `faults` is all there is, and nothing is drawn from `--fault` again.
    var faultsDrawn = false
    /// The cassette's own settings (`PUT /_tapedeck/settings`), when it has any: its mode, on-miss and fault plan.
    var overrides: CassetteOverrides?

    init(
        method: String, path: String, query: String? = nil, target: String? = nil, headers: HTTPFields = [:],
        rawBody: [UInt8] = [], body: JSONValue? = nil, fingerprint: Fingerprint, matcher: RequestMatcher = .standard,
        cassette: String? = nil, faults: Faults? = nil, client: ClientConnection = ClientConnection(),
        trace: RequestTrace = RequestTrace()
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.target = target ?? path + (query.map { "?" + $0 } ?? "")
        self.headers = headers
        self.rawBody = rawBody
        self.body = body
        self.fingerprint = fingerprint
        self.matcher = matcher
        self.cassette = cassette
        self.faults = faults
        self.client = client
        self.trace = trace
    }

    /// The name the journal and the admin API use for its cassette.
    var cassetteName: String { cassette ?? Shelf.defaultName }

    /// Whether the client asked for a stream (`"stream": true`).
    var wantsStream: Bool { body?["stream"] == .bool(true) }

    /// The betas and version its headers name, which decide what validation accepts.
    var dialect: RequestDialect {
        RequestDialect(
            anthropicBeta: headers[values: Self.anthropicBeta], version: headers[Self.anthropicVersion])
    }

    static let anthropicBeta = HTTPField.Name("anthropic-beta")!  // lint: allow a valid constant header name
    static let anthropicVersion = HTTPField.Name("anthropic-version")!  // lint: allow a valid constant header name

    /// The `request-id` of an answer Tapedeck makes for it (synthesized, completed from a fixture, an error): derived
    /// from the request as sent and its occurrence, so distinct requests get distinct ids and a rerun the same ones.
    var requestID: String {
        Identifier.requestID(method: method, target: target, body: rawBody, occurrence: occurrence)
    }

    /// The model the body names, if any.
    var model: String? { body?["model"]?.stringValue }
}
