import Foundation
public import MessagesAPI

/// One recorded request and the response the client received, as stored in a cassette.
public struct Interaction: Sendable, Equatable {
    /// One event of a recorded stream: when it arrived, where it ends in the raw bytes, and what it was.
    public struct Event: Sendable, Equatable {
        /// Milliseconds from forwarding the request to the arrival of this event's last byte.
        public var offsetMilliseconds: Int
        /// End of this event in `responseBody` (exclusive).
        public var byteEnd: Int
        public var name: String
        public var data: String

        public init(offsetMilliseconds: Int, byteEnd: Int, name: String, data: String) {
            self.offsetMilliseconds = offsetMilliseconds
            self.byteEnd = byteEnd
            self.name = name
            self.data = data
        }
    }

    /// Row id; `nil` until stored.
    public var id: Int64?
    /// When it was recorded (ISO 8601). Shown to people, never replayed.
    public var recordedAt: String
    public var method: String
    public var path: String
    public var query: String?
    public var fingerprint: String
    /// 1 for the first identical request of a run, 2 for the second, …
    public var occurrence: Int
    /// Allow-listed request headers, secrets never among them.
    public var requestHeaders: [HeaderPair]
    /// The request body as sent, minus redacted text.
    public var requestBody: [UInt8]
    public var status: Int
    /// Allow-listed response headers, in the order received.
    public var responseHeaders: [HeaderPair]
    /// The response body exactly as the client received it (raw SSE bytes for streams).
    public var responseBody: [UInt8]
    public var isStream: Bool
    /// A stream's events; empty for JSON responses.
    public var events: [Event]
    /// A stream's assembled Message (or its final error), for answering non-streaming requests.
    public var message: JSONValue?
    /// The model the request named, for listings.
    public var model: String?
    /// A loose matcher from a hand-written fixture (`last_user`, `model`, `tools`); `nil` for exact matching.
    public var matcher: JSONValue?
    /// Whether `message` is a hand-written partial answer, completed for each request it answers.
    public var isFixture: Bool

    public init(
        id: Int64? = nil, recordedAt: String, method: String, path: String, query: String?, fingerprint: String,
        occurrence: Int, requestHeaders: [HeaderPair], requestBody: [UInt8], status: Int, responseHeaders: [HeaderPair],
        responseBody: [UInt8], isStream: Bool, events: [Event], message: JSONValue?, model: String?,
        matcher: JSONValue? = nil, isFixture: Bool = false
    ) {
        self.id = id
        self.recordedAt = recordedAt
        self.method = method
        self.path = path
        self.query = query
        self.fingerprint = fingerprint
        self.occurrence = occurrence
        self.requestHeaders = requestHeaders
        self.requestBody = requestBody
        self.status = status
        self.responseHeaders = responseHeaders
        self.responseBody = responseBody
        self.isStream = isStream
        self.events = events
        self.message = message
        self.model = model
        self.matcher = matcher
        self.isFixture = isFixture
    }

    /// About how many bytes this interaction takes in memory: what bounded caches count.
    public var size: Int {
        requestBody.count + responseBody.count + events.reduce(0) { $0 + $1.data.utf8.count + $1.name.utf8.count + 32 } + 512
    }

    /// The request body parsed, when it is JSON.
    public var requestJSON: JSONValue? { Self.json(requestBody) }

    /// A request body parsed, when it is JSON (`nil` for an empty or non-JSON body).
    public static func json(_ body: [UInt8]) -> JSONValue? { body.isEmpty ? nil : try? JSONParser.parse(body) }

    /// The first value of a response header (names compare case-insensitively).
    public func responseHeader(_ name: String) -> String? {
        responseHeaders.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// A header name and value; a list of these keeps order and repeated names.
public struct HeaderPair: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

extension [HeaderPair] {
    var json: JSONValue { .array(map { [.string($0.name), .string($0.value)] }) }

    init(json: JSONValue?) {
        self = (json?.arrayValue ?? []).compactMap { pair in
            guard let items = pair.arrayValue, items.count == 2, let name = items[0].stringValue,
                let value = items[1].stringValue
            else { return nil }
            return HeaderPair(name, value)
        }
    }
}

extension [Interaction.Event] {
    var json: JSONValue {
        .array(map { ["t": .int($0.offsetMilliseconds), "end": .int($0.byteEnd), "event": .string($0.name), "data": .string($0.data)] })
    }

    init(json: JSONValue?) {
        self = (json?.arrayValue ?? []).map { event in
            Interaction.Event(
                offsetMilliseconds: event["t"]?.intValue ?? 0, byteEnd: event["end"]?.intValue ?? 0,
                name: event["event"]?.stringValue ?? "message", data: event["data"]?.stringValue ?? "")
        }
    }
}
