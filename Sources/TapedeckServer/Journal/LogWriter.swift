import Foundation
public import Logging
import Synchronization

/// Writes log lines to a file descriptor from a thread of its own, in batches.
///
/// swift-log's `StreamLogHandler` formats a local time with `localtime`/`strftime` and makes one unbuffered
/// `write` per line, under stdio's lock, on whichever event-loop thread logged: at one line per request that cost
/// about a fifth of replay throughput. Here a line is appended to a buffer under a lock, and a writer thread
/// sends what gathered in one `write` at most every 20 ms (at once for warnings and worse, and when a batch passes
/// 64 KiB), so request threads never make a system call to log and a burst of lines costs one call.
public final class LogWriter: @unchecked Sendable {
    // `@unchecked`: every mutable field is read and written only while `condition` is locked.
    private let condition = NSCondition()
    private var pending: [UInt8] = []
    private var urgent = false
    /// A batch is taken from `pending` and not yet written.
    private var writing = false
    private let descriptor: Int32

    /// Lines gathered this long before they are written, unless one is urgent.
    static let gathering: TimeInterval = 0.02
    static let batchBytes = 64 * 1024

    /// Standard error, where the server's log goes.
    public static let standardError = LogWriter(descriptor: 2)

    init(descriptor: Int32) {
        self.descriptor = descriptor
        let thread = Thread { [self] in run() }
        thread.name = "tapedeck-log"
        thread.start()
    }

    /// Queues `line` (with its newline); `urgent` lines are written without waiting for a batch.
    func append(_ line: String, urgent: Bool) {
        condition.lock()
        let wasEmpty = pending.isEmpty
        pending.append(contentsOf: line.utf8)
        if urgent { self.urgent = true }
        let wake = wasEmpty || urgent || pending.count >= Self.batchBytes
        condition.unlock()
        if wake { condition.signal() }
    }

    /// Writes everything queued and returns once it is written (at shutdown).
    public func flush() {
        condition.lock()
        urgent = true
        condition.signal()
        while !pending.isEmpty || writing { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            if !urgent && pending.count < Self.batchBytes {
                _ = condition.wait(until: Date(timeIntervalSinceNow: Self.gathering))
            }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            urgent = false
            writing = true
            condition.unlock()
            send(batch)
            condition.lock()
            writing = false
            condition.broadcast()  // a `flush` waiting for the batch to be written
            condition.unlock()
        }
    }

    private func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return  // a closed or full descriptor: the log is lost, the server is not
            }
        }
    }
}

/// A `LogHandler` in `StreamLogHandler`'s format (`<time> <level> <label>: <metadata> [<source>] <message>`)
/// that hands its lines to a `LogWriter`.
public struct LogLineHandler: LogHandler {
    public var logLevel: Logger.Level
    // Hummingbird sets `hb.request.id` here for every request, so nothing is formatted on a set.
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let writer: LogWriter

    public init(label: String, level: Logger.Level, writer: LogWriter = .standardError) {
        self.label = label
        self.logLevel = level
        self.writer = writer
        self.metadataProvider = LoggingSystem.metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = LogClock.shared.now()
        line.reserveCapacity(160)
        line += " \(event.level) \(label):"
        // A handful of pairs: an array, sorted, costs less than merging dictionaries (the per-request line was
        // a few percent of replay's CPU with `StreamLogHandler`'s merge).
        var pairs = metadata.map { ($0.key, $0.value) }
        func set(_ extra: Logger.Metadata?) {
            for (key, value) in extra ?? [:] {
                if let i = pairs.firstIndex(where: { $0.0 == key }) { pairs[i].1 = value } else { pairs.append((key, value)) }
            }
        }
        set(metadataProvider?.get())
        set(event.metadata)
        pairs.sort { $0.0 < $1.0 }
        for (key, value) in pairs { line += " \(key)=\(value)" }
        line += " [\(event.source)] \(event.message)\n"
        writer.append(line, urgent: event.level >= .warning)
    }
}

/// The local time of log lines, formatted once a second: `localtime` can read the zone file on every call.
final class LogClock: Sendable {
    static let shared = LogClock()
    private let cached = Mutex<(second: Int, text: String)>((-1, ""))

    func now() -> String {
        var seconds = time(nil)
        if let hit = cached.withLock({ $0.second == seconds ? $0.text : nil }) { return hit }
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        let text = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        cached.withLock { $0 = (seconds, text) }
        return text
    }
}
