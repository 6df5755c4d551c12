import Cassette
import MessagesAPI
import Synchronization

/// The cassettes one server serves: the `--cassette` file, and per-test cassettes `NAME.sqlite` in the cassette
/// directory, chosen by a `tapedeck-cassette: NAME` header or a `/cassettes/NAME` base URL prefix. Each is opened on
/// first use and keeps its own occurrence counters.
final class Shelf: Sendable {
    static let defaultName = "default"

    let defaultTape: Tape
    let directory: String
    let create: Bool
    private let tapes = Mutex<[String: Task<Tape, any Error>]>([:])

    init(defaultTape: Tape, directory: String, create: Bool) {
        self.defaultTape = defaultTape
        self.directory = directory
        self.create = create
    }

    /// The tape for `name` (`nil`: the default one).
    func tape(named name: String?) async throws -> Tape {
        guard let name else { return defaultTape }
        try Self.validate(name)
        let directory = directory
        let create = create
        let task = tapes.withLock { tapes in
            if let task = tapes[name] { return task }
            let task = Task { try await Tape(path: Self.path(of: name, in: directory), create: create) }
            tapes[name] = task
            return task
        }
        do {
            return try await task.value
        } catch {
            tapes.withLock { _ = $0.removeValue(forKey: name) }
            throw APIError.invalidRequest("Cassette '\(name)' cannot be opened: \(error)")
        }
    }

    /// The tape for `name` for looking only: an open one, else the file opened without creating it (an absent file
    /// is an empty cassette), so an admin call with a mistyped name leaves no file behind.
    func existingTape(named name: String?) async throws -> Tape {
        guard let name else { return defaultTape }
        try Self.validate(name)
        if let task = tapes.withLock({ $0[name] }), let tape = try? await task.value { return tape }
        do {
            return try await Tape(path: Self.path(of: name, in: directory), create: false)
        } catch {
            throw APIError.invalidRequest("Cassette '\(name)' cannot be opened: \(error)")
        }
    }

    /// Every tape opened so far, the default one first.
    func openTapes() async -> [(name: String, tape: Tape)] {
        let tasks = tapes.withLock { $0 }
        var result: [(String, Tape)] = [(Self.defaultName, defaultTape)]
        for (name, task) in tasks.sorted(by: { $0.key < $1.key }) {
            if let tape = try? await task.value { result.append((name, tape)) }
        }
        return result
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
        guard !name.isEmpty, name.utf8.count <= 200, allowed, !name.hasPrefix("."), name != defaultName else {
            throw APIError.invalidRequest(
                "tapedeck-cassette: '\(name)' is not a cassette name: use letters, digits, '.', '_' and '-' (not starting with '.', at most 200, not \"default\"), and no path.")
        }
    }
}
