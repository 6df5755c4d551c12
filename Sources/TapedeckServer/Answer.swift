public import Hummingbird
import HTTPTypes
public import MessagesAPI
import NIOCore

/// What a route decided to send: a JSON body or a stream of events, plus where it came from.
public struct Answer: Sendable {
    public enum Body: Sendable {
        case json([UInt8])
        case events([SSEEvent])
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
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
        }
        fields[.tapedeckSource] = source.rawValue
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
        }
    }
}
