import AsyncHTTPClient
import Cassette
import Foundation
import HTTPTypes
import Logging
import MessagesAPI
import NIOCore
import NIOHTTP1

/// Forwards requests to the upstream and records the answers: bytes reach the client as they arrive, unchanged,
/// while a copy is parsed into events for the cassette.
///
/// A recording is committed before the client gets the end of the answer (the whole body for JSON, the
/// terminal `message_stop` or `error` event for streams), so a completed response means a saved recording.
/// A client that hangs up, or an upstream that breaks off, leaves nothing in the cassette.
final class RecordSource: AnswerSource {
    var kind: SourceKind { .record }
    let client: HTTPClient
    let upstream: String
    let redactor: Redactor
    let upstreamKey: String?
    /// Largest answer saved; a longer one is passed through and not saved (`--max-recording-bytes`).
    let maxRecordingBytes: Int
    let logger: Logger
    /// Learns the models the upstream lists and names, so synthesis and `/v1/models` know them from then on.
    let models: ModelRegistry?

    init(
        client: HTTPClient, upstream: String, redactor: Redactor, upstreamKey: String?, maxRecordingBytes: Int, logger: Logger,
        models: ModelRegistry? = nil
    ) {
        self.client = client
        var base = Substring(upstream)
        while base.hasSuffix("/") { base = base.dropLast() }
        self.upstream = String(base)
        self.redactor = redactor
        self.upstreamKey = upstreamKey
        self.maxRecordingBytes = maxRecordingBytes
        self.logger = logger
        self.models = models
    }

