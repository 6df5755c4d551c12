public import MessagesAPI
import Synchronization

/// A cassette in use by one server: the store, an in-memory index of what it holds, and the occurrence
/// counters of the current run.
///
/// The k-th identical request of a run gets occurrence k; replay answers it with the k-th recording, or the last
/// one when there are fewer. Recording occurrence k replaces a stored occurrence k.
public final class Tape: Sendable {
    public let path: String
    /// This run's occurrence counters; they outlive the tape when a server closes it to save descriptors.
    public let counters: OccurrenceCounters
    private let openStore: @Sendable () throws -> CassetteStore
    private let state: Mutex<State>

    struct State {
        var store: CassetteStore?
        /// Occurrences and row ids per fingerprint, filled in as fingerprints are first seen: the cassette is never
        /// read whole, so start-up and memory do not grow with its size.
        var index: [String: [(occurrence: Int, id: Int64)]] = [:]
        var count = 0
        /// Hand-written fixtures with loose matchers, in file order.
        var loose: [Interaction] = []
    }

    /// Opens the cassette at `path`. With `create` false, an absent file is an empty cassette and no file is made
    /// until something is recorded, and a present one is opened read-only (replay never changes the file).
    /// - Parameter counters: Occurrence counters to carry on with, when a cassette closed to save descriptors is
    ///   opened again.
    public init(path: String, create: Bool, counters: OccurrenceCounters = OccurrenceCounters()) async throws {
        self.path = path
        self.counters = counters
        openStore = { try CassetteStore(path: path, create: true) }
        var initial = State()
        let opened: CassetteStore?
        do {
            opened = try await CassetteStore.open(path: path, create: create, readOnly: !create)
        } catch let error as CassetteStore.StoreError where error == .noSuchCassette {
            opened = nil
        }
        if let store = opened {
            initial.store = store
            initial.count = try await store.count()
            // A damaged fixture matches nothing; `tapedeck cassette verify` names it.
            initial.loose = try await store.looseInteractions()
        }
        state = Mutex(initial)
    }

    /// The store, opened (and created) on first need.
    public func store() throws -> CassetteStore {
        if let store = state.withLock({ $0.store }) { return store }
        let store = try openStore()
        return state.withLock { state in
            if let existing = state.store { return existing }
            state.store = store
            return store
        }
    }

    /// The store opened for writing: a cassette replay opened read-only is reopened writable (its reader is
    /// dropped), since an upload (`POST /v1/files`) is kept in the cassette in every mode.
    public func writableStore() async throws -> CassetteStore {
        if let store = state.withLock({ $0.store }), !store.isReadOnly { return store }
        let store = try await CassetteStore.open(path: path, create: true)
        return state.withLock { state in
            if let existing = state.store, !existing.isReadOnly { return existing }
            state.store = store
            return store
        }
    }

    /// Whether the cassette file exists (or has been opened): reading an absent one must not create it.
    public var isPresent: Bool { state.withLock { $0.store != nil } }

    /// Claims the next occurrence number for `fingerprint` in this run (1-based).
    public func nextOccurrence(of fingerprint: Fingerprint) -> Int { counters.next(fingerprint) }

    /// The recording that answers occurrence `occurrence` of `fingerprint`, if any.
    public func recording(for fingerprint: Fingerprint, occurrence: Int) async throws -> Interaction? {
        guard let id = try await recordingID(for: fingerprint, occurrence: occurrence) else { return nil }
        return try await recording(id: id)
    }

    /// The row id of the recording that answers occurrence `occurrence` of `fingerprint`, from the index alone:
    /// a server that keeps prepared answers by id reads no row for a hit.
    public func recordingID(for fingerprint: Fingerprint, occurrence: Int) async throws -> Int64? {
        let key = fingerprint.hex
        let (known, store) = state.withLock { ($0.index[key], $0.store) }
        var entries = known
        if entries == nil {
            guard let store else { return nil }
            let loaded = try await store.occurrences(fingerprint: key)
            state.withLock { $0.index[key] = loaded }
            entries = loaded
        }
        guard let entries, let first = entries.first else { return nil }
        // Entries are sorted by occurrence: take occurrence k, or the last one below it (past the end, the last
        // repeats); a request earlier than every recording gets the first.
        return (entries.last { $0.occurrence <= occurrence } ?? first).id
    }

    /// The recording stored as `id`, refused (as `DamagedRecording`) when it could not be replayed faithfully.
    public func recording(id: Int64) async throws -> Interaction? {
        let interaction: Interaction?
        do {
            interaction = try await state.withLock({ $0.store })?.interaction(id: id)
        } catch var damaged as DamagedRecording {
            damaged.cassette = path
            throw damaged
        }
        guard let interaction else { return nil }
        if let damage = interaction.damage { throw DamagedRecording(id: id, reason: damage, cassette: path) }
        return interaction
    }

    /// The first fixture whose loose matcher accepts `body`, when no exact recording matched.
    public func looseRecording(for body: JSONValue?) -> Interaction? {
        let loose = state.withLock { $0.loose }
        return loose.first { Fixture.matches($0.matcher ?? .null, body: body) }
    }

