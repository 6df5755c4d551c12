import Foundation
public import Logging
import Synchronization

/// Writes log lines to a file descriptor from a thread of its own, in batches.
///
/// swift-log's `StreamLogHandler` formats a local time with `localtime`/`strftime` and makes one unbuffered
/// `write` per line, under stdio's lock, on whichever event-loop thread logged: at one line per request that cost
/// about a fifth of replay throughput. Here a request thread only queues the event's parts under a lock; a writer
/// thread formats what gathered and sends it in one `write` at most every 20 ms (at once for warnings and worse,
/// and when a batch passes 512 lines), so request threads never format a time, sort metadata or make a system
/// call to log, and a burst of lines costs one call.
public final class LogWriter: @unchecked Sendable {
    // `@unchecked`: every mutable field is read and written only while `condition` is locked.
    private let condition = NSCondition()
    private var pending: [Line] = []
    private var urgent = false
    /// A batch is taken from `pending` and not yet written.
    private var writing = false
    private let descriptor: Int32

    /// Lines gathered this long before they are written, unless one is urgent.
    static let gathering: TimeInterval = 0.02
    static let batchLines = 512

    /// A log line not yet formatted: what `LogLineHandler` had at hand when it was logged.
    enum Line {
        case text(String)
        case event(
            seconds: Int, label: String, level: Logger.Level, source: String, message: Logger.Message,
            base: Logger.Metadata, extra: Logger.Metadata?)
        /// The line logged for every request, at `info`: kept as plain fields, since building the metadata
        /// dictionaries of a generic event and merging them again was most of what a request's log line cost.
        case access(seconds: Int, label: String, base: Logger.Metadata, access: AccessLine)
    }

    /// Standard error, where the server's log goes.
    public static let standardError = LogWriter(descriptor: 2)

    init(descriptor: Int32) {
        self.descriptor = descriptor
        let thread = Thread { [self] in run() }
        thread.name = "tapedeck-log"
        thread.start()
    }

    /// Queues `line` (with its newline); `urgent` lines are written without waiting for a batch.
    func append(_ line: String, urgent: Bool) { enqueue(.text(line), urgent: urgent) }

    func enqueue(_ line: Line, urgent: Bool) {
        condition.lock()
        let wasEmpty = pending.isEmpty
        pending.append(line)
        if urgent { self.urgent = true }
        let wake = wasEmpty || urgent || pending.count >= Self.batchLines
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
            if !urgent && pending.count < Self.batchLines {
                _ = condition.wait(until: Date(timeIntervalSinceNow: Self.gathering))
            }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            urgent = false
            writing = true
            condition.unlock()
            var bytes: [UInt8] = []
            bytes.reserveCapacity(batch.count * 160)
            for line in batch { Self.append(line, to: &bytes) }
            send(bytes)
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

    /// `StreamLogHandler`'s format: `<time> <level> <label>: <metadata, sorted> [<source>] <message>`.
    static func format(_ line: Line) -> String {
        switch line {
        case .text(let text):
            return text
        case .event(let seconds, let label, let level, let source, let message, let base, let extra):
            var text = LogClock.shared.text(for: seconds)
            text += " \(level) \(label):"
            var metadata = base
            if let extra { metadata.merge(extra) { $1 } }
            // Sorting the keys alone: sorting the pairs looked up tuple metadata at run time on every line.
            for key in metadata.keys.sorted() {
                text += " " + key + "=" + (metadata[key]?.description ?? "")
            }
            text += " [\(source)] \(message)\n"
            return text
        case .access:
            var bytes: [UInt8] = []
            append(line, to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Appends `line` as `format` writes it. A request's line goes straight into the batch's bytes, piece by
    /// piece: building it as strings first cost twice as much per line.
    static func append(_ line: Line, to bytes: inout [UInt8]) {
        guard case .access(let seconds, let label, let base, let access) = line else {
            bytes += format(line).utf8
            return
        }
        bytes += LogClock.shared.text(for: seconds).utf8
        bytes += " info ".utf8
        bytes += label.utf8
        bytes.append(UInt8(ascii: ":"))
        // The line `event` would make of it: its two fields win over the handler's of the same name.
        var others: [(key: String, value: String)] = []
        for (key, value) in base where key != "ms" && key != "source" { others.append((key, value.description)) }
        others.sort { $0.key < $1.key }
        var wrote = (ms: false, source: false)
        func field(_ key: String, _ write: (inout [UInt8]) -> Void) {
            bytes.append(UInt8(ascii: " "))
            bytes += key.utf8
            bytes.append(UInt8(ascii: "="))
            write(&bytes)
        }
        func ours(before key: String?) {
            if !wrote.ms, key.map({ "ms" < $0 }) ?? true {
                field("ms") { access.milliseconds.append(to: &$0) }
                wrote.ms = true
            }
            if !wrote.source, key.map({ "source" < $0 }) ?? true {
                field("source") { $0 += access.source.utf8 }
                wrote.source = true
            }
        }
        for other in others {
            ours(before: other.key)
            field(other.key) { $0 += other.value.utf8 }
        }
        ours(before: nil)
        bytes += " [".utf8
        bytes += AccessLine.module.utf8
        bytes += "] ".utf8
        bytes += access.method.utf8
        bytes.append(UInt8(ascii: " "))
        bytes += access.path.utf8
        bytes.append(UInt8(ascii: " "))
        appendDecimal(access.status, to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
    }
}

/// Appends the decimal digits of `value` (≥ 0).
func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
    guard value > 0 else { return bytes.append(UInt8(ascii: "0")) }
    var digits: [UInt8] = []
    var rest = value
    while rest > 0 {
        digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
        rest /= 10
    }
    bytes += digits.reversed()
}

/// What a request's log line says: `<method> <path> <status>`, with where the answer came from and how long it
/// took as metadata.
struct AccessLine: Sendable {
    /// The module the line is logged from, as `Logger` would name it.
    static let module = "TapedeckServer"
    var method: String
    var path: String
    var status: Int
    var source: String
    var milliseconds: Milliseconds
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

    /// Logs a request's line at `info` without making a generic event of it.
    func log(_ access: AccessLine) {
        guard logLevel <= .info else { return }
        writer.enqueue(.access(seconds: time(nil), label: label, base: metadata, access: access), urgent: false)
    }

    public func log(event: LogEvent) {
        var extra = event.metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            extra = provided.merging(event.metadata ?? [:]) { $1 }
        }
        writer.enqueue(
            .event(
                seconds: time(nil), label: label, level: event.level, source: event.source, message: event.message,
                base: metadata, extra: extra),
            urgent: event.level >= .warning)
    }
}

/// The local time of log lines, formatted once a second: `localtime` can read the zone file on every call.
final class LogClock: Sendable {
    static let shared = LogClock()
    private let cached = Mutex<(second: Int, text: String)>((-1, ""))

    func text(for seconds: Int) -> String {
        if let hit = cached.withLock({ $0.second == seconds ? $0.text : nil }) { return hit }
        var time = seconds
        var parts = tm()
        localtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        let text = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        cached.withLock { $0 = (seconds, text) }
        return text
    }
}
