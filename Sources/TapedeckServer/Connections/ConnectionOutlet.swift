import NIOCore
import NIOHTTP1
import Synchronization

/// A connection's way to write a paced stream's body from its own event loop, each event at its due time.
///
/// Through the response body writer, every event of a paced stream was a wait on `Pacer`, a job on the
/// cooperative pool and a hop back to the event loop. Here the loop holds the timer and writes at the HTTP
/// encoder, with no task, continuation or thread hop per event: at 5,000 streams (50,000 events a second) that
/// took a quarter off the server's CPU and the gap error's p99 from about 70 ms to 12–31 ms.
///
/// `HTTP1ConnectionGuard` makes one per connection and writes through its own place in the pipeline, in front of
/// the HTTP/1 codec: body parts only, so the response's head and end still go through Hummingbird's writer.
final class ConnectionOutlet: Sendable {
    let eventLoop: any EventLoop
    private let state: NIOLoopBoundBox<State>

    private struct State {
        /// The guard's context while it is in the pipeline.
        var context: ChannelHandlerContext?
        /// The body being sent (a connection answers one request at a time).
        var current: PacedSend?
    }

    init(context: ChannelHandlerContext) {
        eventLoop = context.eventLoop
        state = NIOLoopBoundBox(State(context: context), eventLoop: context.eventLoop)
    }

    /// Called on the loop when the connection's output drains: a body held back goes on.
    func writable() { state.value.current?.step() }

    /// Called on the loop when the connection closes: a body being sent ends now, not at its next event.
    func close() {
        state.value.current?.stop(ChannelError.ioOnClosedChannel)
        state.value = State()
    }

    /// Writes `bytes`, each of `pacing`'s events (the bytes up to its end) when it is due after `start`, then what
    /// is left, and returns once the last is handed to the connection. While the client is not reading, the
    /// events wait, as they would in Hummingbird's writer. Throws when the connection closes first, and
    /// `CancellationError` when the task is cancelled.
    func send(_ bytes: ByteBuffer, pacing: Answer.Pacing, from start: NIODeadline) async throws {
        let sending = NIOLoopBoundBox.makeBoxSendingValue(Sending.starting, as: Sending.self, eventLoop: eventLoop)
        let (loop, state) = (eventLoop, self.state)
        try await withTaskCancellationHandler {
            // Submitted after the head: Hummingbird's writer hands it to this loop (`execute`) before the body
            // starts, and the loop runs what it is given in order.
            try await loop.flatSubmit { () -> EventLoopFuture<Void> in
                if case .cancelled = sending.value { return loop.makeFailedFuture(CancellationError()) }
                guard let context = state.value.context, context.channel.isActive else {
                    return loop.makeFailedFuture(ChannelError.ioOnClosedChannel)
                }
                let send = PacedSend(context: context, bytes: bytes, pacing: pacing, start: start, ticks: LoopTicks.of(loop))
                sending.value = .sending(send)
                state.value.current = send
                send.step()
                let sent = send.done.futureResult
                sent.assumeIsolated().whenComplete { _ in
                    if state.value.current === send { state.value.current = nil }
                }
                return sent
            }.get()
        } onCancel: {
            loop.execute {
                if case .sending(let send) = sending.value { send.stop(CancellationError()) } else { sending.value = .cancelled }
            }
        }
    }

    /// Where a `send` is, as its cancellation sees it (which may come before the send starts on the loop).
    private enum Sending {
        case starting, sending(PacedSend), cancelled
    }
}

/// One paced body on its way out, confined to the connection's loop.
private final class PacedSend {
    /// Let go when the send ends: a stopped send may wait in `LoopTicks` until its next event was due (a day at
    /// most), and must not hold the connection's pipeline that long.
    private var context: ChannelHandlerContext?
    let bytes: ByteBuffer
    /// Shared with the prepared answer: a stream keeps no copy of its timing.
    let pacing: Answer.Pacing
    let start: NIODeadline
    let done: EventLoopPromise<Void>
    private let ticks: LoopTicks
    private var next = 0
    private var sent = 0
    /// A wake is due in `ticks`: a step made by the connection becoming writable again schedules no other.
    private var awaitingTick = false