    /// Forwards `forwarded` and records the answer in `tape`; always answers (an unreachable upstream is a 502).
    @inline(never)  // its own frame, not part of every caller's: see `AnswerSource`
    func answer(_ forwarded: IncomingRequest, tape: Tape) async throws -> Answer? {
        var request = HTTPClientRequest(url: upstream + forwarded.path + (forwarded.query.map { "?" + $0 } ?? ""))
        request.method = HTTPMethod(rawValue: forwarded.method)
        var hasAuth = false
        var storedRequestHeaders: [HeaderPair] = []
        for field in forwarded.headers {
            let (name, value, lower) = (field.name.rawName, field.value, field.name.canonicalName)
            guard HeaderPolicy.isForwarded(requestHeader: lower) else { continue }
            if HeaderPolicy.isCredential(lower) { hasAuth = true }
            request.headers.add(name: name, value: value)
            if !redactor.isSecret(header: lower) { storedRequestHeaders.append(HeaderPair(lower, value)) }
        }
        if !hasAuth, let upstreamKey { request.headers.add(name: "x-api-key", value: upstreamKey) }
        // Uncompressed, so the bytes can be parsed on the way through and stored as the client gets them.
        request.headers.replaceOrAdd(name: "accept-encoding", value: "identity")
        if !forwarded.rawBody.isEmpty { request.body = .bytes(ByteBuffer(bytes: forwarded.rawBody)) }
        // What the cassette keeps of the body: redacted when patterns are configured (a body that is not JSON,
        // which only a path Tapedeck does not model takes, as bytes).
        let storedBody =
            redactor.isEmpty ? forwarded.rawBody : forwarded.body.map(JSONWriter.bytes) ?? redactor.redact(bytes: forwarded.rawBody)

        let start = ContinuousClock.now
        let response: HTTPClientResponse
        do {
            let (client, logger, request) = (client, logger, request)
            response = try await forwarded.client.cancellingOnClose {
                try await client.execute(request, timeout: .clamped(seconds: Limits.longestWaitSeconds), logger: logger)
            }
        } catch let stop as ClientConnection.Closed {
            throw stop
        } catch let stop as CancellationError {
            throw stop  // the server is shutting down
        } catch {
            throw Self.upstreamError(error, upstream: upstream)
        }

        let status = Int(response.status.code)
        var clientHeaders: [(String, String)] = []
        var storedHeaders: [HeaderPair] = []
        for header in response.headers {
            let lower = header.name.lowercased()
            if HeaderPolicy.hopByHop.contains(lower) { continue }
            clientHeaders.append((header.name, header.value))
            if HeaderPolicy.isStored(responseHeader: lower) { storedHeaders.append(HeaderPair(lower, header.value)) }
        }
        func relayed(_ body: @escaping Answer.Relay) -> Answer {
            Answer(status: status, headers: clientHeaders, body: .relayed(body), source: .proxied)
        }
        let isStream = response.headers.first(name: "content-type")?.lowercased().hasPrefix("text/event-stream") == true

        let template = Interaction(
            recordedAt: "", method: forwarded.method, path: forwarded.path, query: forwarded.query.map(redactor.redact(query:)),
            fingerprint: forwarded.fingerprint.hex, occurrence: forwarded.occurrence,
            requestHeaders: storedRequestHeaders, requestBody: storedBody, status: status,
            responseHeaders: storedHeaders, responseBody: [], isStream: isStream, events: [], message: nil,
            model: forwarded.model)

        guard Interaction.servableStatuses.contains(status) else {
            // Nothing Tapedeck could replay: pass it on, keep nothing.
            logger.warning("Not recorded: the upstream answered status \(status)", metadata: ["upstream": "\(upstream)"])
            return relayed(Self.passThrough(response.body.makeAsyncIterator(), after: ByteBuffer(), unlessClosed: forwarded.client))
        }
        guard isStream else {
            var body = ByteBuffer()
            var iterator = response.body.makeAsyncIterator()
            do {
                while let chunk = try await Self.next(&iterator, unlessClosed: forwarded.client) {
                    body.writeImmutableBuffer(chunk)
                    if body.readableBytes > maxRecordingBytes {
                        logger.warning(
                            "Not recorded: the answer is larger than --max-recording-bytes; passing it through",
                            metadata: ["limit": "\(maxRecordingBytes)", "path": "\(forwarded.path)"])
                        return relayed(Self.passThrough(iterator, after: body, unlessClosed: forwarded.client))
                    }
                }
            } catch let gone as ClientConnection.Closed {
                throw gone
            } catch {
                throw Self.upstreamError(error, upstream: upstream)
            }
            var interaction = template
            interaction.responseBody = redactor.redact(bytes: Array(body.readableBytesView))
            try await save(interaction, to: tape)
            return Answer(status: status, headers: clientHeaders, body: .json(body), source: .proxied)
        }

        let logger = self.logger
        let upstream = self.upstream
        let limit = maxRecordingBytes
        let clientClosed = forwarded.client
        return relayed(
            { writer in
                var recorder = StreamRecorder(limit: limit)
                var iterator = response.body.makeAsyncIterator()
                while true {
                    let chunk: ByteBuffer?
                    do {
                        chunk = try await Self.next(&iterator, unlessClosed: clientClosed)
                    } catch let gone as ClientConnection.Closed {
                        logger.debug("Client hung up; upstream call cancelled, nothing recorded", metadata: ["upstream": "\(upstream)"])
                        throw gone
                    } catch {
                        // The upstream broke off: pass on what came, record nothing, and end the connection the
                        // same abrupt way so the client sees what really happened.
                        logger.warning(
                            "Upstream stream broke off; nothing recorded", metadata: ["error": "\(error)", "upstream": "\(upstream)"])
                        if let rest = recorder.unsent() { try await writer.write(rest) }
                        throw error
                    }
                    guard let chunk else { break }
                    let wasOver = recorder.isOverLimit
                    if let sendable = recorder.take(chunk, at: Self.milliseconds(since: start)) { try await writer.write(sendable) }
                    if recorder.isOverLimit && !wasOver {
                        logger.warning(
                            "Not recorded: the stream is longer than --max-recording-bytes; passing it through",
                            metadata: ["limit": "\(limit)", "upstream": "\(upstream)"])
                    }
                }
                guard let (raw, events) = recorder.finish(at: Self.milliseconds(since: start)) else {
                    if let rest = recorder.unsent() { try await writer.write(rest) }
                    return
                }
                var interaction = template
                (interaction.responseBody, interaction.events) = self.redacted(raw: raw, events: events)
                interaction.message =
                    MessageAssembler.assemble(
                        interaction.events.map { SSEEvent(name: $0.name, data: $0.data) }
                    ).assembled
                // The rule replay applies, applied to what would be stored (redaction included): half an answer,
                // or bytes that are not the API's SSE, must not replay as a whole one.
                if let problem = interaction.damage {
                    logger.warning("Not recorded: \(problem)", metadata: ["upstream": "\(upstream)"])
                    if let rest = recorder.unsent() { try await writer.write(rest) }
                    return
                }
                do {
                    try await self.save(interaction, to: tape)
                    if let rest = recorder.unsent() { try await writer.write(rest) }
                } catch let error as APIError {
                    // Headers are gone already: the terminal event becomes an error event, so the client knows.
                    if let held = recorder.unsentBeforeTerminal() { try await writer.write(held) }
                    try await writer.write(ByteBuffer(bytes: error.streamEvent.bytes))
                }
            }
        )
    }

