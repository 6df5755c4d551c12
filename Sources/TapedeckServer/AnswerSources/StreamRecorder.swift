import Cassette
import MessagesAPI
import NIOCore

/// The recording side of a proxied stream: keeps the raw bytes and their events, and says what may go to the
/// client now.
///
/// Bytes go on whole event by whole event, and never the terminal one (`message_stop` or `error`) before the
/// caller has committed the recording: a client must not see the end of an answer that was not saved. Past
/// `limit` bytes nothing more is kept: what was held goes out, and every later chunk passes straight through.
struct StreamRecorder {
    let limit: Int
    private var parser = SSEParser()
    private var raw: [UInt8] = []
    private var events: [Interaction.Event] = []
    /// How much of `raw` the client has.
    private var forwarded = 0
    /// Where the terminal event starts in `raw`, once seen.
    private var terminalStart: Int?
    /// Whether the stream outgrew `limit`: it is then passed through and not recorded.
    private(set) var isOverLimit = false

    init(limit: Int) { self.limit = limit }

    /// Takes the next chunk, arrived `offset` ms after forwarding; returns what may be sent now.
    mutating func take(_ chunk: ByteBuffer, at offset: Int) -> ByteBuffer? {
        if isOverLimit { return chunk }
        if raw.count + chunk.readableBytes > limit {
            isOverLimit = true
            var out = ByteBuffer(bytes: raw[forwarded...])
            out.writeImmutableBuffer(chunk)
            (raw, events, parser, forwarded, terminalStart) = ([], [], SSEParser(), 0, nil)
            return out
        }
        raw.append(contentsOf: chunk.readableBytesView)
        var previousEnd = events.last?.byteEnd ?? 0
        for (event, end) in parser.feedLocated(chunk.readableBytesView) {
            events.append(.init(offsetMilliseconds: offset, byteEnd: end, name: event.name, data: event.data))
            if terminalStart == nil, event.name == "message_stop" || event.name == "error" { terminalStart = previousEnd }
            previousEnd = end
        }
        let sendable = terminalStart ?? previousEnd
        guard sendable > forwarded else { return nil }
        // Usually a chunk is whole events: pass the upstream's buffer on as it is.
        let whole = forwarded == raw.count - chunk.readableBytes && sendable == raw.count
        let out = whole ? chunk : ByteBuffer(bytes: raw[forwarded..<sendable])
        forwarded = sendable
        return out
    }

    /// Ends the stream, arrived at `offset` ms: the raw bytes and their events, or `nil` when it was over the limit.
    mutating func finish(at offset: Int) -> (raw: [UInt8], events: [Interaction.Event])? {
        guard !isOverLimit else { return nil }
        for event in parser.finish() {
            events.append(.init(offsetMilliseconds: offset, byteEnd: raw.count, name: event.name, data: event.data))
        }
        return (raw, events)
    }

    /// Everything the client does not have yet (after the commit, or when nothing will be recorded).
    mutating func unsent() -> ByteBuffer? { release(upTo: raw.count) }

    /// What the client does not have yet, short of the terminal event (when the commit failed and an error
    /// event takes the terminal one's place).
    mutating func unsentBeforeTerminal() -> ByteBuffer? { release(upTo: terminalStart ?? raw.count) }

    private mutating func release(upTo end: Int) -> ByteBuffer? {
        guard !isOverLimit, end > forwarded else { return nil }
        defer { forwarded = end }
        return ByteBuffer(bytes: raw[forwarded..<end])
    }
}
