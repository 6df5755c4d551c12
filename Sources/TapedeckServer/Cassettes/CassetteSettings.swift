import Cassette
import MessagesAPI
import Synchronization

/// What one cassette is served with in place of the server's own settings (`PUT /_tapedeck/settings?cassette=NAME`).
///
/// A test runner sets them per test: one server then serves a test that records beside one that must replay, one
/// matched without `$.metadata` beside one matched exactly, one with a fault beside one without, even when tests
/// run in parallel against it, since nothing here is server-wide. `nil` fields keep the server's setting.
struct CassetteSettings: Sendable {
    var mode: TapedeckConfiguration.Mode?
    var onMiss: TapedeckConfiguration.OnMiss?
    /// Replaces `--match-ignore` (the built-in ignored paths stay).
    var matchIgnore: [JSONPath]?
    var matchProfile: MatchProfile?
    /// The cassette's own fault plan, drawn from instead of the server's `--fault`.
    var fault: FaultPlan?

    static let fields = ["mode", "on_miss", "match_ignore", "match_profile", "fault"]

    /// Parses a `PUT` body; every field is optional, an unknown one is refused as the API refuses extra inputs.
    init(json body: JSONObject) throws(APIError) {
        if let key = body.keys.first(where: { !Self.fields.contains($0) }) {
            throw .invalidRequest("\(key): Extra inputs are not permitted")
        }
        func choice<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) throws(APIError) -> T? where T.RawValue == String {
            guard let value = body[key], value != .null else { return nil }
            guard let text = value.stringValue, let parsed = T(rawValue: text) else {
                let allowed = T.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
                throw .invalidRequest("\(key): Input should be \(allowed)")
            }
            return parsed
        }
        mode = try choice("mode", TapedeckConfiguration.Mode.self)
        onMiss = try choice("on_miss", TapedeckConfiguration.OnMiss.self)
        matchProfile = try choice("match_profile", MatchProfile.self)
        if let value = body["match_ignore"], value != .null {
            guard let paths = value.arrayValue, paths.allSatisfy({ $0.stringValue?.isEmpty == false }) else {
                throw .invalidRequest("match_ignore: Input should be a list of JSON paths such as \"$.metadata\"")
            }
            matchIgnore = paths.compactMap(\.stringValue).map(JSONPath.init(parsing:))
        }
        if let value = body["fault"], value != .null {
            if let spec = value.stringValue {
                fault = FaultPlan(faults: try Faults(parsing: spec))
            } else if let object = value.objectValue {
                fault = try FaultPlan(json: object)
            } else {
                throw .invalidRequest("fault: Input should be a fault spec or {\"fault\": SPEC, \"count\": N}")
            }
        }
    }

    init() {}

    /// The settings in force for the cassette: these, else the server's. `faults`: the cassette's schedule, which
    /// knows what is left of a count.
    func json(server configuration: TapedeckConfiguration, faults: FaultSchedule? = nil) -> JSONValue {
        [
            "mode": .string((mode ?? configuration.mode).rawValue),
            "on_miss": .string((onMiss ?? configuration.onMiss).rawValue),
            "match_ignore": .array((matchIgnore ?? configuration.matchIgnore).map { .string("$." + $0.description) }),
            "match_profile": (matchProfile ?? configuration.matchProfile).map { .string($0.rawValue) } ?? .null,
            "fault": faults.map { schedule in
                let shown = schedule.json  // read once: the schedule's count moves under other requests
                return shown["fault"] == .null ? .null : shown
            }
                ?? (fault ?? configuration.fault).map { $0.json(remaining: $0.count) } ?? .null,
            "overridden": .array(overridden.map(JSONValue.string)),
        ]
    }

    /// The fields set here, by their JSON names.
    var overridden: [String] {
        [
            mode == nil ? nil : "mode", onMiss == nil ? nil : "on_miss", matchIgnore == nil ? nil : "match_ignore",
            matchProfile == nil ? nil : "match_profile", fault == nil ? nil : "fault",
        ].compactMap { $0 }
    }
}