    /// The upstream body's next chunk, or `Closed` as soon as the client hangs up (which cancels the upstream call).
    static func next(
        _ iterator: inout HTTPClientResponse.Body.AsyncIterator, unlessClosed client: ClientConnection
    ) async throws -> ByteBuffer? {
        try await client.cancellingOnClose { try await iterator.next() }
    }

    /// A body that sends `buffered`, then the rest of the upstream's body as it comes; nothing is kept.
    static func passThrough(
        _ iterator: HTTPClientResponse.Body.AsyncIterator, after buffered: ByteBuffer, unlessClosed client: ClientConnection
    ) -> Answer.Relay {
        nonisolated(unsafe) let iterator = iterator
        return { writer in
            var iterator = iterator
            if buffered.readableBytes > 0 { try await writer.write(buffered) }
            while let chunk = try await next(&iterator, unlessClosed: client) { try await writer.write(chunk) }
        }
    }

    /// Raw bytes and events with redaction applied; offsets are kept per event.
    func redacted(raw: [UInt8], events: [Interaction.Event]) -> ([UInt8], [Interaction.Event]) {
        guard !redactor.isEmpty else { return (raw, events) }
        let bytes = redactor.redact(bytes: raw)
        var parser = SSEParser()
        let located = parser.feedLocated(bytes) + parser.finish().map { ($0, bytes.count) }
        let rebuilt = located.enumerated().map { i, pair in
            Interaction.Event(
                offsetMilliseconds: i < events.count ? events[i].offsetMilliseconds : (events.last?.offsetMilliseconds ?? 0),
                byteEnd: pair.1, name: pair.0.name, data: pair.0.data)
        }
        return (bytes, rebuilt)
    }

    /// Commits a recording. When the cassette cannot take it (disk full, read-only), the client gets an error
    /// in place of the answer's end: a completed response promises a saved recording, and this one is not.
    func save(_ interaction: Interaction, to tape: Tape) async throws(APIError) {
        // Stamped here, after the answer arrived: nothing slows the way to the first byte.
        var interaction = interaction
        interaction.recordedAt = Date().ISO8601Format()
        do {
            let id = try await tape.record(interaction)
            logger.debug("Recorded", metadata: ["interaction.id": "\(id)", "fingerprint": "\(interaction.fingerprint.prefix(12))"])
            let body = interaction.isStream ? interaction.message : Interaction.json(interaction.responseBody)
            let learned = models?.learn(fromAnswerTo: interaction.path, status: interaction.status, body: body) ?? []
            if !learned.isEmpty { logger.info("Learned models from the upstream", metadata: ["models": "\(learned)"]) }
        } catch {
            logger.error("Could not save the recording", metadata: ["cassette": "\(tape.path)", "error": "\(error)"])
            // Retrying would call the upstream again, and pay again, for an answer that cannot be kept either.
            throw APIError(
                status: 500, type: "api_error",
                message: "Tapedeck could not save this recording to \(tape.path) (\(CassetteStore.reason(error))); "
                    + "the upstream answered \(interaction.status), but nothing was recorded.",
                headers: [("x-should-retry", "false")])
        }
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Int {
        let elapsed = ContinuousClock.now - start
        return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }

    static func upstreamError(_ error: any Error, upstream: String) -> APIError {
        if let error = error as? HTTPClientError,
            [.connectTimeout, .readTimeout, .deadlineExceeded, .writeTimeout].contains(error)
        {
            return APIError(status: 504, type: .api, message: "Upstream \(upstream) timed out: \(error)")
        }
        return APIError(status: 502, type: .api, message: "Upstream \(upstream) could not be reached: \(error)")
    }
}
