public import HTTPTypes
public import MessagesAPI
public import NIOCore

/// Where a relayed body's bytes go: the client's connection (Delivery), or a buffer in a test.
public protocol AnswerWriter {
    mutating func write(_ buffer: ByteBuffer) async throws
}

/// What an answer source decided to send: a status, headers, a body, and where it came from. The only
/// conversion to an HTTP response is `Answer.response()` (Delivery), so every source is tested with values.
public struct Answer: Sendable {
    public enum Body: Sendable {
        /// A complete body, sent as is.
        case json(ByteBuffer)
        /// Events built by Tapedeck (synthesized, or rebuilt from a recorded Message), written one by one.
        case events([SSEEvent])
        /// A recorded stream's raw bytes; with `pacing`, each event goes out at its recorded offset. A buffer, so
        /// the answers of one prepared recording share its bytes: each request sends them, or slices of them,
        /// without a copy of its own (a paced stream used to hold one for as long as it lasted).
        case recordedStream(bytes: ByteBuffer, pacing: Pacing?)
        /// Bytes that arrive while they are sent (an upstream answer relayed as it comes, and recorded).
        case relayed(Relay)
    }

    /// Writes a relayed body as it arrives; the body ends when it returns, and breaks off when it throws.
    public typealias Relay = @Sendable (inout any AnswerWriter) async throws -> Void

    /// When each piece of a recorded stream is sent: the events' ends and their recorded offsets.
    public struct Pacing: Sendable {
        public var events: [(byteEnd: Int, offsetMilliseconds: Int)]
        /// Divides every offset.
        public var speed: Double

        /// How long after the stream's start an event recorded at `offsetMilliseconds` is due.
        func delay(of offsetMilliseconds: Int) -> Duration { .clamped(milliseconds: Double(offsetMilliseconds) / speed) }
    }

    /// Where an answer came from, reported in the `tapedeck-source` header and the log.
    public enum Source: String, Sendable {
        case recorded, synthesized, proxied
    }

    public let status: Int
    /// The headers as they go out, built once when the answer is made (a cached answer is then sent without
    /// parsing a header name again): hop-by-hop headers dropped, `tapedeck-source` set, and the body's content
    /// type filled in where the source gave none.
    public internal(set) var headers: HTTPFields
    public let body: Body
    public let source: Source
    /// Faults applied on the way out (stream breaks, pacing); they never reach the cassette.
    public var faults: Faults? {
        get { faultsBox?.faults }
        set { faultsBox = newValue.map(FaultsBox.init) }
    }
    /// Boxed: inline, faults were most of an answer's size, and async frames hold answers (see `IncomingRequest`).
    private var faultsBox: FaultsBox?
    /// The input and output tokens the answer reports, where Tapedeck made it: what the rate limiter charges.
    public var tokens: (input: Int, output: Int)?

    public init(status: Int = 200, headers: [(String, String)] = [], body: Body, source: Source, faults: Faults? = nil) {
        self.status = status
        self.body = body
        self.source = source
        self.faultsBox = faults.map(FaultsBox.init)
        var fields = HTTPFields()
        fields.reserveCapacity(headers.count + 3)
        for (name, value) in headers {
            guard let field = HTTPField.Name(name), !HeaderPolicy.hopByHop.contains(field.canonicalName) else { continue }
            fields.append(HTTPField(name: field, value: value))
        }
        switch body {
        case .json:
            // A relayed upstream answer keeps exactly the headers it came with.
            if fields[.contentType] == nil && source != .proxied { fields[.contentType] = "application/json" }
        case .events:
            fields[.contentType] = "text/event-stream; charset=utf-8"
            fields[.cacheControl] = "no-cache"
        case .recordedStream:
            if fields[.contentType] == nil { fields[.contentType] = "text/event-stream; charset=utf-8" }
        case .relayed:
            break
        }
        fields[.tapedeckSource] = source.rawValue
        self.headers = fields
    }

    /// Roughly the bytes the answer holds in memory, for caches.
    var size: Int {
        let headerBytes = headers.reduce(0) { $0 + $1.name.rawName.utf8.count + $1.value.utf8.count }
        let bodyBytes =
            switch body {
            case .json(let buffer): buffer.readableBytes
            case .events(let events): events.reduce(0) { $0 + $1.bytes.count }
            case .recordedStream(let bytes, let pacing): bytes.readableBytes + 16 * (pacing?.events.count ?? 0)
            case .relayed: 0
            }
        return 64 + headerBytes + bodyBytes
    }

    /// The answer's header `name` (case-insensitive), if present.
    public func header(_ name: String) -> String? {
        HTTPField.Name(name).flatMap { headers[$0] }
    }
}

/// An answer's faults, behind one pointer.
private final class FaultsBox: Sendable {
    let faults: Faults
    init(_ faults: Faults) { self.faults = faults }
}
