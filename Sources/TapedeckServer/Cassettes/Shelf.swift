import Cassette
import MessagesAPI
import Synchronization

/// The cassettes one server serves: the `--cassette` file, and per-test cassettes `NAME.sqlite` in the cassette
/// directory, chosen by a `tapedeck-cassette: NAME` header or a `/cassettes/NAME` base URL prefix.
///
/// Per-test cassettes are opened on first use and kept in a pool of at most `capacity` (`--max-open-cassettes`);
/// opening one more closes the least recently used, whose file descriptors are freed once the requests still
/// using it finish. A closed cassette reopens on demand, and its occurrence counters live here, not in the
/// tape, so a suite that cycles through more cassettes than the pool holds replays exactly as if all stayed open.
final class Shelf: Sendable {
    static let defaultName = "default"

    let defaultTape: Tape
    let directory: String
    let create: Bool
    /// Most per-test cassettes open at once.
    let capacity: Int
    private let state = Mutex(State())

    private struct State {
        var open: [String: Task<Tape, any Error>] = [:]
        /// Open names, least recently used first (the pool is small, so a list is cheaper than a linked map).
        var recency: [String] = []
        /// Every named cassette's counters, open or not: small, and what makes closing invisible to replay.
        var counters: [String: OccurrenceCounters] = [:]

        mutating func counters(for name: String) -> OccurrenceCounters {
            if let existing = counters[name] { return existing }
            let made = OccurrenceCounters()
            counters[name] = made
            return made
        }

        mutating func touch(_ name: String) {
            if let i = recency.lastIndex(of: name) { recency.remove(at: i) }
            recency.append(name)
        }

        mutating func forget(_ name: String) {
            open[name] = nil
            if let i = recency.lastIndex(of: name) { recency.remove(at: i) }
        }
    }

    init(defaultTape: Tape, directory: String, create: Bool, capacity: Int = Limits.defaultOpenCassettes) {
        self.defaultTape = defaultTape
        self.directory = directory
        self.create = create
        self.capacity = max(1, capacity)
    }

    /// The tape for `name` (`nil`: the default one).
    func tape(named name: String?) async throws -> Tape {
        guard let name else { return defaultTape }
        try Self.validate(name)
        let path = Self.path(of: name, in: directory)
        let create = create
        let capacity = capacity
        let task = state.withLock { state in
            state.touch(name)
            if let task = state.open[name] { return task }
            let counters = state.counters(for: name)
            let task = Task { try await Tape(path: path, create: create, counters: counters) }
            state.open[name] = task
            while state.recency.count > capacity, let oldest = state.recency.first {
                state.forget(oldest)
            }
            return task
        }
        do {
            return try await task.value
        } catch {
            state.withLock { state in
                // Only if it is still this attempt: a later one may have replaced it.
                if let current = state.open[name], current == task { state.forget(name) }
            }
            throw APIError.invalidRequest("Cassette '\(name)' cannot be opened: \(error)")
        }
    }

    /// The tape for `name` for looking only: an open one, else the file opened without creating it (an absent file
    /// is an empty cassette), so an admin call with a mistyped name leaves no file behind.
    func existingTape(named name: String?) async throws -> Tape {
        guard let name else { return defaultTape }
        try Self.validate(name)
        let (task, counters) = state.withLock { ($0.open[name], $0.counters(for: name)) }
        if let task, let tape = try? await task.value { return tape }
        do {
            return try await Tape(path: Self.path(of: name, in: directory), create: false, counters: counters)
        } catch {
            throw APIError.invalidRequest("Cassette '\(name)' cannot be opened: \(error)")
        }
    }

    /// Every tape open now, the default one first.
    func openTapes() async -> [(name: String, tape: Tape)] {
        let tasks = state.withLock { $0.open }
        var result: [(String, Tape)] = [(Self.defaultName, defaultTape)]
        for (name, task) in tasks.sorted(by: { $0.key < $1.key }) {
            if let tape = try? await task.value { result.append((name, tape)) }
        }
        return result
    }

    /// Rewinds one cassette's occurrence counters, open or closed, without opening it.
    func rewind(named name: String?) throws {
        guard let name else { return defaultTape.rewind() }
        try Self.validate(name)
        state.withLock { $0.counters(for: name) }.rewind()
    }

    /// Rewinds every cassette's occurrence counters, open or closed (`POST /_tapedeck/reset`).
    func rewindAll() {
        defaultTape.rewind()
        for counters in state.withLock({ Array($0.counters.values) }) { counters.rewind() }
    }

    static func path(of name: String, in directory: String) -> String {
        (directory.isEmpty ? "" : directory + "/") + name + ".sqlite"
    }

    /// A name is letters, digits, `.`, `_` and `-`, not starting with `.`: it cannot leave the directory.
    static func validate(_ name: String) throws(APIError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
        guard !name.isEmpty, name.utf8.count <= Limits.cassetteNameBytes, allowed, !name.hasPrefix("."), name != defaultName else {
            throw APIError.invalidRequest(
                "tapedeck-cassette: '\(name)' is not a cassette name: use letters, digits, '.', '_' and '-' (not starting with '.', at most \(Limits.cassetteNameBytes), not \"default\"), and no path."
            )
        }
    }
}
