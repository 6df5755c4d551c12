public import ArgumentParser
public import Cassette
public import Logging
import MessagesAPI
public import TapedeckServer

/// The `serve` options as given on the command line (`nil` = not given), declared once here and resolved against
/// the environment into a configuration. A flag beats its `TAPEDECK_*` variable, which beats the default; a
/// variable is read with the same words as its flag.
public struct ServeOptions: ParsableArguments, Sendable {
    @Option(help: "replay | record | auto (default: replay).", transform: ServeOptions.choice("mode", TapedeckConfiguration.Mode.self))
    public var mode: TapedeckConfiguration.Mode?

    @Option(help: "The cassette file (default: cassettes/default.sqlite).")
    public var cassette: String?

    @Option(help: "Upstream base URL for record and auto (default: https://api.anthropic.com).")
    public var upstream: String?

    @Option(help: "Address to bind (default: 127.0.0.1).")
    public var host: String?

    @Option(help: "Port to listen on; 0 picks a free one (default: 4010).")
    public var port: Int?

    @Option(
        name: .customLong("on-miss"), help: "synthesize | error when nothing recorded matches (default: synthesize; error when CI=true).",
        transform: ServeOptions.choice("--on-miss", TapedeckConfiguration.OnMiss.self))
    public var onMiss: TapedeckConfiguration.OnMiss?

    @Option(
        help: "instant | recorded: how fast recorded streams replay (default: instant).",
        transform: ServeOptions.choice("--pace", TapedeckConfiguration.Pace.self))
    public var pace: TapedeckConfiguration.Pace?

    @Option(help: "Divides recorded gaps with --pace recorded (default: 1).")
    public var speed: Double?

    @Option(name: .customLong("match-ignore"), help: "A JSON path left out of request matching (repeatable).")
    public var matchIgnore: [String] = []

    @Option(name: .customLong("redact-header"), help: "A request header never stored (repeatable).")
    public var redactHeaders: [String] = []

    @Option(name: .customLong("redact"), help: "A regular expression replaced in stored bodies and queries (repeatable).")
    public var redactPatterns: [String] = []

    @Option(name: .customLong("max-body"), help: "Largest request body in bytes (default: \(Limits.defaultRequestBodyBytes)).")
    public var maxBody: Int?

    @Option(name: .customLong("idle-timeout"), help: "Seconds before a silent connection is closed (default: 60).")
    public var idleTimeout: Int?

    @Option(name: .customLong("max-connections"), help: "Most connections served at once; more get a 529 (default: 512).")
    public var maxConnections: Int?

    @Option(
        name: .customLong("cassette-dir"), help: "Where per-test cassettes NAME.sqlite live (default: the --cassette file's directory).")
    public var cassetteDirectory: String?

    @Option(help: "A fault for every request, e.g. 'overloaded;retry_after_ms=10' (syntax of the tapedeck-fault header).")
    public var fault: String?

    @Option(name: .customLong("fault-count"), help: "Apply --fault to the next N requests only.")
    public var faultCount: Int?

    @Option(name: .customLong("fault-rate"), help: "Apply --fault to this fraction (0-1) of requests, picked by --fault-seed.")
    public var faultRate: Double?

    @Option(name: .customLong("fault-seed"), help: "Seed for --fault-rate: the same seed picks the same requests (default: 0).")
    public var faultSeed: Int?

    @Option(name: .customLong("admin-token"), help: "Bearer token the admin API (/_tapedeck/) requires; needed off loopback.")
    public var adminToken: String?

    @Flag(name: .customLong("insecure-admin"), help: "Allow a non-loopback --host without --admin-token.")
    public var insecureAdmin = false

    @Option(name: .customLong("journal-size"), help: "Requests per cassette kept by GET /_tapedeck/journal (default: 1000).")
    public var journalSize: Int?

    @Option(
        name: .customLong("max-open-cassettes"),
        help: "Most per-test cassettes open at once; the least recently used is closed (default: 64).")
    public var maxOpenCassettes: Int?

    @Option(
        name: .customLong("max-recording-bytes"),
        help: "Largest answer recorded; a longer one is passed through, not saved (default: \(Limits.defaultRecordingBytes)).")
    public var maxRecordingBytes: Int?

    @Option(
        name: .customLong("max-file-bytes"),
        help: "Largest file POST /v1/files accepts; a larger one gets a 413 (default: \(Limits.defaultFileBytes), the API's 500 MB).")
    public var maxFileBytes: Int?

