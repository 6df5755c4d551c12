public import Hummingbird
import Cassette
import HTTPTypes
public import MessagesAPI
import NIOCore

/// What a route decided to send: a JSON body or a stream, plus where it came from.
public struct Answer: Sendable {
    public enum Body: Sendable {
        /// A complete body, sent as is.
        case json([UInt8])
        /// Events built by Tapedeck (synthesized, or rebuilt from a recorded Message), written one by one.
        case events([SSEEvent])
        /// A recorded stream's raw bytes; with `pacing`, each event goes out at its recorded offset.
        case recordedStream(bytes: [UInt8], pacing: Pacing?)
    }

    /// When each piece of a recorded stream is sent: the events' ends and their recorded offsets.
    public struct Pacing: Sendable {
        public var events: [(byteEnd: Int, offsetMilliseconds: Int)]
        /// Divides every offset.
        public var speed: Double
    }

    /// Where an answer came from, reported in the `tapedeck-source` header and the log.
    public enum Source: String, Sendable {
        case recorded, synthesized, proxied
    }

    public var status: Int
    public var headers: [(String, String)]
    public var body: Body
    public var source: Source

    public init(status: Int = 200, headers: [(String, String)] = [], body: Body, source: Source) {
        self.status = status
        self.headers = headers
        self.body = body
        self.source = source
    }

    /// The Hummingbird response. Streams are written event by event, so a client sees each one as it is sent.
    public func response() -> Response {
        var fields = HTTPFields()
        // Hop-by-hop headers describe one connection's framing, not the answer: the server sets them for the body
        // it sends, and a stored `content-length` that disagrees would make a client wait for bytes that never come.
        for (name, value) in headers where !RecordProxy.hopByHop.contains(name.lowercased()) {
            if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
        }
        fields[.tapedeckSource] = source.rawValue
        if Interaction.isBodyless(status) {
            // A body after a 204 or 304 would be read by a keep-alive client as the start of the next response.
            fields[.contentType] = nil
            return Response(status: .init(code: status), headers: fields, body: .init())
        }
        switch body {
        case .json(let bytes):
            if fields[.contentType] == nil { fields[.contentType] = "application/json" }
            return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case .events(let events):
            fields[.contentType] = "text/event-stream; charset=utf-8"
            fields[.cacheControl] = "no-cache"
            return Response(
                status: .init(code: status),
                headers: fields,
                body: ResponseBody { writer in
                    for event in events {
                        try await writer.write(ByteBuffer(bytes: event.bytes))
                    }
                    try await writer.finish(nil)
                }
            )
        case .recordedStream(let bytes, let pacing):
            if fields[.contentType] == nil { fields[.contentType] = "text/event-stream; charset=utf-8" }
            guard let pacing else {
                // One write, but through a body closure: streams go out chunked, as the API sends them.
                return Response(status: .init(code: status), headers: fields, body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(bytes: bytes))
                    try await writer.finish(nil)
                })
            }
            return Response(
                status: .init(code: status),
                headers: fields,
                body: ResponseBody { writer in
                    let start = ContinuousClock.now
                    var sent = 0
                    for event in pacing.events where event.byteEnd > sent && event.byteEnd <= bytes.count {
                        let due = start + .clamped(milliseconds: Double(event.offsetMilliseconds) / pacing.speed)
                        try await Task.sleep(until: due, clock: .continuous)
                        try await writer.write(ByteBuffer(bytes: bytes[sent..<event.byteEnd]))
                        sent = event.byteEnd
                    }
                    if sent < bytes.count { try await writer.write(ByteBuffer(bytes: bytes[sent...])) }
                    try await writer.finish(nil)
                }
            )
        }
    }
}
