/// An incremental SSE parser: feed it bytes as they arrive, in any pieces, and it returns whole events.
///
/// It accepts LF and CRLF, ignores comments, joins multiple `data:` lines with `\n`, and never splits a
/// multi-byte character, because it only decodes complete lines.
public struct SSEParser: Sendable {
    private var buffer: [UInt8] = []
    private var name: String?
    private var dataLines: [String] = []
    /// Bytes consumed before `buffer` starts.
    private var consumed = 0
    /// How much of `buffer` is known to hold no line end: a long line arriving in small pieces is scanned once,
    /// not once per piece.
    private var scanned = 0

    public init() {}

    /// Consumes `bytes` and returns the events they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [SSEEvent] {
        feedLocated(bytes).map(\.event)
    }

    /// Like `feed`, with each event's end: the offset in the whole stream just past its closing blank line.
    public mutating func feedLocated(_ bytes: some Sequence<UInt8>) -> [(event: SSEEvent, end: Int)] {
        buffer.append(contentsOf: bytes)
        var events: [(event: SSEEvent, end: Int)] = []
        var lineStart = 0
        var i = scanned
        while i < buffer.count {
            if buffer[i] == 0x0A {
                var lineEnd = i
                if lineEnd > lineStart, buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                if let event = handleLine(buffer[lineStart..<lineEnd]) { events.append((event, consumed + i + 1)) }
                lineStart = i + 1
            }
            i += 1
        }
        buffer.removeFirst(lineStart)
        consumed += lineStart
        scanned = buffer.count
        return events
    }

    /// Ends the stream: an event not yet closed by a blank line is returned if it has data.
    public mutating func finish() -> [SSEEvent] {
        var events: [SSEEvent] = []
        if !buffer.isEmpty {
            if let event = handleLine(buffer[...]) { events.append(event) }
            buffer.removeAll()
            scanned = 0
        }
        if let event = dispatch() { events.append(event) }
        return events
    }

    /// Parses a whole stream in one go.
    public static func parse(_ bytes: some Sequence<UInt8>) -> [SSEEvent] {
        var parser = SSEParser()
        return parser.feed(bytes) + parser.finish()
    }

    private mutating func handleLine(_ line: ArraySlice<UInt8>) -> SSEEvent? {
        if line.isEmpty { return dispatch() }
        if line.first == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":"))
        let field = String(decoding: line[line.startIndex..<(colon ?? line.endIndex)], as: UTF8.self)
        var valueStart = colon.map { line.index(after: $0) } ?? line.endIndex
        if valueStart < line.endIndex, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = String(decoding: line[valueStart...], as: UTF8.self)
        switch field {
        case "event": name = value
        case "data": dataLines.append(value)
        default: break
        }
        return nil
    }

    private mutating func dispatch() -> SSEEvent? {
        defer {
            name = nil
            dataLines = []
        }
        guard !dataLines.isEmpty || name != nil else { return nil }
        return SSEEvent(name: name ?? "message", data: dataLines.joined(separator: "\n"))
    }
}
