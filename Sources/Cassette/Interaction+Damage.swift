public import MessagesAPI

/// A stored interaction that cannot be served as it is: a row whose columns hold the wrong types (hand-edited,
/// or written by something else), or whose contents contradict themselves (an impossible status, a stream that
/// does not parse back into its events or never ends).
public struct DamagedRecording: Error, CustomStringConvertible, Sendable {
    /// The row id, when the row has a readable one.
    public let id: Int64?
    public let reason: String
    /// The cassette file it is in, when known.
    public var cassette: String?

    public init(id: Int64?, reason: String, cassette: String? = nil) {
        self.id = id
        self.reason = reason
        self.cassette = cassette
    }

    public var description: String {
        "interaction \(id.map(String.init) ?? "?")\(cassette.map { " in \($0)" } ?? "") is damaged: \(reason)"
    }
}

extension Interaction {
    /// Statuses Tapedeck answers with: final HTTP statuses. A 1xx is not an answer, and HTTP has nothing at 600
    /// and beyond.
    public static let servableStatuses: ClosedRange<Int> = 200...599

    /// Whether a response with `status` carries no body (RFC 9110: 204 and 304; 1xx never reach here).
    public static func isBodyless(_ status: Int) -> Bool { status == 204 || status == 304 }

    /// Why this interaction cannot be replayed, or `nil` when it can. Checked on import, when a row is first
    /// read for replay, and by `tapedeck cassette verify`, so a damaged recording is an error that names it,
    /// never a crash or a half answer served as whole.
    public var damage: String? {
        guard Self.servableStatuses.contains(status) else {
            return
                "status \(status) is not an HTTP status Tapedeck can answer with (\(Self.servableStatuses.lowerBound)-\(Self.servableStatuses.upperBound))"
        }
        guard occurrence >= 1 else { return "occurrence \(occurrence) is not a positive number" }
        guard isStream else { return nil }
        var previousEnd = 0
        for (i, event) in events.enumerated() {
            guard event.byteEnd >= previousEnd, event.byteEnd <= responseBody.count else {
                return "event \(i) ends at byte \(event.byteEnd), outside the recorded stream (\(responseBody.count) bytes)"
            }
            guard (0...Limits.longestWaitMilliseconds).contains(event.offsetMilliseconds) else {
                return "event \(i) has an offset of \(event.offsetMilliseconds) ms"
            }
            previousEnd = event.byteEnd
        }
        // A Messages stream must be one the API could have sent: the bytes parse into the stored events, each
        // carries JSON, and the stream ended (`message_stop`, or an `error` event).
        guard path.hasSuffix("/messages"), status == 200, !isFixture else { return nil }
        if let problem = Self.rawStreamProblem(responseBody) { return problem }
        if let problem = parseProblem { return problem }
        return Self.streamProblem(events.map { SSEEvent(name: $0.name, data: $0.data) })
    }

    /// Why a stream's raw bytes and its stored events disagree, or `nil` when the bytes parse into exactly them.
    public var parseProblem: String? {
        let parsed = SSEParser.parse(responseBody)
        guard parsed != events.map({ SSEEvent(name: $0.name, data: $0.data) }) else { return nil }
        return "its raw stream does not parse into its stored events (\(parsed.count) vs \(events.count))"
    }

    /// Why raw bytes are not an event stream the API could have sent: not UTF-8, or a line that is none of
    /// the SSE fields (`event`, `data`, `id`, `retry`) nor a comment. `nil` for well-formed bytes.
    public static func rawStreamProblem(_ bytes: [UInt8]) -> String? {
        guard String(validating: bytes, as: UTF8.self) != nil else { return "the stream is not UTF-8 text" }
        var lineStart = 0
        var number = 1
        for i in 0...bytes.count where i == bytes.count || bytes[i] == 0x0A {
            var line = bytes[lineStart..<i]
            if line.last == 0x0D { line = line.dropLast() }
            defer {
                lineStart = i + 1
                number += 1
            }
            guard !line.isEmpty, line.first != UInt8(ascii: ":") else { continue }
            let field = line.prefix { $0 != UInt8(ascii: ":") }
            guard Self.sseFields.contains(where: { $0.elementsEqual(field) }) else {
                return "line \(number) of the stream is not an SSE field"
            }
        }
        return nil
    }

    static let sseFields: [[UInt8]] = ["event", "data", "id", "retry"].map { Array($0.utf8) }

    /// Why a Messages stream is not a whole answer: an event without a JSON object, or no `message_stop` or `error` at
    /// the end. `nil` for a complete stream.
    public static func streamProblem(_ events: [SSEEvent]) -> String? {
        // Every event of a Messages stream carries a JSON object (`{"type": …, …}`).
        if let bad = events.firstIndex(where: { $0.json?.objectValue == nil }) {
            return "event \(bad) (\(events[bad].name)) does not carry a JSON object"
        }
        guard events.contains(where: { $0.name == "message_stop" || $0.name == "error" }) else {
            return "the stream ends without message_stop or an error event"
        }
        return nil
    }
}