/// A cassette's settings made ready for the request path: its matcher compiled, its plans made, its fault schedule
/// started, so a request pays one dictionary lookup for them.
final class CassetteOverrides: Sendable {
    let settings: CassetteSettings
    /// Distinguishes these from earlier settings of the same cassette: parsed bodies cached under other matching
    /// rules must not be reused.
    let generation: Int
    /// `nil`: the server's matching.
    let matching: Matching?
    /// The policy's plans for the cassette's mode and on-miss; `nil`: the server's.
    let plans: [SourceKind: [Policy.Step]]?
    /// `nil`: the server's `--fault`.
    let faults: FaultSchedule?

    init(_ settings: CassetteSettings, generation: Int, server configuration: TapedeckConfiguration, canRecord: Bool) throws {
        self.settings = settings
        self.generation = generation
        if settings.matchIgnore != nil || settings.matchProfile != nil {
            var edited = configuration
            edited.matchIgnore = settings.matchIgnore ?? configuration.matchIgnore
            edited.matchProfile = settings.matchProfile ?? configuration.matchProfile
            matching = try Matching(edited)
        } else {
            matching = nil
        }
        if settings.mode != nil || settings.onMiss != nil {
            var plans: [SourceKind: [Policy.Step]] = [:]
            for fallback in SourceKind.fallbacks {
                plans[fallback] = Policy.plan(
                    mode: settings.mode ?? configuration.mode, onMiss: settings.onMiss ?? configuration.onMiss,
                    fallback: fallback, canRecord: canRecord)
            }
            self.plans = plans
        } else {
            plans = nil
        }
        faults = settings.fault.map { FaultSchedule(plan: $0) }
    }
}

/// Every cassette's settings, by cassette name (`default` for the `--cassette` one).
final class CassetteSettingsBook: Sendable {
    private struct State {
        var overrides: [String: CassetteOverrides] = [:]
        var generation = 0
    }

    private let state = Mutex(State())
    /// How many cassettes have settings: while none do (a server no test runner drives), a request reads this
    /// and takes no lock.
    private let count = Atomic<Int>(0)
    let configuration: TapedeckConfiguration
    /// Whether the server has an upstream: a cassette may be set to record only then.
    let canRecord: Bool

    init(configuration: TapedeckConfiguration, canRecord: Bool) {
        self.configuration = configuration
        self.canRecord = canRecord
    }

    /// The settings of the cassette `name` (`nil`: the default one), if any were set.
    func overrides(for name: String?) -> CassetteOverrides? {
        guard count.load(ordering: .acquiring) > 0 else { return nil }
        return state.withLock { $0.overrides[name ?? Shelf.defaultName] }
    }

    /// Replaces the cassette's settings; refused when they ask for an upstream this server does not have.
    @discardableResult
    func set(_ settings: CassetteSettings, for name: String) throws -> CassetteOverrides {
        if let mode = settings.mode, mode != .replay, !canRecord {
            throw APIError.invalidRequest(
                "mode: '\(mode.rawValue)' needs an upstream, and this server runs in replay mode: start it with --mode auto --upstream URL to record"
            )
        }
        let generation = state.withLock { state in
            state.generation += 1
            return state.generation
        }
        let made: CassetteOverrides
        do {
            made = try CassetteOverrides(settings, generation: generation, server: configuration, canRecord: canRecord)
        } catch let error as ConfigurationError {
            throw APIError.invalidRequest(error.description)
        }
        state.withLock { state in
            // Two PUTs at once: the later one made wins, whichever stores first.
            guard (state.overrides[name]?.generation ?? 0) < made.generation else { return }
            state.overrides[name] = made
            count.store(state.overrides.count, ordering: .releasing)
        }
        return made
    }

    /// Forgets the cassette's settings: it is served with the server's again.
    func clear(_ name: String) {
        state.withLock { state in
            state.overrides[name] = nil
            count.store(state.overrides.count, ordering: .releasing)
        }
    }
}
