import Cassette
import HTTPTypes
import Hummingbird
import MessagesAPI

/// Turns an HTTP request into the pipeline's `IncomingRequest`: the cassette it selects, its faults, its body
/// read (within the limit), parsed, redacted, normalized for matching and fingerprinted. The only place an API
/// request's HTTP form is read.
struct RequestReader: Sendable {
    let maxBodyBytes: Int
    let redactor: Redactor
    let matching: Matching
    /// Cassettes' own settings, whose matching rules replace `matching` for their requests.
    let settings: CassetteSettingsBook?
    /// API bodies read before, with what they parsed to. Parsing, redaction and fingerprinting are functions of
    /// the bytes, the path and the matcher, so a repeated request (a test suite run again, a load test) skips the
    /// parser and the hash: they were a tenth of a replayed request's time.
    private let parsed = BoundedCache<ParsedKey, Parsed>(budget: Limits.parsedBodyBytes)

    init(maxBodyBytes: Int, redactor: Redactor, matching: Matching, settings: CassetteSettingsBook? = nil) {
        self.maxBodyBytes = maxBodyBytes
        self.redactor = redactor
        self.matching = matching
        self.settings = settings
    }

    private struct ParsedKey: Hashable, Sendable {
        var body: RawBody
        var path: String
        var claudeCode: Bool
        /// The cassette settings' generation whose matching rules made it; 0: the server's rules.
        var rules: Int
    }

    private struct Parsed: Sendable {
        var body: JSONValue
        var fingerprint: Fingerprint
    }

    static let cassetteHeader = HTTPField.Name(HeaderPolicy.cassetteHeader)!  // lint: allow a valid constant header name
    static let faultHeader = HTTPField.Name(HeaderPolicy.faultHeader)!  // lint: allow a valid constant header name

    /// Reads `request`; `hasBody` is whether the route takes one (a GET's body is never read). An `unmodeled`
    /// request (a path Tapedeck does not model) may have any body, JSON or not, and is matched on its method,
    /// path, query and body (`Fingerprint(unmodeled:)`).
    func read(_ request: Request, context: TapedeckRequestContext, hasBody: Bool, unmodeled: Bool = false) async throws
        -> IncomingRequest
    {
        // The `/cassettes/NAME` prefix, else the `tapedeck-cassette` header, else the default cassette.
        let name = context.parameters.get("cassette") ?? request.headers[Self.cassetteHeader]
        if let name { try Shelf.validate(name) }
        context.trace.update { $0.cassette = name ?? Shelf.defaultName }
        let faults = try request.headers[Self.faultHeader].map { text throws(APIError) in try Faults(parsing: text) }
        var raw: [UInt8] = []
        var body: JSONValue?
        if unmodeled {
            raw = try await request.bodyBytes(upTo: maxBodyBytes)
            context.trace.update { [raw] in $0.body = raw }
            body = Interaction.json(raw).map(redactor.redact)
        } else if hasBody {
            raw = try await request.bodyBytes(upTo: maxBodyBytes)
            context.trace.update { [raw] in $0.body = raw }
        }
        var path = request.uri.path
        if let name, path.hasPrefix("/cassettes/") { path = String(path.dropFirst("/cassettes/".count + name.utf8.count)) }
        let method = request.method.rawValue
        let query = request.uri.query.flatMap { $0.isEmpty ? nil : $0 }
        let overrides = settings?.overrides(for: name)
        let matching = overrides?.matching ?? self.matching
        let matcher = matching.matcher(for: request.headers)
        let fingerprint: Fingerprint
        if unmodeled {
            fingerprint = Fingerprint(
                unmodeled: method, path: path, query: query.map(redactor.redact(query:)),
                body: body == nil ? redactor.redact(bytes: raw) : [], json: body.map(matcher.normalizer.normalize),
                ignoring: Self.unmodeledIgnoredPaths(matcher))
        } else if hasBody {
            // Only POST routes read a body, so the method is not part of the key.
            let key = ParsedKey(
                body: RawBody(bytes: raw), path: path, claudeCode: matching.isClaudeCode(request.headers),
                rules: overrides?.matching == nil ? 0 : overrides?.generation ?? 0)
            let cacheable = raw.count <= Limits.largestParsedBody
            if cacheable, let hit = parsed.value(for: key) {
                (body, fingerprint) = (hit.body, hit.fingerprint)
            } else {
                let parsedBody = redactor.redact(.object(try RequestValidator.parseBody(raw)))
                fingerprint = matcher.fingerprint(method: method, path: path, body: parsedBody)
                body = parsedBody
                // Cost: the bytes twice over, for the key and for the parsed values.
                if cacheable { parsed.set(Parsed(body: parsedBody, fingerprint: fingerprint), for: key, cost: 2 * raw.count + 256) }
            }
        } else {
            fingerprint = matcher.fingerprint(method: method, path: path, body: nil)
        }
        var incoming = IncomingRequest(
            method: method, path: path, query: query, target: request.uri.string, headers: request.headers, rawBody: raw,
            body: body, fingerprint: fingerprint, matcher: matcher, cassette: name, faults: faults, client: context.client,
            trace: context.trace)
        incoming.isUnmodeled = unmodeled
        incoming.overrides = overrides
        context.trace.update {
            $0.path = path
            $0.fingerprint = incoming.fingerprint.hex
            $0.stream = incoming.wantsStream
        }
        return incoming
    }

    /// Paths an unmodeled request's JSON body is matched without: the configured ones, but not `stream`, since
    /// such an answer is replayed as recorded and a stream cannot stand in for JSON there.
    static func unmodeledIgnoredPaths(_ matcher: RequestMatcher) -> [JSONPath] {
        matcher.ignoredPaths.filter { $0 != JSONPath(parsing: "stream") }
    }
}

/// Request bytes as a dictionary key, hashed in one pass: an array of bytes hashes byte by byte.
struct RawBody: Hashable, Sendable {
    let bytes: [UInt8]

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
