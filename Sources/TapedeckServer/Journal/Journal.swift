import Cassette
import Foundation
import MessagesAPI
import Synchronization

/// What the server did with one request, as `GET /_tapedeck/journal` shows it.
struct JournalEntry: Sendable {
    var seq: Int
    var time: Date
    var method: String
    var path: String
    var cassette: String
    var fingerprint: String?
    /// recorded, synthesized, proxied, miss (the `--on-miss error` 404), fault, or error (refused as invalid).
    var source: String
    var occurrence: Int?
    var status: Int
    var latencyMilliseconds: Double
    var fault: String?
    var stream: Bool
    /// What the answer stands on that a person should know (an inferred model).
    var warnings: [String] = []

    var json: JSONValue {
        [
            "seq": .int(seq),
            "time": .string(
                time.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))),
            "method": .string(method),
            "path": .string(path),
            "cassette": .string(cassette),
            "fingerprint": fingerprint.map(JSONValue.string) ?? .null,
            "source": .string(source),
            "occurrence": occurrence.map(JSONValue.int) ?? .null,
            "status": .int(status),
            "latency_ms": .number(JSONNumber((latencyMilliseconds * 100).rounded() / 100)),
            "fault": fault.map(JSONValue.string) ?? .null,
            "stream": .bool(stream),
            "warnings": .array(warnings.map(JSONValue.string)),
        ]
    }
}

/// A request nothing recorded answered, kept so `GET /_tapedeck/misses` can explain it against the cassette.
struct MissRecord: Sendable {
    var seq: Int
    var time: Date
    var method: String
    var path: String
    var cassette: String
    var fingerprint: String
    /// The request body as matched (after redaction); `nil` when it was too large to keep.
    var body: JSONValue?
    /// How it was matched, so the admin API explains it as the miss error did.
    var matcher: RequestMatcher
    /// synthesized, or error (`--on-miss error`).
    var answered: String
}

/// The last requests served and the last misses, kept in memory per cassette: bounded rings, so a long-running
/// server holds at most `capacity` entries (and 100 misses) per cassette.
final class Journal: Sendable {
    let capacity: Int
    static let missCapacity = 100
    /// Bodies above this are not kept for misses: a miss record must not pin a 32 MiB body.
    static let largestKeptBody = Limits.missBodyBytes

    private struct Book {
        var entries = Ring<JournalEntry>()
        var misses = Ring<MissRecord>()
    }

    private struct State {
        var seq = 0
        var missSeq = 0
        var books: [String: Book] = [:]
    }

    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = capacity }

    func add(_ entry: JournalEntry) {
        let capacity = capacity
        state.withLock { state in
            state.seq += 1
            var entry = entry
            entry.seq = state.seq
            state.books[entry.cassette, default: Book()].entries.append(entry, capacity: capacity)
        }
    }

    func addMiss(_ miss: MissRecord) {
        state.withLock { state in
            state.missSeq += 1
            var miss = miss
            miss.seq = state.missSeq
            state.books[miss.cassette, default: Book()].misses.append(miss, capacity: Self.missCapacity)
        }
    }

    /// The last `limit` entries for `cassette`, oldest first.
    func entries(cassette: String, limit: Int) -> [JournalEntry] {
        state.withLock { Array(($0.books[cassette]?.entries.items ?? []).suffix(limit)) }
    }

    func misses(cassette: String, limit: Int) -> [MissRecord] {
        state.withLock { Array(($0.books[cassette]?.misses.items ?? []).suffix(limit)) }
    }

    /// Forgets one cassette's entries and misses, or everything's.
    func clear(cassette: String?) {
        state.withLock { state in
            if let cassette { state.books[cassette] = nil } else { state.books = [:] }
        }
    }
}

/// A fixed-capacity ring: appending past capacity drops the oldest.
struct Ring<Element: Sendable>: Sendable {
    private var storage: [Element] = []
    private var start = 0

    mutating func append(_ element: Element, capacity: Int) {
        guard capacity > 0 else { return }
        if storage.count < capacity {
            storage.append(element)
        } else {
            storage[start] = element
            start = (start + 1) % storage.count
        }
    }

    /// Oldest first.
    var items: [Element] { Array(storage[start...] + storage[..<start]) }
}
