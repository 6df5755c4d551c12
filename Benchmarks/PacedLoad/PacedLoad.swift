import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The load client of the paced-streams benchmark: holds many streaming `/v1/messages` requests open at once and
/// measures how closely each stream's event gaps follow the recording. Built by the benchmark harness only.
///
/// It connects all streams first (ramped, so the listen backlog never overflows), then starts their requests
/// spread over a short window, so every stream is open at the same time; a client that connected and requested in
/// one ramp would never hold more than rate × stream length.
///
/// Usage: `bench-paced-load --port P --body FILE --streams N --events E --gap-ms G
///         [--host H] [--connect-rate R] [--start-spread-ms S] [--timeout-s T]`
/// Prints one JSON object on stdout.
@main
enum PacedLoad {
    static func main() async throws {
        let options: Options
        do { options = try Options(CommandLine.arguments.dropFirst()) } catch {
            print(
                "bench-paced-load: \(error.message)\nusage: bench-paced-load --port P --body FILE --streams N --events E --gap-ms G [--host H] [--connect-rate R] [--start-spread-ms S] [--timeout-s T]"
            )
            exit(2)
        }
        let fileLimit = FileLimit.raiseToHard()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let loops = Array(group.makeIterator())
        var stats: [NIOLoopBound<LoopStats>] = []
        for loop in loops { stats.append(try await loop.submit { NIOLoopBound(LoopStats(), eventLoop: loop) }.get()) }
        let tracker = Tracker(total: options.streams, promise: loops[0].makePromise(of: Void.self))
        let request = StreamRequest(host: options.host, port: options.port, body: options.body)
        let shape = StreamShape(events: options.events, gapNanoseconds: UInt64(options.gapMilliseconds) * 1_000_000)

        // 1. Connect, ramped.
        let clock = ContinuousClock()
        let connectStart = clock.now
        var pending: [EventLoopFuture<any Channel>] = []
        pending.reserveCapacity(options.streams)
        let perTick = max(1, options.connectRate / 100)
        for i in 0..<options.streams {
            if i > 0 && i % perTick == 0 {
                try await Task.sleep(until: connectStart + .milliseconds(10 * (i / perTick)), clock: clock)
            }
            let loop = loops[i % loops.count]
            let bound = stats[i % loops.count]
            let connection = ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(
                            PacedStreamHandler(request: request, shape: shape, stats: bound.value, tracker: tracker))
                    }
                }
                .connect(host: options.host, port: options.port)
            pending.append(connection)
        }
        var channels: [any Channel] = []
        channels.reserveCapacity(options.streams)
        for connection in pending {
            do { channels.append(try await connection.get()) } catch {
                tracker.record(error: "connect: " + ErrorKind.of(error))
                tracker.finished()
            }
        }
        pending = []
        let connectSeconds = (clock.now - connectStart).seconds

        // 2. Start every request within the spread window.
        let goStart = clock.now
        let spread = Duration.milliseconds(options.startSpreadMilliseconds)
        let ticks = max(1, options.startSpreadMilliseconds / 10)
        for (i, channel) in channels.enumerated() {
            let tick = i * ticks / max(1, channels.count)
            if tick > 0 { try await Task.sleep(until: goStart + spread * (Double(tick) / Double(ticks)), clock: clock) }
            channel.pipeline.fireUserInboundEventTriggered(Go())
        }

        // 3. Wait for the last stream, or give up on the stragglers at the deadline.
        let deadline = loops[0].scheduleTask(in: .seconds(Int64(options.timeoutSeconds))) { tracker.giveUp() }
        try await tracker.allDone.futureResult.get()
        deadline.cancel()
        let wallSeconds = (clock.now - goStart).seconds
        for channel in channels { channel.close(promise: nil) }
        for channel in channels { try? await channel.closeFuture.get() }
        channels = []

        var total = LoopStats.Snapshot()
        for (loop, bound) in zip(loops, stats) {
            total.merge(try await loop.submit { bound.value.snapshot }.get())
        }
        try await group.shutdownGracefully()
        print(
            Report(
                options: options, stats: total, tracker: tracker, connectSeconds: connectSeconds, wallSeconds: wallSeconds,
                fileLimit: fileLimit
            ).json)
    }
}

/// The event that starts a connected stream's request.
struct Go: Sendable {}

/// What every stream sends: one streaming POST, the same bytes for all.
struct StreamRequest: Sendable {
    let head: HTTPRequestHead
    let body: ByteBuffer