    init(context: ChannelHandlerContext, bytes: ByteBuffer, pacing: Answer.Pacing, start: NIODeadline, ticks: LoopTicks) {
        self.context = context
        self.bytes = bytes
        self.pacing = pacing
        self.start = start
        self.ticks = ticks
        done = context.eventLoop.makePromise()
    }

    private func due(_ index: Int) -> NIODeadline {
        start + TimeAmount(pacing.delay(of: pacing.events[index].offsetMilliseconds))
    }

    /// Called by `ticks` at the time asked for.
    func wake() {
        awaitingTick = false
        step()
    }

    /// Writes every event that is due (those due together in one write), then waits for the next; after the
    /// last, writes the rest and completes. While the client is not reading (the channel is not writable) it
    /// writes nothing and goes on when `ConnectionOutlet.writable` calls it again, as Hummingbird's writer would
    /// wait.
    func step() {
        guard let context else { return }
        guard context.channel.isActive else { return stop(ChannelError.ioOnClosedChannel) }
        guard context.channel.isWritable else { return }
        let now = NIODeadline.now()
        var end = sent
        // An event that adds no bytes (or lies past them) is not waited for, as `Pacer`'s path skips it too.
        while next < pacing.events.count {
            let event = pacing.events[next]
            let adds = event.byteEnd > end && event.byteEnd <= bytes.readableBytes
            guard !adds || due(next) <= now else { break }
            if adds { end = event.byteEnd }
            next += 1
        }
        guard next < pacing.events.count else {
            // Not waiting for the socket to take the last bytes, as the writer did not: a client that stops
            // reading now must not hold the request (and a server's shutdown) until it goes away.
            write(upTo: bytes.readableBytes, through: context)
            self.context = nil
            return done.succeed()
        }
        write(upTo: end, through: context)
        guard !awaitingTick else { return }
        awaitingTick = true
        ticks.wake(self, at: due(next))
    }

    private func write(upTo end: Int, through context: ChannelHandlerContext) {
        guard end > sent, let part = bytes.getSlice(at: bytes.readerIndex + sent, length: end - sent) else { return }
        sent = end
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(part))), promise: nil)
    }

    /// Ends the body early: the connection closed, or the task was cancelled.
    func stop(_ error: any Error) {
        guard context != nil else { return }
        context = nil  // a wake still due finds it ended
        done.fail(error)
    }
}

/// The wake-ups of one event loop's paced bodies, gathered by the millisecond: one loop timer per millisecond
/// that has bodies due, however many bodies are due in it.
///
/// A loop timer per body and event kept thousands of entries in the loop's scheduled-task heap, and keeping that
/// heap in order was a tenth of the server's CPU at 5,000 streams. Rounding up to the next millisecond is the
/// precision `Pacer` has too.
private final class LoopTicks {
    private let loop: NIOIsolatedEventLoop
    private var due: [UInt64: [PacedSend]] = [:]

    private init(loop: NIOIsolatedEventLoop) { self.loop = loop }

    /// Wakes `send` at `deadline`, rounded up to the millisecond.
    func wake(_ send: PacedSend, at deadline: NIODeadline) {
        let (whole, part) = deadline.uptimeNanoseconds.quotientAndRemainder(dividingBy: 1_000_000)
        let tick = part > 0 ? whole + 1 : whole
        if due[tick] != nil {
            due[tick]?.append(send)
            return
        }
        due[tick] = [send]
        loop.scheduleTask(deadline: .uptimeNanoseconds(tick &* 1_000_000)) { [self] in
            for send in due.removeValue(forKey: tick) ?? [] { send.wake() }
        }
    }

    /// This loop's ticks, made on first use (on the loop).
    static func of(_ loop: any EventLoop) -> LoopTicks {
        let key = ObjectIdentifier(loop)
        if let ticks = byLoop.withLock({ $0[key] }) { return ticks.value }
        let ticks = NIOLoopBound(LoopTicks(loop: loop.assumeIsolated()), eventLoop: loop)
        byLoop.withLock { $0[key] = ticks }
        return ticks.value
    }

    /// Each entry keeps its loop, so a key is never reused by another loop.
    private static let byLoop = Mutex<[ObjectIdentifier: NIOLoopBound<LoopTicks>]>([:])
}
