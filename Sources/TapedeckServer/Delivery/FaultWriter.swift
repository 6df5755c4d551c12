import HTTPTypes
import Hummingbird
import MessagesAPI
import NIOCore
import Synthesis

/// The client dropped on purpose (`disconnect`): thrown when the body ends, so the connection closes with no end.
struct DeliberateDisconnect: Error {}

extension Response {
    /// This response with `faults`' stream breaks and timing applied to what the client receives. The body's
    /// producer is untouched: a recording being made still sees, and stores, the whole upstream answer.
    func applying(_ faults: Faults) -> Response {
        guard faults.reshapesBody else { return self }
        var response = self
        let original = body
        let isStream = headers[.contentType]?.hasPrefix("text/event-stream") == true
        // A cut body is shorter than announced: send it chunked, so the client sees a broken body and no lie. A
        // stream was chunked already (its buffer's length is not announced).
        let announced = headers[.contentLength] != nil
        let length = announced && faults.breakOff == nil && faults.tokensPerSecond == nil ? original.contentLength : nil
        response.body = ResponseBody(contentLength: length) { writer in
            try await original.write(FaultWriter(base: writer, faults: faults, isStream: isStream))
        }
        return response
    }
}

extension Faults {
    /// Whether these faults break or pace the body on its way out (and so must see every byte of it).
    var reshapesBody: Bool { breakOff != nil || slowFirstByte != nil || stall != nil || tokensPerSecond != nil }
}

/// Passes a body through, event by event for streams, breaking it off and pacing it as `faults` say.
struct FaultWriter: ResponseBodyWriter {
    var base: any ResponseBodyWriter
    let faults: Faults
    let isStream: Bool
    /// Bytes of the current, incomplete event (streams), or of the whole body when it must be seen whole (JSON at
    /// a token rate).
    private var pending: [UInt8] = []
    private var events = 0
    private var bytesSent = 0
    private var startedAt: ContinuousClock.Instant?
    private var tokens = 0
    /// Set once the body is broken off: later bytes are swallowed.
    private var ending: Ending?

    enum Ending { case finished, dropped }

    init(base: any ResponseBodyWriter, faults: Faults, isStream: Bool) {
        self.base = base
        self.faults = faults
        self.isStream = isStream
    }

    mutating func write(_ buffer: ByteBuffer) async throws {
        guard ending == nil else { return }
        pending.append(contentsOf: buffer.readableBytesView)
        guard isStream else {
            if faults.tokensPerSecond == nil { try await flushJSON() }
            return
        }
        while ending == nil, let end = Self.eventEnd(in: pending) {
            let event = Array(pending[..<end])
            pending.removeFirst(end)
            try await emit(event)
        }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        if ending == nil, !pending.isEmpty {
            if isStream { try await emit(pending) } else { try await flushJSON() }
        }
        if ending == .dropped { throw DeliberateDisconnect() }
        try await base.finish(trailingHeaders)
    }

    /// The end of the first complete event in `bytes` (just past its blank line), if there is one.
    static func eventEnd(in bytes: [UInt8]) -> Int? {
        var i = 1
        while i < bytes.count {
            if bytes[i] == 0x0A && bytes[i - 1] == 0x0A { return i + 1 }
            i += 1
        }
        return nil
    }

    private mutating func firstByteDelay() async throws {
        guard startedAt == nil else { return }
        if let wait = faults.slowFirstByte { try await Task.sleep(for: .clamped(milliseconds: Double(wait))) }
        startedAt = .now
    }

    private mutating func flushJSON() async throws {
        var bytes = pending
        pending = []
        try await firstByteDelay()
        if let rate = faults.tokensPerSecond, let message = try? JSONParser.parse(bytes),
            let output = message["usage"]?["output_tokens"]?.intValue
        {
            try await Task.sleep(for: .clamped(seconds: Double(output) / rate))
        }
        if case .disconnect(_, let limit)? = faults.breakOff {
            let allowed = max(0, (limit ?? 0) - bytesSent)
            if bytes.count >= allowed {
                bytes = Array(bytes.prefix(allowed))
                ending = .dropped
            }
        }
        bytesSent += bytes.count
        if !bytes.isEmpty { try await base.write(ByteBuffer(bytes: bytes)) }
    }

    private mutating func emit(_ event: [UInt8]) async throws {
        try await firstByteDelay()
        switch faults.breakOff {
        case .midstreamError(let after, let type, let message)? where events == after:
            let error = APIError(.init(type), message: message)
            try await base.write(ByteBuffer(bytes: error.streamEvent.bytes))
            ending = .finished
            return
        case .disconnect(let afterEvents?, _)? where events == afterEvents:
            ending = .dropped
            return
        case .disconnect(nil, let limit?)? where bytesSent + event.count >= limit:
            let part = event.prefix(limit - bytesSent)
            if !part.isEmpty { try await base.write(ByteBuffer(bytes: part)) }
            bytesSent = limit
            ending = .dropped
            return
        default:
            break
        }
        if let stall = faults.stall, stall.after == events { try await Task.sleep(for: .clamped(milliseconds: Double(stall.milliseconds))) }
        if let rate = faults.tokensPerSecond, let start = startedAt {
            tokens += Self.outputTokens(in: event)
            try await Pacer.shared.sleep(until: start + .clamped(seconds: Double(tokens) / rate))
        }
        try await base.write(ByteBuffer(bytes: event))
        bytesSent += event.count
        events += 1
    }

    /// The output tokens an event carries: the text of a delta, counted the way synthesis counts.
    static func outputTokens(in event: [UInt8]) -> Int {
        guard let dataStart = event.firstRange(of: Array("data: ".utf8))?.upperBound else { return 0 }
        var end = event.count
        while end > dataStart, event[end - 1] == 0x0A { end -= 1 }
        guard let json = try? JSONParser.parse(Array(event[dataStart..<end])), json["type"] == "content_block_delta",
            let delta = json["delta"]
        else { return 0 }
        let text = delta["text"]?.stringValue ?? delta["thinking"]?.stringValue ?? delta["partial_json"]?.stringValue ?? ""
        return text.isEmpty ? 0 : max(1, TokenEstimator.count(text))
    }
}
