import Cassette
import Hummingbird
import Logging
import MessagesAPI
import NIOCore

/// The request path every API route shares: read the body, redact, fingerprint, then replay a recording,
/// forward and record, or fall back to the route's own answer (synthesis, the model catalog).
final class Dispatcher: Sendable {
    let configuration: TapedeckConfiguration
    let tape: Tape
    let proxy: RecordProxy?
    let redactor: Redactor
    let replayer: Replayer

    init(configuration: TapedeckConfiguration, tape: Tape, proxy: RecordProxy?, redactor: Redactor) {
        self.configuration = configuration
        self.tape = tape
        self.proxy = proxy
        self.redactor = redactor
        self.replayer = Replayer(pace: configuration.pace, speed: configuration.speed, catalog: configuration.models)
    }

    /// A request whose body has been read and parsed.
    struct Exchange: Sendable {
        var method: String
        var path: String
        var query: String?
        var request: Request
        var rawBody: [UInt8]
        /// The body as JSON after redaction: what is matched and stored.
        var body: JSONValue?
        var fingerprint: Fingerprint

        var wantsStream: Bool { body?["stream"] == .bool(true) }
    }

    /// Reads and parses the body (when the route has one), refusing more than the configured limit.
    func exchange(for request: Request, hasBody: Bool) async throws -> Exchange {
        var raw: [UInt8] = []
        var body: JSONValue?
        if hasBody {
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
            } catch is NIOTooManyBytesError {
                throw APIError.requestTooLarge(limit: configuration.maxBodyBytes)
            } catch let error as HTTPError where error.status == .contentTooLarge {
                throw APIError.requestTooLarge(limit: configuration.maxBodyBytes)
            }
            raw = Array(buffer.readableBytesView)
            body = redactor.redact(.object(try RequestValidator.parseBody(raw)))
        }
        let path = request.uri.path
        let query = request.uri.query.flatMap { $0.isEmpty ? nil : $0 }
        return Exchange(
            method: request.method.rawValue, path: path, query: query,
            request: request, rawBody: raw, body: body,
            fingerprint: Fingerprint(method: request.method.rawValue, path: path, body: body, ignoring: configuration.ignoredPaths))
    }

    /// Answers `exchange` from the cassette or the upstream, or with `fallback` when neither applies.
    func respond(to exchange: Exchange, fallback: (Exchange) async throws -> Answer) async throws -> Response {
        let occurrence = tape.nextOccurrence(of: exchange.fingerprint)
        if configuration.mode != .record {
            // Exact fingerprints win; hand-written loose fixtures answer only what nothing exact does.
            if let recording = try await tape.recording(for: exchange.fingerprint, occurrence: occurrence)
                ?? tape.looseRecording(for: exchange.body)
            {
                return replayer.respond(recording, to: exchange)
            }
        }
        if configuration.mode != .replay, let proxy {
            return try await proxy.forward(
                ForwardedRequest(
                    method: exchange.method, path: exchange.path, query: exchange.query,
                    headers: exchange.request.headers.map { ($0.name.rawName, $0.value) },
                    body: exchange.rawBody,
                    storedBody: redactor.isEmpty ? exchange.rawBody : exchange.body.map(JSONWriter.bytes) ?? [],
                    fingerprint: exchange.fingerprint, occurrence: occurrence,
                    model: exchange.body?["model"]?.stringValue))
        }
        return try await fallback(exchange).response()
    }

    /// The 404 that `--on-miss error` answers, naming the closest recording and where it differs.
    func missError(for exchange: Exchange) async throws -> APIError {
        .notFound(
            try await tape.explainMiss(
                method: exchange.method, path: exchange.path, body: exchange.body, ignoring: configuration.ignoredPaths))
    }
}
