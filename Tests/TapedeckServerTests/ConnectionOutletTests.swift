import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import TapedeckServer

/// The outlet paced bodies go out through, on real loopback sockets: a server channel with the connection guard in
/// front of NIO's HTTP/1 response encoder, as in the server, and a client that notes when each byte arrives.
@Suite("Paced bodies written from the connection's event loop", .timeLimit(.minutes(1)))
struct ConnectionOutletTests {
    /// Three events: `aaa` at once, `bbb` after `second` ms, `ccc` after `third` ms.
    static let body = ByteBuffer(string: "aaabbbccc")
    static func pacing(second: Int, third: Int) -> Answer.Pacing {
        Answer.Pacing(events: [(3, 0), (6, second), (9, third)], speed: 1)
    }

    @Test func eachEventLeavesNoEarlierThanItsTimeAndTheBodyIsWhole() async throws {
        try await withConnection { outlet, arrivals, _, _ in
            let start = NIODeadline.now()
            try await outlet.send(Self.body, pacing: Self.pacing(second: 200, third: 400), from: start)
            let got = try await arrivals.until(payload: "ccc\r\n")
            let first = try #require(got.firstArrival(of: "aaa"))
            let second = try #require(got.firstArrival(of: "bbb"))
            let third = try #require(got.firstArrival(of: "ccc"))
            #expect(second >= start + .milliseconds(200), "bbb came before its time")
            #expect(third >= start + .milliseconds(400), "ccc came before its time")
            #expect(first < start + .milliseconds(200), "the first event is not held back with the second")
            // Chunked, as the encoder frames a body without a length.
            #expect(got.text.hasSuffix("ccc\r\n"), "\(got.text)")
        }
    }

    /// A client that stops reading holds the events back (as Hummingbird's writer would), and they go on when it
    /// reads again.
    @Test func eventsWaitForAClientThatIsNotReading() async throws {
        let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: 512 << 10)
        var bytes = big
        bytes.writeString("bbb")
        let body = bytes
        let pacing = Answer.Pacing(events: [(big.readableBytes, 0), (body.readableBytes, 10)], speed: 1)
        try await withConnection(reading: false) { outlet, arrivals, client, server in
            let sending = Task { try await outlet.send(body, pacing: pacing, from: .now()) }
            // The first event alone backs the output up; only then does the client start reading.
            while server.isWritable { await Task.yield() }
            try await client.setOption(ChannelOptions.autoRead, value: true).get()
            client.read()
            try await sending.value
            #expect(try await arrivals.until(payload: "bbb").bytes.count > big.readableBytes)
        }
    }

    /// A client that hangs up ends the send at once, not at its next event (an hour away here).
    @Test func aClosedConnectionEndsTheSendAtOnce() async throws {
        try await withConnection { outlet, arrivals, client, _ in
            let sending = Task { try await outlet.send(Self.body, pacing: Self.pacing(second: 3_600_000, third: 3_600_001), from: .now()) }
            _ = try await arrivals.until(payload: "aaa")
            try await client.close()
            await #expect(throws: ChannelError.self) { try await sending.value }
        }
    }

    @Test func cancellingTheTaskEndsTheSendAndKeepsTheConnection() async throws {
        try await withConnection { outlet, arrivals, client, _ in
            let sending = Task { try await outlet.send(Self.body, pacing: Self.pacing(second: 3_600_000, third: 3_600_001), from: .now()) }
            _ = try await arrivals.until(payload: "aaa")
            sending.cancel()
            await #expect(throws: CancellationError.self) { try await sending.value }
            #expect(client.isActive)
            // The outlet takes the next body.
            try await outlet.send(ByteBuffer(string: "ddd"), pacing: Answer.Pacing(events: [(3, 0)], speed: 1), from: .now())
            #expect(try await arrivals.until(payload: "ddd").text.contains("ddd"))
        }
    }

    // MARK: Sockets

    /// What the client received so far, byte by byte with its arrival time.
    struct Received: Sendable {
        var bytes: [UInt8] = []
        var times: [NIODeadline] = []
        var text: String { String(decoding: bytes, as: UTF8.self) }

        func firstArrival(of payload: String) -> NIODeadline? {
            text.utf8.firstRange(of: payload.utf8).map { times[text.utf8.distance(from: text.utf8.startIndex, to: $0.lowerBound)] }
        }
    }

    final class Arrivals: Sendable {
        let stream: AsyncStream<Received>
        init(_ stream: AsyncStream<Received>) { self.stream = stream }

        /// Waits until everything received contains `payload` (the stream ends, and this throws, if the connection closes first).
        func until(payload: String) async throws -> Received {
            for await received in stream where received.text.contains(payload) { return received }
            throw ChannelError.eof
        }
    }

    final class Recorder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<Received>.Continuation
        private let received = Mutex(Received())
        init(_ continuation: AsyncStream<Received>.Continuation) { self.continuation = continuation }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            let now = NIODeadline.now()
            let snapshot = received.withLock { received in
                received.bytes += buffer.readableBytesView
                received.times += Array(repeating: now, count: buffer.readableBytes)
                return received
            }
            continuation.yield(snapshot)
        }

        func channelInactive(context: ChannelHandlerContext) { continuation.finish() }
    }

    /// A server connection with its outlet, after the response head went out, and the client's end of it.
    /// With `reading: false` the client reads nothing until the test turns `autoRead` on, and both sides keep
    /// small socket buffers, so the server's output backs up after a few hundred kilobytes.
    func withConnection(
        reading: Bool = true, _ body: (ConnectionOutlet, Arrivals, _ client: any Channel, _ server: any Channel) async throws -> Void
    ) async throws {
        let (accepted, accept) = AsyncStream.makeStream(of: (any Channel).self)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(ChannelOptions.socketOption(.so_sndbuf), value: reading ? 1 << 20 : 4096)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(HTTPResponseEncoder())
                    try channel.pipeline.syncOperations.addHandler(HTTP1ConnectionGuard(limiter: ConnectionLimiter(limit: 4)))
                    accept.yield(channel)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let (stream, continuation) = AsyncStream.makeStream(of: Received.self, bufferingPolicy: .bufferingNewest(1))
        do {
            let port = try #require(server.localAddress?.port)
            let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(ChannelOptions.autoRead, value: reading)
                .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: reading ? 1 << 20 : 4096)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Recorder(continuation)) }
                }
                .connect(host: "127.0.0.1", port: port).get()
            var connections = accepted.makeAsyncIterator()
            let connection = try #require(await connections.next())
            let outlet = try #require(ClientConnection.of(connection).outlet)
            // No length: the encoder frames the body chunked, as a stream's.
            try await connection.writeAndFlush(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
            do {
                try await body(outlet, Arrivals(stream), client, connection)
            } catch {
                try? await client.close()
                throw error
            }
            try? await client.close()
        } catch {
            try? await server.close()
            throw error
        }
        try await server.close()
    }
}