    @Flag(
        name: .customLong("downloadable-uploads"),
        help: "Mark uploaded files downloadable, so GET /v1/files/{id}/content serves them (the API downloads only tool-made files).")
    public var downloadableUploads = false

    @Option(
        name: .customLong("shutdown-grace"),
        help: "Seconds in-flight requests get after SIGTERM/SIGINT; a second signal stops at once (default: 5).")
    public var shutdownGrace: Int?

    @Option(
        name: .customLong("upstream-read-timeout"), help: "Seconds the upstream may stay silent mid-answer before a 504 (default: 600).")
    public var upstreamReadTimeout: Int?

    @Option(
        name: .customLong("log-level"), help: "trace | debug | info | notice | warning | error (default: info).",
        transform: ServeOptions.logLevel)
    public var logLevel: Logger.Level?

    @Flag(name: .customLong("allow-upstream-in-ci"), help: "Allow record and auto modes when CI=true.")
    public var allowUpstreamInCI = false

    @Option(
        name: .customLong("match-profile"),
        help: "claude-code | none: normalization for matching (default: claude-code for user-agent claude-cli/..., else none).",
        transform: ServeOptions.choice("--match-profile", MatchProfile.self))
    public var matchProfile: MatchProfile?

    @Option(
        name: .customLong("match-normalize"),
        help: "'REGEX=>REPLACEMENT' applied to request strings before matching, never to what is stored (repeatable).")
    public var matchNormalize: [String] = []

    @Option(
        name: .customLong("models"),
        help: "A JSON file of model objects (a list, or {\"data\": [...]}) added to the built-in catalog, or replacing its entries.")
    public var modelsFile: String?

    @Flag(name: .customLong("strict-models"), help: "Answer unknown model ids with the API's 404, even claude-… ones.")
    public var strictModels = false

    @Option(
        help:
            "wall | manual: how the clock of cache TTLs and rate limits moves; manual moves only by POST /_tapedeck/clock (default: wall).",
        transform: ServeOptions.choice("--clock", TestClock.Mode.self))
    public var clock: TestClock.Mode?

    @Option(
        name: .customLong("rate-limit"),
        help:
            "rpm=N,itpm=N,otpm=N: a per-minute budget that answers 429 when spent; off: no rate-limit headers (default: generous, headers only)."
    )
    public var rateLimit: String?

    @Option(
        name: .customLong("batch-delay"),
        help: "Retrieves a Message Batch Tapedeck makes answers in_progress before it ends (default: 0).")
    public var batchDelay: Int?

    public init() {}

