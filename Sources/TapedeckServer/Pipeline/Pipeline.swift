import Cassette
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MessagesAPI
import NIOCore

/// The request path every API route shares: pick the cassette, read the body, redact, fingerprint, apply faults,
/// then replay a recording, forward and record, or fall back to the route's own answer (synthesis, the catalog).
final class Dispatcher: Sendable {
    let configuration: TapedeckConfiguration
    let shelf: Shelf
    let proxy: RecordProxy?
    let redactor: Redactor
    let replayer: Replayer
    let faults: FaultSchedule
    let journal: Journal

    init(configuration: TapedeckConfiguration, shelf: Shelf, proxy: RecordProxy?, redactor: Redactor) {
        self.configuration = configuration
        self.shelf = shelf
        self.proxy = proxy
        self.redactor = redactor
        self.replayer = Replayer(pace: configuration.pace, speed: configuration.speed, catalog: configuration.models)
        self.faults = FaultSchedule(plan: configuration.fault)
        self.journal = Journal(capacity: configuration.journalSize)
    }

    /// A request whose body has been read and parsed.
    struct Exchange: Sendable {
        var method: String
        /// The API path, without a `/cassettes/NAME` prefix: what is matched, stored and forwarded.
        var path: String
        var query: String?
        var request: Request
        var rawBody: [UInt8]
        /// The body as JSON after redaction: what is matched and stored.
        var body: JSONValue?
        var fingerprint: Fingerprint
        var cassette: String
        var tape: Tape
        /// Faults the request asked for in its `tapedeck-fault` header.
        var faults: Faults?
        var trace: RequestTrace
        var client: ClientConnection

        var wantsStream: Bool { body?["stream"] == .bool(true) }
    }

    static let cassetteHeader = HTTPField.Name("tapedeck-cassette")!  // lint: allow a valid literal header name
    static let faultHeader = HTTPField.Name("tapedeck-fault")!  // lint: allow a valid literal header name

    /// The cassette a request selects: the `/cassettes/NAME` prefix, else the `tapedeck-cassette` header, else
    /// the default one (`nil`).
    static func cassetteName(_ request: Request, context: TapedeckRequestContext) -> String? {
        context.parameters.get("cassette") ?? request.headers[cassetteHeader]
    }

    /// Reads and parses the body (when the route has one), refusing more than the configured limit.
    func exchange(for request: Request, context: TapedeckRequestContext, hasBody: Bool) async throws -> Exchange {
        let name = Self.cassetteName(request, context: context)
        let tape = try await shelf.tape(named: name)
        let cassette = name ?? Shelf.defaultName
        context.trace.update { $0.cassette = cassette }
        let faults = try request.headers[Self.faultHeader].map { text throws(APIError) in try Faults(parsing: text) }
        var raw: [UInt8] = []
        var body: JSONValue?
        if hasBody {
            raw = try await request.bodyBytes(upTo: configuration.maxBodyBytes)
            body = redactor.redact(.object(try RequestValidator.parseBody(raw)))
        }
        var path = request.uri.path
        if let name, path.hasPrefix("/cassettes/") { path = String(path.dropFirst("/cassettes/".count + name.utf8.count)) }
        let query = request.uri.query.flatMap { $0.isEmpty ? nil : $0 }
        let fingerprint = Fingerprint(method: request.method.rawValue, path: path, body: body, ignoring: configuration.ignoredPaths)
        let exchange = Exchange(
            method: request.method.rawValue, path: path, query: query, request: request, rawBody: raw, body: body,
            fingerprint: fingerprint, cassette: cassette, tape: tape, faults: faults, trace: context.trace,
            client: context.client)
        context.trace.update {
            $0.path = path
            $0.fingerprint = fingerprint.hex
            $0.stream = exchange.wantsStream
        }
        return exchange
    }

    /// Answers `exchange` from the cassette or the upstream, or with `fallback` when neither applies; faults the
    /// request or the server asks for are applied on top, and never reach the cassette.
    func respond(to exchange: Exchange, fallback: (Exchange) async throws -> Answer) async throws -> Response {
        let faults = exchange.faults ?? self.faults.draw(for: exchange.fingerprint)
        guard let faults else { return try await answer(exchange, fallback: fallback) }
        exchange.trace.update { $0.fault = faults.description }
        if let latency = faults.latency { try await Task.sleep(for: .clamped(milliseconds: Double(latency))) }
        if let error = faultError(faults, for: exchange) {
            // Answered in place of the real answer: no occurrence is used, nothing is forwarded or recorded.
            exchange.trace.update { $0.source = "fault" }
            var error = error
            error.headers.append(("tapedeck-fault", faults.description))
            throw error
        }
        var exchange = exchange
        if faults.breakOff != nil {
            // The client is meant to lose this answer part-way (and its SDK then hangs up): that hang-up is
            // Tapedeck's doing, so the recording still finishes from the upstream rather than being cancelled.
            exchange.client = ClientConnection()
        }
        var response = try await answer(exchange, fallback: fallback).applying(faults)
        response.headers[Self.faultHeader] = faults.description
        return response
    }

    /// The error a fault answers with: an error kind, or a mid-stream error asked of a request that is not a stream.
    func faultError(_ faults: Faults, for exchange: Exchange) -> APIError? {
        if let error = faults.error {
            let retryAfter = Double(error.retryAfter ?? "") ?? (Double(error.retryAfterMilliseconds ?? "") ?? 1000) / 1000
            // The only wall-clock value Tapedeck sends: a reset time clients may compute a wait from.
            let reset = Date(timeIntervalSinceNow: min(max(1, retryAfter.rounded(.up)), Double(Limits.longestWaitSeconds)))
                .formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted))
            return error.apiError(resetAt: reset)
        }
        if case .midstreamError(_, let type, let message)? = faults.breakOff, !exchange.wantsStream {
            return APIError(status: APIError.status(forType: type), type: type, message: message)
        }
        return nil
    }

    private func answer(_ exchange: Exchange, fallback: (Exchange) async throws -> Answer) async throws -> Response {
        let tape = exchange.tape
        let occurrence = tape.nextOccurrence(of: exchange.fingerprint)
        exchange.trace.update { $0.occurrence = occurrence }
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
                    model: exchange.body?["model"]?.stringValue, clientClosed: exchange.client),
                to: tape)
        }
        return try await fallback(exchange).response()
    }

    /// Notes a request nothing recorded answered, for `GET /_tapedeck/misses`.
    func noteMiss(_ exchange: Exchange, answered: String) {
        journal.addMiss(
            MissRecord(
                seq: 0, time: Date(), method: exchange.method, path: exchange.path, cassette: exchange.cassette,
                fingerprint: exchange.fingerprint.hex,
                body: exchange.rawBody.count <= Journal.largestKeptBody ? exchange.body : nil, answered: answered))
    }

    /// The 404 that `--on-miss error` answers, naming the closest recording and where it differs.
    func missError(for exchange: Exchange) async throws -> APIError {
        exchange.trace.update { $0.source = "miss" }
        noteMiss(exchange, answered: "error")
        let miss = try await exchange.tape.explainMiss(
            method: exchange.method, path: exchange.path, body: exchange.body, ignoring: configuration.ignoredPaths)
        return .notFound(miss.description)
    }
}
