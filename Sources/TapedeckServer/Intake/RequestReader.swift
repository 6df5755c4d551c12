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

    static let cassetteHeader = HTTPField.Name(HeaderPolicy.cassetteHeader)!  // lint: allow a valid constant header name
    static let faultHeader = HTTPField.Name(HeaderPolicy.faultHeader)!  // lint: allow a valid constant header name

    /// Reads `request`; `hasBody` is whether the route takes one (a GET's body is never read).
    func read(_ request: Request, context: TapedeckRequestContext, hasBody: Bool) async throws -> IncomingRequest {
        // The `/cassettes/NAME` prefix, else the `tapedeck-cassette` header, else the default cassette.
        let name = context.parameters.get("cassette") ?? request.headers[Self.cassetteHeader]
        if let name { try Shelf.validate(name) }
        context.trace.update { $0.cassette = name ?? Shelf.defaultName }
        let faults = try request.headers[Self.faultHeader].map { text throws(APIError) in try Faults(parsing: text) }
        var raw: [UInt8] = []
        var body: JSONValue?
        if hasBody {
            raw = try await request.bodyBytes(upTo: maxBodyBytes)
            context.trace.update { [raw] in $0.body = raw }
            body = redactor.redact(.object(try RequestValidator.parseBody(raw)))
        }
        var path = request.uri.path
        if let name, path.hasPrefix("/cassettes/") { path = String(path.dropFirst("/cassettes/".count + name.utf8.count)) }
        let method = request.method.rawValue
        let matcher = matching.matcher(for: request.headers)
        let incoming = IncomingRequest(
            method: method, path: path, query: request.uri.query.flatMap { $0.isEmpty ? nil : $0 }, target: request.uri.string,
            headers: request.headers, rawBody: raw, body: body,
            fingerprint: matcher.fingerprint(method: method, path: path, body: body), matcher: matcher,
            cassette: name, faults: faults, client: context.client, trace: context.trace)
        context.trace.update {
            $0.path = path
            $0.fingerprint = incoming.fingerprint.hex
            $0.stream = incoming.wantsStream
        }
        return incoming
    }
}
