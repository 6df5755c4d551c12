import Cassette
import HTTPTypes
public import Hummingbird
import MessagesAPI
import NIOCore

extension Answer {
    /// The HTTP response for this answer: the one place an answer becomes HTTP. A stream whose events are all at
    /// hand goes out in one write; a paced or relayed one event by event, as each is due; faults break or pace
    /// the body on the way out.
    ///
    /// Streams go out chunked, as the API sends them. One at hand is a buffer body with its `content-length`
    /// removed: Hummingbird writes a buffer body with its head and end in one write (a closure body costs three
    /// writes, each a trip to the event loop and a system call: half of a streamed replay's throughput), and
    /// with no length NIO frames it chunked.
    ///
    /// A paced stream over a connection with an outlet is written from the connection's event loop, each event
    /// at its time (see `ConnectionOutlet`); faults that reshape the body need every byte through their writer,
    /// so with those it is paced here.
    public func response() -> Response { response(over: nil) }

    /// `response()`, written over `connection` (see above).
    func response(over connection: ClientConnection?) -> Response {
        var response = Response(status: .init(code: status), headers: headers, body: .init())
        if Interaction.isBodyless(status) {
            // A body after a 204 or 304 would be read by a keep-alive client as the start of the next response.
            response.headers[.contentType] = nil
        } else {
            let outlet = faults?.reshapesBody == true ? nil : connection?.outlet
            response.body = responseBody(outlet: outlet)
            if case .events = body {
                response.headers[.contentLength] = nil
            } else if case .recordedStream(_, nil) = body {
                response.headers[.contentLength] = nil
            }
        }
        guard let faults else { return response }
        response.headers[.tapedeckFault] = faults.description
        return response.applying(faults)
    }

    private func responseBody(outlet: ConnectionOutlet?) -> ResponseBody {
        switch body {
        case .json(let buffer):
            return .init(byteBuffer: buffer)
        case .events(let events):
            // Made events are all there at once: one write (a write per event cost a synthesized stream
            // three quarters of its throughput), chunked, as a recorded stream goes.
            var buffer = ByteBuffer()
            buffer.reserveCapacity(events.reduce(0) { $0 + $1.bytes.count })
            for event in events { buffer.writeBytes(event.bytes) }
            return .init(byteBuffer: buffer)
        case .recordedStream(let bytes, let pacing):
            guard let pacing else { return .init(byteBuffer: bytes) }
            return ResponseBody { writer in
                if let outlet {
                    try await outlet.send(bytes, pacing: pacing, from: .now())
                    return try await writer.finish(nil)
                }
                // Each event a slice of the prepared recording's buffer: no allocation or copy per event or stream.
                let start = ContinuousClock.now
                var sent = 0
                for event in pacing.events where event.byteEnd > sent && event.byteEnd <= bytes.readableBytes {
                    let due = start + pacing.delay(of: event.offsetMilliseconds)
                    try await Pacer.shared.sleep(until: due)
                    if let part = bytes.getSlice(at: bytes.readerIndex + sent, length: event.byteEnd - sent) {
                        try await writer.write(part)
                    }
                    sent = event.byteEnd
                }
                if let rest = bytes.getSlice(at: bytes.readerIndex + sent, length: bytes.readableBytes - sent),
                    rest.readableBytes > 0
                {
                    try await writer.write(rest)
                }
                try await writer.finish(nil)
            }
        case .relayed(let relay):
            return ResponseBody { writer in
                let sink = ClientSink(base: writer)
                var relayed: any AnswerWriter = sink
                try await relay(&relayed)
                try await sink.finish()
            }
        }
    }
}

/// A relayed body's way to the client. A class, so the writer that the relay writes through (which may carry
/// state, as a fault's pacing writer does) is the one that is finished.
private final class ClientSink: AnswerWriter {
    var base: any ResponseBodyWriter

    init(base: any ResponseBodyWriter) { self.base = base }

    func write(_ buffer: ByteBuffer) async throws { try await base.write(buffer) }

    func finish() async throws { try await base.finish(nil) }
}
