import MessagesAPI
public import TapedeckServer
import Logging

/// The raw `serve` options as given on the command line (`nil` = not given), resolved against the
/// environment into a configuration. A flag beats its `TAPEDECK_*` variable, which beats the default.
public struct ServeOptions: Sendable {
    public var mode: String?
    public var cassette: String?
    public var upstream: String?
    public var host: String?
    public var port: Int?
    public var onMiss: String?
    public var pace: String?
    public var speed: Double?
    public var matchIgnore: [String] = []
    public var redactHeaders: [String] = []
    public var redactPatterns: [String] = []
    public var maxBody: Int?
    public var idleTimeout: Int?
    public var logLevel: String?
    public var allowUpstreamInCI = false
    public var maxConnections: Int?
    public var cassetteDirectory: String?
    public var fault: String?
    public var faultCount: Int?
    public var faultRate: Double?
    public var faultSeed: Int?
    public var adminToken: String?
    public var insecureAdmin = false
    public var journalSize: Int?
    public var maxOpenCassettes: Int?
    public var maxRecordingBytes: Int?
    public var shutdownGrace: Int?
    public var upstreamReadTimeout: Int?

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

        if let text = value(mode, "TAPEDECK_MODE") {
            guard let parsed = TapedeckConfiguration.Mode(rawValue: text) else {
                throw Problem(description: "Unknown mode '\(text)': use replay, record or auto.")
            }
            configuration.mode = parsed
        }
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
        if let text = value(onMiss, "TAPEDECK_ON_MISS") {
            guard let parsed = TapedeckConfiguration.OnMiss(rawValue: text) else {
                throw Problem(description: "Unknown --on-miss '\(text)': use synthesize or error.")
            }
            configuration.onMiss = parsed
        }
        if let text = value(pace, "TAPEDECK_PACE") {
            guard let parsed = TapedeckConfiguration.Pace(rawValue: text) else {
                throw Problem(description: "Unknown --pace '\(text)': use instant or recorded.")
            }
            configuration.pace = parsed
        }
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
        configuration.redactPatterns = redactPatterns.isEmpty
            ? environment["TAPEDECK_REDACT"].map { [$0] } ?? [] : redactPatterns
        // Durations are capped at a day: NIO's time amounts trap on overflow, and no timeout needs longer.
        let day = 86_400
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
        configuration.maxBodyBytes = try integer(maxBody, "TAPEDECK_MAX_BODY", "--max-body", atLeast: 1, unit: " byte")
            ?? configuration.maxBodyBytes
        configuration.idleTimeout = try integer(idleTimeout, "TAPEDECK_IDLE_TIMEOUT", "--idle-timeout", atLeast: 1, atMost: day, unit: " second")
            ?? configuration.idleTimeout
        configuration.maxConnections = try integer(maxConnections, "TAPEDECK_MAX_CONNECTIONS", "--max-connections", atLeast: 1)
            ?? configuration.maxConnections
        configuration.journalSize = try integer(journalSize, "TAPEDECK_JOURNAL_SIZE", "--journal-size", atLeast: 0)
            ?? configuration.journalSize
        configuration.maxOpenCassettes = try integer(maxOpenCassettes, "TAPEDECK_MAX_OPEN_CASSETTES", "--max-open-cassettes", atLeast: 1)
            ?? configuration.maxOpenCassettes
        configuration.maxRecordingBytes = try integer(
            maxRecordingBytes, "TAPEDECK_MAX_RECORDING_BYTES", "--max-recording-bytes", atLeast: 0, unit: " byte")
            ?? configuration.maxRecordingBytes
        configuration.shutdownGrace = try integer(shutdownGrace, "TAPEDECK_SHUTDOWN_GRACE", "--shutdown-grace", atLeast: 0, atMost: day, unit: " second")
            ?? configuration.shutdownGrace
        configuration.upstreamReadTimeout = try integer(
            upstreamReadTimeout, "TAPEDECK_UPSTREAM_READ_TIMEOUT", "--upstream-read-timeout", atLeast: 1, atMost: day, unit: " second")
            ?? configuration.upstreamReadTimeout
        configuration.cassetteDirectory = value(cassetteDirectory, "TAPEDECK_CASSETTE_DIR")
        if let spec = value(fault, "TAPEDECK_FAULT") {
            let faults: Faults
            do {
                faults = try Faults(parsing: spec)
            } catch {
                throw Problem(description: "--fault: \(error.message.replacing("tapedeck-fault: ", with: ""))")
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
        if let text = value(logLevel, "TAPEDECK_LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw Problem(
                    description: "Unknown --log-level '\(text)': use trace, debug, info, notice, warning, error or critical.")
            }
            configuration.logLevel = level
        }
        configuration.upstreamKey = environment["TAPEDECK_UPSTREAM_KEY"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["ANTHROPIC_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }

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
