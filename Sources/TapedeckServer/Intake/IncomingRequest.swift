import Cassette
import HTTPTypes
import MessagesAPI

/// A request as the pipeline sees it: read, parsed, redacted and fingerprinted, with no HTTP framework type
/// inside, so every answer source can be driven with plain values.
///
/// A value with its fields in one shared box, copied on write: the fields take about 470 bytes, and every
/// async function on the way holds copies of the request in its frame. Those frames come from the connection's
/// task, which keeps the deepest stack it reached for as long as it lives, so inline fields cost each open
/// connection several kilobytes; a box costs a pointer.
struct IncomingRequest: Sendable {
    private struct Fields: Sendable {
        var method: String
        var path: String
        var query: String?
        var target: String
        var headers: HTTPFields
        var rawBody: [UInt8]
        var body: JSONValue?
        var fingerprint: Fingerprint
        var matcher: RequestMatcher
        var cassette: String?
        var faults: Faults?
        var occurrence: Int = 1
        var client: ClientConnection
        var trace: RequestTrace
        var isUnmodeled: Bool = false
        var faultsDrawn: Bool = false
        var overrides: CassetteOverrides?
    }

    // `@unchecked`: a box is written only through `update`, and only while this value holds the one reference to
    // it (else it is copied first), so a box two values share is never written.
    private final class Box: @unchecked Sendable {
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var box: Box

    private mutating func update(_ change: (inout Fields) -> Void) {
        if !isKnownUniquelyReferenced(&box) { box = Box(box.fields) }
        change(&box.fields)
    }

    // The accessors are written out rather than one `@dynamicMemberLookup` subscript: a key path is
    // resolved at run time on each access, and these are read on every request.
    var method: String {
        get { box.fields.method }
        set { update { $0.method = newValue } }
    }
    /// The API path, without a `/cassettes/NAME` prefix: what is matched, stored and forwarded.
    var path: String {
        get { box.fields.path }
        set { update { $0.path = newValue } }
    }
    var query: String? {
        get { box.fields.query }
        set { update { $0.query = newValue } }
    }
    /// The request target as sent (path, with any `/cassettes/NAME` prefix, and query): part of its request id.
    var target: String {
        get { box.fields.target }
        set { update { $0.target = newValue } }
    }
    /// The client's headers, in order, names as sent.
    var headers: HTTPFields {
        get { box.fields.headers }
        set { update { $0.headers = newValue } }
    }
    /// The body exactly as the client sent it: what an upstream gets.
    var rawBody: [UInt8] {
        get { box.fields.rawBody }
        set { update { $0.rawBody = newValue } }
    }
    /// The body as JSON after redaction: what is matched and stored.
    var body: JSONValue? {
        get { box.fields.body }
        set { update { $0.body = newValue } }
    }
    var fingerprint: Fingerprint {
        get { box.fields.fingerprint }
        set { update { $0.fingerprint = newValue } }
    }
    /// How it was matched (ignored paths, normalization): a miss is explained with the same rules.
    var matcher: RequestMatcher {
        get { box.fields.matcher }
        set { update { $0.matcher = newValue } }
    }
    /// The cassette it selects; `nil` is the default one.
    var cassette: String? {
        get { box.fields.cassette }
        set { update { $0.cassette = newValue } }
    }
    /// Faults the request asked for in its `tapedeck-fault` header.
    var faults: Faults? {
        get { box.fields.faults }
        set { update { $0.faults = newValue } }
    }
    /// Which time this fingerprint has been asked on its cassette since the last reset (1-based): set by the
    /// pipeline, so the n-th identical request replays the n-th recording.
    var occurrence: Int {
        get { box.fields.occurrence }
        set { update { $0.occurrence = newValue } }
    }
    /// Completes when the client's connection closes: upstream work done for it is cancelled then.
    var client: ClientConnection {
        get { box.fields.client }
        set { update { $0.client = newValue } }
    }
    /// What the pipeline learns about the request, for the log line and the journal.
    var trace: RequestTrace {
        get { box.fields.trace }
        set { update { $0.trace = newValue } }
    }
    /// A request to a path Tapedeck does not model: forwarded and recorded as it is, replayed byte for byte.
    var isUnmodeled: Bool {
        get { box.fields.isUnmodeled }
        set { update { $0.isUnmodeled = newValue } }
    }
    /// The faults were drawn already, for the call this request is made from (a Chat Completions call's Messages
    /// request): `faults` is all there is, and nothing is drawn from `--fault` again.
    var faultsDrawn: Bool {
        get { box.fields.faultsDrawn }
        set { update { $0.faultsDrawn = newValue } }
    }
    /// The cassette's own settings (`PUT /_tapedeck/settings`), when it has any: its mode, on-miss and fault plan.
    var overrides: CassetteOverrides? {
        get { box.fields.overrides }
        set { update { $0.overrides = newValue } }
    }

    init(
        method: String, path: String, query: String? = nil, target: String? = nil, headers: HTTPFields = [:],
        rawBody: [UInt8] = [], body: JSONValue? = nil, fingerprint: Fingerprint, matcher: RequestMatcher = .standard,
        cassette: String? = nil, faults: Faults? = nil, client: ClientConnection = ClientConnection(),
        trace: RequestTrace = RequestTrace()
    ) {
        box = Box(
            Fields(
                method: method, path: path, query: query, target: target ?? path + (query.map { "?" + $0 } ?? ""),
                headers: headers, rawBody: rawBody, body: body, fingerprint: fingerprint, matcher: matcher,
                cassette: cassette, faults: faults, client: client, trace: trace))
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