    init(host: String, port: Int, body: [UInt8]) {
        var headers = HTTPHeaders()
        headers.add(name: "host", value: "\(host):\(port)")
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "x-api-key", value: "bench")
        headers.add(name: "anthropic-version", value: "2023-06-01")
        headers.add(name: "content-length", value: String(body.count))
        head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/messages", headers: headers)
        self.body = ByteBuffer(bytes: body)
    }
}

/// The recording every stream replays: `events` events, `gapNanoseconds` apart.
struct StreamShape: Sendable {
    let events: Int
    let gapNanoseconds: UInt64
}

/// One stream: sends the request on `Go`, timestamps each `event:` line as it arrives, and files the outcome.
final class PacedStreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let request: StreamRequest
    private let shape: StreamShape
    private let stats: LoopStats
    private let tracker: Tracker
    private var scanner = EventLineScanner()
    private var sentAt: UInt64 = 0
    private var firstAt: UInt64 = 0
    private var lastAt: UInt64 = 0
    private var events = 0
    private var status = 0
    private var started = false
    private var done = false

    init(request: StreamRequest, shape: StreamShape, stats: LoopStats, tracker: Tracker) {
        self.request = request
        self.shape = shape
        self.stats = stats
        self.tracker = tracker
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Go, !started, !done else { return context.fireUserInboundEventTriggered(event) }
        started = true
        tracker.started()
        sentAt = now()
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(let buffer):
            let found = scanner.count(in: buffer)
            guard found > 0 else { return }
            let at = now()
            for _ in 0..<found { arrived(at: at) }
        case .end:
            if status != 200 {
                fail(context: context, kind: "status \(status)")
            } else if events != shape.events {
                fail(context: context, kind: events < shape.events ? "short stream" : "long stream")
            } else {
                finish(context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done { fail(context: context, kind: tracker.hasGivenUp ? "timeout" : started ? "closed mid-stream" : "closed before start") }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done { fail(context: context, kind: ErrorKind.of(error)) }
        context.close(promise: nil)
    }

    private func arrived(at time: UInt64) {
        if events == 0 {
            firstAt = time
            stats.firstEvent.record(nanoseconds: time &- sentAt)
        } else {
            stats.gapError.record(nanoseconds: distance(time &- lastAt, shape.gapNanoseconds))
            stats.drift.record(nanoseconds: distance(time &- firstAt, UInt64(events) * shape.gapNanoseconds))
        }
        lastAt = time
        events += 1
    }

    private func finish(context: ChannelHandlerContext) {
        done = true
        stats.total.record(nanoseconds: now() &- sentAt)
        tracker.completed()
        context.close(promise: nil)
    }

    private func fail(context: ChannelHandlerContext, kind: String) {
        done = true
        tracker.record(error: kind)
        tracker.failed(wasStarted: started)
        context.close(promise: nil)
    }

    private func distance(_ a: UInt64, _ b: UInt64) -> UInt64 { a > b ? a - b : b - a }

    private func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
}

/// Counts `event:` at the start of SSE lines, across chunk boundaries, without copying.
struct EventLineScanner {
    private static let prefix: [UInt8] = Array("event:".utf8)
    /// Bytes of the prefix matched on the current line; -1 once the line cannot start with it.
    private var matched = 0

    mutating func count(in buffer: ByteBuffer) -> Int {
        buffer.withUnsafeReadableBytes { bytes in
            var found = 0
            for byte in bytes {
                if byte == UInt8(ascii: "\n") {
                    matched = 0
                } else if matched >= 0 {
                    if byte == Self.prefix[matched] {
                        matched += 1
                        if matched == Self.prefix.count {
                            found += 1
                            matched = -1
                        }
                    } else {
                        matched = -1
                    }
                }
            }
            return found
        }
    }
}

/// One event loop's measurements: touched only on that loop (through `NIOLoopBound`), merged at the end.
final class LoopStats {
    var firstEvent = Histogram()
    var gapError = Histogram()
    var drift = Histogram()
    var total = Histogram()

    var snapshot: Snapshot { Snapshot(firstEvent: firstEvent, gapError: gapError, drift: drift, total: total) }

    struct Snapshot: Sendable {
        var firstEvent = Histogram()
        var gapError = Histogram()
        var drift = Histogram()
        var total = Histogram()

        mutating func merge(_ other: Snapshot) {
            firstEvent.merge(other.firstEvent)
            gapError.merge(other.gapError)
            drift.merge(other.drift)
            total.merge(other.total)
        }
    }
}

/// Durations in fixed buckets, so recording is an increment: 10 µs wide up to 100 ms, 1 ms wide up to 120 s
/// (beyond: the last bucket); the maximum is kept exactly.
struct Histogram: Sendable {
    private static let fineLimit: UInt64 = 100_000  // µs
    private static let fineWidth: UInt64 = 10
    private static let coarseWidth: UInt64 = 1_000
    private static let bucketCount = Int(fineLimit / fineWidth) + 120_000 - 100
    private var counts: [UInt32] = []
    private(set) var count = 0
    private(set) var maxNanoseconds: UInt64 = 0

    mutating func record(nanoseconds: UInt64) {
        if counts.isEmpty { counts = [UInt32](repeating: 0, count: Self.bucketCount) }
        let micros = nanoseconds / 1_000
        let bucket =
            micros < Self.fineLimit
            ? Int(micros / Self.fineWidth)
            : Int(Self.fineLimit / Self.fineWidth) + Int((micros - Self.fineLimit) / Self.coarseWidth)
        counts[min(bucket, Self.bucketCount - 1)] &+= 1
        count += 1
        maxNanoseconds = max(maxNanoseconds, nanoseconds)
    }

    mutating func merge(_ other: Histogram) {
        guard !other.counts.isEmpty else { return }
        if counts.isEmpty {
            counts = other.counts
        } else {
            for i in counts.indices { counts[i] &+= other.counts[i] }
        }
        count += other.count
        maxNanoseconds = max(maxNanoseconds, other.maxNanoseconds)
    }

    /// The upper edge of the bucket holding the `fraction` quantile, in milliseconds (never above the maximum).
    func quantileMilliseconds(_ fraction: Double) -> Double {
        guard count > 0 else { return 0 }
        let rank = max(1, Int((Double(count) * fraction).rounded(.up)))
        var seen = 0
        for (i, n) in counts.enumerated() where n > 0 {
            seen += Int(n)
            if seen >= rank {
                let fineBuckets = Int(Self.fineLimit / Self.fineWidth)
                let upperMicros =
                    i < fineBuckets
                    ? UInt64(i + 1) * Self.fineWidth
                    : Self.fineLimit + UInt64(i - fineBuckets + 1) * Self.coarseWidth
                return min(Double(upperMicros) / 1_000, maxMilliseconds)
            }
        }
        return maxMilliseconds
    }

    var maxMilliseconds: Double { Double(maxNanoseconds) / 1_000_000 }
}

/// Counts shared by all loops: how many streams are open, started and done, and failures by kind.
final class Tracker: Sendable {
    let total: Int
    let allDone: EventLoopPromise<Void>
    private let done = Atomic<Int>(0)
    private let active = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)
    private let startedCount = Atomic<Int>(0)
    private let completedCount = Atomic<Int>(0)
    private let failedCount = Atomic<Int>(0)
    private let gaveUp = Atomic<Bool>(false)
    private let errors = Mutex<[String: Int]>([:])

    init(total: Int, promise: EventLoopPromise<Void>) {
        self.total = total
        self.allDone = promise
        if total == 0 { promise.succeed() }
    }

    func started() {
        startedCount.wrappingAdd(1, ordering: .relaxed)
        let open = active.wrappingAdd(1, ordering: .relaxed).newValue
        var seen = peak.load(ordering: .relaxed)
        while open > seen {
            let (exchanged, current) = peak.compareExchange(expected: seen, desired: open, ordering: .relaxed)
            if exchanged { break }
            seen = current
        }
    }

    func completed() {
        completedCount.wrappingAdd(1, ordering: .relaxed)
        active.wrappingSubtract(1, ordering: .relaxed)
        finished()
    }

    func failed(wasStarted: Bool) {
        failedCount.wrappingAdd(1, ordering: .relaxed)
        if wasStarted { active.wrappingSubtract(1, ordering: .relaxed) }
        finished()
    }

    /// A stream is over (done, failed, or never connected); the last one releases `allDone`.
    func finished() {
        if done.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == total { allDone.succeed() }
    }

    func record(error kind: String) { errors.withLock { $0[kind, default: 0] += 1 } }

    func giveUp() {
        if !gaveUp.exchange(true, ordering: .acquiringAndReleasing) { allDone.succeed() }
    }

    var hasGivenUp: Bool { gaveUp.load(ordering: .acquiring) }
    var startedStreams: Int { startedCount.load(ordering: .relaxed) }
    var completedStreams: Int { completedCount.load(ordering: .relaxed) }
    var failedStreams: Int { failedCount.load(ordering: .relaxed) }
    var peakConcurrent: Int { peak.load(ordering: .relaxed) }
    var errorCounts: [String: Int] { errors.withLock { $0 } }
}