    /// Why options could not be resolved, phrased as what to do.
    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    /// Resolves the options against `environment`.
    public func resolve(environment: [String: String]) throws(Problem) -> TapedeckConfiguration {
        var configuration = TapedeckConfiguration()
        let isCI = environment["CI"]?.lowercased() == "true"
        func value(_ flag: String?, _ variable: String) -> String? {
            if let flag { return flag }
            if let env = environment[variable], !env.isEmpty { return env }
            return nil
        }
        func list(_ flags: [String], _ variable: String) -> [String] {
            if !flags.isEmpty { return flags }
            return environment[variable].map { $0.split(separator: ",").map { String($0).trimmed } } ?? []
        }

        // A variable is read with the flag's own words, so both say the same thing about a bad value.
        func chosen<T>(_ flag: T?, _ variable: String, _ read: (String) throws -> T) throws(Problem) -> T? {
            if let flag { return flag }
            guard let text = environment[variable], !text.isEmpty else { return nil }
            do { return try read(text) } catch { throw Problem(description: "\(error)") }
        }
        configuration.mode = try chosen(mode, "TAPEDECK_MODE", Self.choice("mode", TapedeckConfiguration.Mode.self)) ?? configuration.mode
        configuration.cassettePath = value(cassette, "TAPEDECK_CASSETTE") ?? configuration.cassettePath
        configuration.upstream = value(upstream, "TAPEDECK_UPSTREAM") ?? configuration.upstream
        configuration.host = value(host, "TAPEDECK_HOST") ?? configuration.host
        if let port {
            configuration.port = port
        } else if let text = environment["TAPEDECK_PORT"], !text.isEmpty {
            guard let n = Int(text) else { throw Problem(description: "TAPEDECK_PORT must be a number, not '\(text)'.") }
            configuration.port = n
        }
        guard (0...65535).contains(configuration.port) else {
            throw Problem(description: "Port \(configuration.port) is out of range: use 0-65535 (0 picks a free port).")
        }
        configuration.onMiss = isCI ? .error : .synthesize
        configuration.onMiss =
            try chosen(onMiss, "TAPEDECK_ON_MISS", Self.choice("--on-miss", TapedeckConfiguration.OnMiss.self))
            ?? configuration.onMiss
        configuration.pace = try chosen(pace, "TAPEDECK_PACE", Self.choice("--pace", TapedeckConfiguration.Pace.self)) ?? configuration.pace
        if let speed {
            configuration.speed = speed
        } else if let text = environment["TAPEDECK_SPEED"], !text.isEmpty {
            guard let n = Double(text) else { throw Problem(description: "TAPEDECK_SPEED must be a number, not '\(text)'.") }
            configuration.speed = n
        }
        guard (0.01...1000).contains(configuration.speed) else {
            throw Problem(description: "--speed must be from 0.01 to 1000 (2 replays twice as fast).")
        }
        configuration.matchIgnore = list(matchIgnore, "TAPEDECK_MATCH_IGNORE").map(JSONPath.init(parsing:))
        configuration.redactHeaders = list(redactHeaders, "TAPEDECK_REDACT_HEADER").map { $0.lowercased() }
        configuration.redactPatterns =
            redactPatterns.isEmpty
            ? environment["TAPEDECK_REDACT"].map { [$0] } ?? [] : redactPatterns
        // Durations are capped at a day: NIO's time amounts trap on overflow, and no timeout needs longer.
        let day = Limits.longestWaitSeconds
        func integer(
            _ flag: Int?, _ variable: String, _ name: String, atLeast minimum: Int, atMost maximum: Int = .max, unit: String = ""
        ) throws(Problem) -> Int? {
            var result = flag
            if result == nil, let text = environment[variable], !text.isEmpty {
                guard let n = Int(text) else { throw Problem(description: "\(variable) must be a whole number, not '\(text)'.") }
                result = n
            }
            if let result, result < minimum { throw Problem(description: "\(name) must be at least \(minimum)\(unit).") }
            if let result, result > maximum { throw Problem(description: "\(name) must be at most \(maximum)\(unit)s.") }
            return result
        }
        configuration.maxBodyBytes =
            try integer(maxBody, "TAPEDECK_MAX_BODY", "--max-body", atLeast: 1, unit: " byte")
            ?? configuration.maxBodyBytes
        configuration.idleTimeout =
            try integer(idleTimeout, "TAPEDECK_IDLE_TIMEOUT", "--idle-timeout", atLeast: 1, atMost: day, unit: " second")
            ?? configuration.idleTimeout
        configuration.maxConnections =
            try integer(maxConnections, "TAPEDECK_MAX_CONNECTIONS", "--max-connections", atLeast: 1)
            ?? configuration.maxConnections
        configuration.journalSize =
            try integer(journalSize, "TAPEDECK_JOURNAL_SIZE", "--journal-size", atLeast: 0)
            ?? configuration.journalSize
        configuration.maxOpenCassettes =
            try integer(maxOpenCassettes, "TAPEDECK_MAX_OPEN_CASSETTES", "--max-open-cassettes", atLeast: 1)
            ?? configuration.maxOpenCassettes
        configuration.maxRecordingBytes =
            try integer(
                maxRecordingBytes, "TAPEDECK_MAX_RECORDING_BYTES", "--max-recording-bytes", atLeast: 0, unit: " byte")
            ?? configuration.maxRecordingBytes
        configuration.maxFileBytes =
            try integer(maxFileBytes, "TAPEDECK_MAX_FILE_BYTES", "--max-file-bytes", atLeast: 1, unit: " byte")
            ?? configuration.maxFileBytes
        configuration.downloadableUploads =
            downloadableUploads || environment["TAPEDECK_DOWNLOADABLE_UPLOADS"]?.lowercased() == "true"
        configuration.shutdownGrace =
            try integer(shutdownGrace, "TAPEDECK_SHUTDOWN_GRACE", "--shutdown-grace", atLeast: 0, atMost: day, unit: " second")
            ?? configuration.shutdownGrace
        configuration.upstreamReadTimeout =
            try integer(
                upstreamReadTimeout, "TAPEDECK_UPSTREAM_READ_TIMEOUT", "--upstream-read-timeout", atLeast: 1, atMost: day, unit: " second")
            ?? configuration.upstreamReadTimeout
        configuration.batchDelay =
            try integer(batchDelay, "TAPEDECK_BATCH_DELAY", "--batch-delay", atLeast: 0, atMost: Limits.longestWaitSeconds)
            ?? configuration.batchDelay
        configuration.cassetteDirectory = value(cassetteDirectory, "TAPEDECK_CASSETTE_DIR")
        if let spec = value(fault, "TAPEDECK_FAULT") {
            let faults: Faults
            do {
                faults = try Faults(parsing: spec, from: "--fault")
            } catch {
                throw Problem(description: error.message)
            }
            var plan = FaultPlan(faults: faults)
            plan.count = try integer(faultCount, "TAPEDECK_FAULT_COUNT", "--fault-count", atLeast: 0)
            var rate = faultRate
            if rate == nil, let text = environment["TAPEDECK_FAULT_RATE"], !text.isEmpty {
                guard let r = Double(text) else { throw Problem(description: "TAPEDECK_FAULT_RATE must be a number, not '\(text)'.") }
                rate = r
            }
            if let rate, !(0...1).contains(rate) { throw Problem(description: "--fault-rate must be between 0 and 1.") }
            plan.rate = rate
            let seed = try integer(faultSeed, "TAPEDECK_FAULT_SEED", "--fault-seed", atLeast: Int.min) ?? 0
            plan.seed = UInt64(bitPattern: Int64(seed))
            configuration.fault = plan
        } else if faultCount != nil || faultRate != nil || faultSeed != nil {
            throw Problem(description: "--fault-count, --fault-rate and --fault-seed need --fault KIND.")
        }
        configuration.adminToken = value(adminToken, "TAPEDECK_ADMIN_TOKEN")
        let insecure = insecureAdmin || environment["TAPEDECK_INSECURE_ADMIN"]?.lowercased() == "true"
        if !Self.isLoopback(configuration.host), configuration.adminToken == nil, !insecure {
            throw Problem(
                description:
                    "Refusing --host \(configuration.host) without --admin-token: the admin API (/_tapedeck/) could reset, inspect and fault this server from the network. Pass --admin-token TOKEN (or TAPEDECK_ADMIN_TOKEN), or --insecure-admin if the network is yours."
            )
        }
        configuration.logLevel = try chosen(logLevel, "TAPEDECK_LOG_LEVEL", Self.logLevel) ?? configuration.logLevel
        configuration.upstreamKey =
            environment["TAPEDECK_UPSTREAM_KEY"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["ANTHROPIC_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }

        configuration.matchProfile =
            try chosen(matchProfile, "TAPEDECK_MATCH_PROFILE", Self.choice("--match-profile", MatchProfile.self))
        // One rule a line: a regular expression may hold commas.
        configuration.matchNormalize =
            matchNormalize.isEmpty
            ? (environment["TAPEDECK_MATCH_NORMALIZE"] ?? "").split(separator: "\n").map { String($0).trimmed }.filter { !$0.isEmpty }
            : matchNormalize
        if let file = value(modelsFile, "TAPEDECK_MODELS") { configuration.models = try Self.catalog(adding: file) }
        configuration.strictModels = strictModels || environment["TAPEDECK_STRICT_MODELS"]?.lowercased() == "true"

        configuration.clock = try chosen(clock, "TAPEDECK_CLOCK", Self.choice("--clock", TestClock.Mode.self)) ?? configuration.clock
        if let text = value(rateLimit, "TAPEDECK_RATE_LIMIT") {
            do { configuration.rateLimit = try RateLimitBudget.parse(text) } catch { throw Problem(description: error.description) }
        }

        let allowInCI = allowUpstreamInCI || environment["TAPEDECK_ALLOW_UPSTREAM_IN_CI"]?.lowercased() == "true"
        if isCI, configuration.mode != .replay, !allowInCI {
            throw Problem(
                description:
                    "Refusing --mode \(configuration.mode.rawValue) because CI=true: a test suite in CI must not call a live API. Pass --allow-upstream-in-ci if you mean it."
            )
        }
        return configuration
    }
}

extension ServeOptions {
    /// Reads one of `T`'s values, refusing others with the words a person needs: `Unknown --pace 'slow': use
    /// instant or recorded.` (`name` is how the value is called in that sentence).
    static func choice<T: RawRepresentable & CaseIterable & SendableMetatype>(_ name: String, _ type: T.Type)
        -> @Sendable (String) throws -> T
    where T.RawValue == String {
        { text in
            guard let value = T(rawValue: text) else {
                let names = T.allCases.map(\.rawValue)
                let listed = names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
                throw ValidationError("Unknown \(name) '\(text)': use \(listed).")
            }
            return value
        }
    }

    /// A log level, in any case.
    static func logLevel(_ text: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError("Unknown --log-level '\(text)': use trace, debug, info, notice, warning, error or critical.")
        }
        return level
    }

    /// Whether `host` only accepts connections from this machine.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}
