/// One server-sent event as the Messages API frames it: an `event:` name and one `data:` line.
public struct SSEEvent: Sendable, Hashable {
    public var name: String
    /// The data line's text exactly as sent (padding included).
    public var data: String

    public init(name: String, data: String) {
        self.name = name
        self.data = data
    }

    /// An event whose data is `json`, written compactly.
    public init(json: JSONValue) {
        self.name = json["type"]?.stringValue ?? "message"
        self.data = JSONWriter.string(json)
    }

    /// The data parsed as JSON, or `nil` when it is not JSON.
    public var json: JSONValue? { try? JSONParser.parse(Array(data.utf8)) }

    /// The event's wire bytes: `event: NAME\ndata: DATA\n\n`; an event with no name is `data: DATA\n\n` alone,
    /// as OpenAI-style streams (`/v1/chat/completions`) frame theirs.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(name.utf8.count + data.utf8.count + 16)
        if !name.isEmpty {
            out.append(contentsOf: "event: ".utf8)
            out.append(contentsOf: name.utf8)
            out.append(10)
        }
        out.append(contentsOf: "data: ".utf8)
        out.append(contentsOf: data.utf8)
        out.append(contentsOf: "\n\n".utf8)
        return out
    }
}

/// Writes events the way the real API does, including its habit of padding data with spaces before the final `}`.
public struct SSEEncoder: Sendable {
    /// Seeds the padding, so one answer always gets the same bytes.
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    /// The ping event, whose data the API writes with a space: `{"type": "ping"}`.
    public static let ping = SSEEvent(name: "ping", data: "{\"type\": \"ping\"}")

    /// Encodes `json` as the `index`-th event of a stream, padded deterministically (0–15 spaces).
    public func event(_ json: JSONValue, index: Int) -> SSEEvent {
        var data = JSONWriter.bytes(json)
        var x = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 31)) &* 0xBF58_476D_1CE4_E5B9
        let padding = Int((x >> 59) & 0xF)
        if padding > 0, data.last == UInt8(ascii: "}") {
            data.insert(contentsOf: repeatElement(UInt8(ascii: " "), count: padding), at: data.count - 1)
        }
        return SSEEvent(name: json["type"]?.stringValue ?? "message", data: String(decoding: data, as: UTF8.self))
    }
}