enum ErrorKind {
    static func of(_ error: any Error) -> String {
        if let io = error as? IOError { return "\(io.description)" }
        return String(describing: error)
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}

/// The file-descriptor limit raised to the hard limit: one descriptor per stream.
enum FileLimit {
    static func raiseToHard() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        return Int(limit.rlim_cur)
    }
}

/// CPU time this process used (user + system), in seconds: the client shares the box with the server.
enum ProcessCPU {
    static func seconds() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return -1 }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// Peak resident memory of this process (VmHWM), in MB.
enum ProcessMemory {
    static func peakMegabytes() -> Double {
        guard let file = fopen("/proc/self/status", "r") else { return -1 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("VmHWM:") else { continue }
            let digits = text.dropFirst(6).filter(\.isNumber)
            return (Double(String(digits)) ?? -1) / 1024
        }
        return -1
    }
}

struct Options {
    var host = "127.0.0.1"
    var port = 0
    var body: [UInt8] = []
    var streams = 0
    var events = 0
    var gapMilliseconds = 0
    var connectRate = 1_000
    var startSpreadMilliseconds = 1_000
    var timeoutSeconds = 60

    struct Problem: Error { let message: String }

    init(_ arguments: ArraySlice<String>) throws(Problem) {
        var rest = arguments
        var bodyPath = ""
        while let name = rest.popFirst() {
            guard let value = rest.popFirst() else { throw Problem(message: "\(name) needs a value") }
            func number() throws(Problem) -> Int {
                guard let n = Int(value), n >= 0 else { throw Problem(message: "\(name): expected a whole number, got '\(value)'") }
                return n
            }
            switch name {
            case "--host": host = value
            case "--port": port = try number()
            case "--body": bodyPath = value
            case "--streams": streams = try number()
            case "--events": events = try number()
            case "--gap-ms": gapMilliseconds = try number()
            case "--connect-rate": connectRate = max(1, try number())
            case "--start-spread-ms": startSpreadMilliseconds = try number()
            case "--timeout-s": timeoutSeconds = max(1, try number())
            default: throw Problem(message: "unknown option \(name)")
            }
        }
        guard port > 0, events > 0, !bodyPath.isEmpty else { throw Problem(message: "--port, --body and --events are required") }
        guard let file = fopen(bodyPath, "rb") else { throw Problem(message: "cannot read \(bodyPath)") }
        defer { fclose(file) }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            body += chunk[0..<n]
        }
    }
}

