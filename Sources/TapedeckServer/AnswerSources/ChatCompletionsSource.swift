import Cassette
import MessagesAPI
import NIOCore

/// `POST /v1/chat/completions` when nothing recorded for that path answers (replay mode): the request is
/// translated to a Messages request (`ChatCompletions`), answered by the pipeline exactly as `/v1/messages`
/// would be (a Messages recording, else synthesis, else the miss error), and the Message is translated back, as
/// JSON or as `chat.completion.chunk` events ending in `data: [DONE]`. Errors come in the endpoint's own
/// envelope (`{"error": {"message", "type", …}}`).
///
/// In record and auto mode the call is forwarded and recorded as it is (the policy asks the upstream before this
/// source), and such a recording is what replay answers first.
struct ChatCompletionsSource: AnswerSource {
    let pipeline: Pipeline
    /// The source `/v1/messages` falls back to, shared: its kept answers and prompt caches are the same.
    let messages: SynthesisSource

    var kind: SourceKind { .translated }

    /// The call's faults, less everything but a forced stop reason; `nil` when there is none.
    static func onlyStop(_ faults: Faults?) -> Faults? {
        guard var inner = faults, inner.stop != nil else { return nil }
        (inner.error, inner.breakOff, inner.latency, inner.slowFirstByte) = (nil, nil, nil, nil)
        (inner.stall, inner.tokensPerSecond) = (nil, nil)
        return inner
    }

    @inline(never)  // its own frame, not part of every caller's: see `AnswerSource`
    func answer(_ request: IncomingRequest, tape: Tape) async throws -> Answer? {
        do {
            let body = try ChatCompletions.messagesRequest(from: request.body ?? .null)
            var messages = request
            messages.path = "/v1/messages"
            messages.query = nil
            messages.body = body
            messages.isUnmodeled = false
            messages.rawBody = JSONWriter.bytes(body)
            messages.fingerprint = request.matcher.fingerprint(method: "POST", path: "/v1/messages", body: body)
            // The faults were drawn once, for the call as the client made it, and were applied to it (latency,
            // errors, the stream's breaking); the Messages answer inside keeps only a forced stop reason.
            messages.faults = Self.onlyStop(request.faults)
            messages.faultsDrawn = true
            let answer = try await pipeline.answer(messages, fallback: self.messages)
            guard let message = try await Self.message(in: answer) else {
                return Self.error(APIError.api("The Messages answer could not be read as a Message."), for: request)
            }
            if message["type"] == "error" {
                let error = APIError(
                    status: answer.status, type: .init(message["error"]?["type"]?.stringValue ?? "api_error"),
                    message: message["error"]?["message"]?.stringValue ?? "")
                return Self.error(error, for: request)
            }
            let headers = HeaderPolicy.made(for: request)
            guard request.wantsStream else {
                return Answer(
                    headers: headers, body: .json(ByteBuffer(bytes: JSONWriter.bytes(ChatCompletions.completion(from: message)))),
                    source: answer.source)
            }
            let includeUsage = request.body?["stream_options"]?["include_usage"] == .bool(true)
            let events =
                ChatCompletions.chunks(from: message, includeUsage: includeUsage).map { SSEEvent(name: "", data: JSONWriter.string($0)) }
                + [SSEEvent(name: "", data: "[DONE]")]
            return Answer(headers: headers, body: .events(events), source: answer.source)
        } catch let error as APIError {
            return Self.error(error, for: request)
        }
    }

    /// The Message an answer carries: its JSON, or the one its events assemble into (an error body as it is).
    static func message(in answer: Answer) async throws -> JSONValue? {
        switch answer.body {
        case .json(let buffer):
            return Interaction.json(Array(buffer.readableBytesView))
        case .events(let events):
            return assembled(events)
        case .recordedStream(let bytes, _):
            return assembled(SSEParser.parse(Array(bytes.readableBytesView)))
        case .relayed(let relay):
            var collector: any AnswerWriter = Collector()
            try await relay(&collector)
            guard let collected = collector as? Collector else { return nil }
            let bytes = Array(collected.buffer.readableBytesView)
            return answer.header("content-type")?.hasPrefix("text/event-stream") == true
                ? assembled(SSEParser.parse(bytes)) : Interaction.json(bytes)
        }
    }

    static func assembled(_ events: [SSEEvent]) -> JSONValue? {
        let assembler = MessageAssembler.assemble(events)
        if let error = assembler.error { return ["type": "error", "error": error] }
        return assembler.assembled
    }

    struct Collector: AnswerWriter {
        var buffer = ByteBuffer()
        mutating func write(_ buffer: ByteBuffer) async throws { self.buffer.writeImmutableBuffer(buffer) }
    }

    static func error(_ error: APIError, for request: IncomingRequest) -> Answer {
        Answer(
            status: error.status, headers: HeaderPolicy.made(for: request) + error.headers,
            body: .json(ByteBuffer(bytes: JSONWriter.bytes(ChatCompletions.errorBody(error)))), source: .synthesized)
    }
}