    /// Saves `interaction` and makes it visible to replay.
    @discardableResult
    public func record(_ interaction: Interaction) async throws -> Int64 {
        let (id, inserted) = try await store().saveReportingInsert(interaction)
        counters.markUsed(id)
        state.withLock { state in
            if inserted { state.count += 1 }
            // Only a fingerprint already looked up has entries to keep current; others are read when first seen.
            if var entries = state.index[interaction.fingerprint] {
                entries.removeAll { $0.occurrence == interaction.occurrence }
                entries.append((interaction.occurrence, id))
                entries.sort { $0.occurrence < $1.occurrence }
                state.index[interaction.fingerprint] = entries
            }
        }
        return id
    }

    /// Rewinds the occurrence counters (`POST /_tapedeck/reset`).
    public func rewind() { counters.rewind() }

    /// How many interactions the index knows.
    public var count: Int { state.withLock { $0.count } }

    /// Why nothing recorded answers a request: the recording closest to it on the same method and path, and the
    /// first JSON path where they differ.
    public struct Miss: Sendable, CustomStringConvertible {
        /// The closest recording's id, when the cassette has any for the method and path.
        public var closestID: Int64?
        /// Where the closest recording first differs (`nil` when only ignored paths differ).
        public var path: JSONPath?
        /// The closest recording's value there (`nil`: absent).
        public var expected: JSONValue?
        /// This request's value there (`nil`: absent).
        public var got: JSONValue?
        let method: String
        let requestPath: String

        /// The words of `--on-miss error`.
        public var description: String {
            guard let closestID else {
                return "no recorded interaction matches; the cassette has no recordings for \(method) \(requestPath)"
            }
            let label = "interaction \(closestID)"
            guard let path else { return "no recorded interaction matches; closest is \(label)" }
            // Two long strings (a system prompt, an environment block) are shown from a little before the first
            // character where they part: their shared beginning says nothing.
            var skip = 0
            if case .string(let a)? = expected, case .string(let b)? = got {
                let shared = zip(a, b).prefix { $0 == $1 }.count
                if shared > 40 { skip = shared - 20 }
            }
            func show(_ value: JSONValue?) -> String {
                guard let value else { return "(absent)" }
                var text = JSONWriter.string(value)
                if skip > 0 { text = "\"..." + text.dropFirst(skip + 1) }
                return text.count > 80 ? String(text.prefix(77)) + "..." : text
            }
            return
                "no recorded interaction matches; closest differs at \(path): \(show(expected)) vs \(show(got)) (recorded \(label) vs this request)"
        }
    }

    /// Explains a miss of `body` on `method` and `path`. Both sides are compared as `matcher` sees them (ignored
    /// paths removed, normalized), so the difference named is one that made the miss.
    public func explainMiss(method: String, path: String, body: JSONValue?, matcher: RequestMatcher) async throws -> Miss {
        var miss = Miss(method: method, requestPath: path)
        guard state.withLock({ $0.store }) != nil else { return miss }
        let mine = body.map(matcher.comparable) ?? .null
        let mineBytes = JSONWriter.canonicalBytes(mine)
        // The closest recording differs in the fewest places; among equals, the longest shared canonical prefix.
        let closest = try await store().closestRequest(method: method, path: path) { requestBody in
            let theirs = Interaction.json(requestBody).map(matcher.comparable) ?? .null
            let shared = zip(mineBytes, JSONWriter.canonicalBytes(theirs)).prefix { $0 == $1 }.count
            return MissScore(differences: theirs.differenceCount(from: mine), shared: shared)
        }
        guard let closest else { return miss }
        miss.closestID = closest.id
        let theirs = Interaction.json(closest.body).map(matcher.comparable) ?? .null
        if let difference = theirs.firstDifference(from: mine) {
            (miss.path, miss.expected, miss.got) = (difference.path, difference.mine, difference.theirs)
        }
        return miss
    }

    /// How far a recording is from a missed request: fewer differences first, then a longer shared prefix.
    struct MissScore: Comparable, Sendable {
        var differences: Int
        var shared: Int

        static func < (a: MissScore, b: MissScore) -> Bool { (a.differences, -a.shared) < (b.differences, -b.shared) }
    }
}

/// How often each fingerprint has been asked for in this run, for one cassette, and which recordings the run has
/// used (replayed or recorded).
public final class OccurrenceCounters: Sendable {
    private struct State {
        var counts: [String: Int] = [:]
        /// Row ids; kept across rewinds, since "used" means by any test of the run (`--tapedeck-strict`).
        var used: Set<Int64> = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Claims the next occurrence number for `fingerprint` (1-based).
    public func next(_ fingerprint: Fingerprint) -> Int {
        state.withLock { state in
            let next = state.counts[fingerprint.hex, default: 0] + 1
            state.counts[fingerprint.hex] = next
            return next
        }
    }

    /// Starts every count afresh; what was used stays used.
    public func rewind() { state.withLock { $0.counts = [:] } }

    /// Notes that the recording `id` answered a request, or was recorded, in this run.
    public func markUsed(_ id: Int64) { _ = state.withLock { $0.used.insert(id) } }

    /// The recordings used in this run.
    public var used: Set<Int64> { state.withLock { $0.used } }
}