/// The run as one JSON object (written by hand: the keys are fixed and the values numbers or error kinds).
struct Report {
    let options: Options
    let stats: LoopStats.Snapshot
    let tracker: Tracker
    let connectSeconds: Double
    let wallSeconds: Double
    let fileLimit: Int

    var json: String {
        func quantiles(_ h: Histogram) -> String {
            "{\"count\":\(h.count),\"p50\":\(ms(h.quantileMilliseconds(0.5))),\"p99\":\(ms(h.quantileMilliseconds(0.99))),\"max\":\(ms(h.maxMilliseconds))}"
        }
        func ms(_ x: Double) -> String { String(Double(Int((x * 1000).rounded())) / 1000) }
        let errors = tracker.errorCounts.sorted { $0.key < $1.key }
            .map { "\(quoted($0.key)):\($0.value)" }.joined(separator: ",")
        return "{\"streams\":\(options.streams),\"events_per_stream\":\(options.events),\"gap_ms\":\(options.gapMilliseconds),"
            + "\"started\":\(tracker.startedStreams),\"completed\":\(tracker.completedStreams),\"failed\":\(tracker.failedStreams),"
            + "\"peak_concurrent\":\(tracker.peakConcurrent),\"connect_s\":\(ms(connectSeconds)),\"wall_s\":\(ms(wallSeconds)),"
            + "\"total_ms\":\(quantiles(stats.total)),\"first_event_ms\":\(quantiles(stats.firstEvent)),"
            + "\"gap_error_ms\":\(quantiles(stats.gapError)),\"drift_ms\":\(quantiles(stats.drift)),"
            + "\"errors\":{\(errors)},\"fd_limit\":\(fileLimit),\"client_peak_rss_mb\":\(ms(ProcessMemory.peakMegabytes())),"
            + "\"client_cpu_s\":\(ms(ProcessCPU.seconds()))}"
    }

    private func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += " "
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
