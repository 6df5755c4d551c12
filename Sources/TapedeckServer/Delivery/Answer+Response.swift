import Cassette
import HTTPTypes
public import Hummingbird
import MessagesAPI
import NIOCore

extension Answer {
    /// The HTTP response for this answer: the one place an answer becomes HTTP. A stream whose events are all at
    /// hand goes out in one write; a paced or relayed one event by event, as each is due; faults break or pace
    /// the body on the way out.
    public func response() -> Response {
        var response = Response(status: .init(code: status), headers: headers, body: .init())
        if Interaction.isBodyless(status) {
            // A body after a 204 or 304 would be read by a keep-alive client as the start of the next response.
            response.headers[.contentType] = nil
        } else {
            response.body = responseBody()
        }
        guard let faults else { return response }
        response.headers[.tapedeckFault] = faults.description
        return response.applying(faults)
    }

    private func responseBody() -> ResponseBody {
        switch body {
        case .json(let buffer):
            return .init(byteBuffer: buffer)
        case .events(let events):
            // Made events are all there at once: one write (a write per event cost a synthesized stream
            // three quarters of its throughput), chunked, as a recorded stream goes.
            return ResponseBody { writer in
                var buffer = ByteBuffer()
                buffer.reserveCapacity(events.reduce(0) { $0 + $1.bytes.count })
                for event in events { buffer.writeBytes(event.bytes) }
                try await writer.write(buffer)
                try await writer.finish(nil)
            }
        case .recordedStream(let bytes, let pacing):
            guard let pacing else {
                // One write, but through a body closure: streams go out chunked, as the API sends them.
                return ResponseBody { writer in
                    try await writer.write(ByteBuffer(bytes: bytes))
                    try await writer.finish(nil)
                }
            }
            return ResponseBody { writer in
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
