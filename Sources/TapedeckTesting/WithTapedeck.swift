public import Foundation
import Hummingbird
import Logging
import TapedeckServer

/// Runs Tapedeck in-process on a free loopback port for the scope of `body`, which gets the server's base URL
/// (`http://127.0.0.1:PORT`, where an Anthropic client's base URL or `ANTHROPIC_BASE_URL` points).
///
/// ```swift
/// @Test func greets() async throws {
///     try await withTapedeck(cassette: "Cassettes/greeting.sqlite") { baseURL in
///         let reply = try await MyAssistant(baseURL: baseURL).greet()
///         #expect(reply == "Hello! How can I help you today?")
///     }
/// }
/// ```
///
/// The server has started (it accepts connections) before `body` runs, and has stopped (the port is closed) when
/// this returns or throws: also when `body` throws, whose error is rethrown, or the task is cancelled.
///
/// - Parameters:
///   - cassette: The SQLite cassette. A relative path is resolved against the directory of the calling file, so a
///     suite finds its cassettes whatever the working directory (`swift test`, Xcode).
///   - mode: `.replay` answers from the cassette only and never touches the network; `.record` sends every request
///     to the upstream and saves it; `.auto` replays what is recorded and records the rest. `nil`: the
///     `TAPEDECK_MODE` environment variable, else `.replay`, so `TAPEDECK_MODE=record swift test` re-records.
///   - upstream: Where `.record` and `.auto` send requests. `nil`: `TAPEDECK_UPSTREAM`, else the Anthropic API.
///     A request without a key gets `TAPEDECK_UPSTREAM_KEY` or `ANTHROPIC_API_KEY`.
///   - configure: Adjusts the rest of the configuration (`matchIgnore`, `fault`, `onMiss`, …). A request nothing
///     recorded answers gets the API's 404 naming the closest recording (`onMiss = .error`), and the scope then
///     throws even if `body` returned: a test should not pass on a cassette that lacks what it asked for, nor on an
///     invented answer. Set `onMiss = .synthesize` for Tapedeck's synthetic answers instead.
/// - Throws: `TapedeckTestingError` when replay finds no cassette file, `CI=true` forbids the upstream
///   (as `tapedeck serve` does, unless `TAPEDECK_ALLOW_UPSTREAM_IN_CI=true`), or requests got the miss 404
///   (`.unansweredRequests`, each with why nothing matched); the server's `ConfigurationError` for a file that is
///   not a cassette; any error `body` throws (rethrown as is).
public func withTapedeck<T>(
    cassette: String, mode: TapedeckConfiguration.Mode? = nil, upstream: String? = nil,
    configure: (inout TapedeckConfiguration) -> Void = { _ in }, filePath: StaticString = #filePath,
    isolation: isolated (any Actor)? = #isolation, _ body: (URL) async throws -> T
) async throws -> T {
    let configuration = try TapedeckConfiguration.testing(
        cassette: cassette, mode: mode, upstream: upstream, relativeTo: "\(filePath)",
        environment: ProcessInfo.processInfo.environment, configure)
    return try await withTapedeck(configuration, isolation: isolation) { baseURL in
        let value = try await body(baseURL)
        // Checked after a body that passed: an app that swallowed the 404 must not make a test pass on a cassette
        // that lacks what it asked for.
        let unanswered = try await configuration.unansweredRequests(at: baseURL)
        guard unanswered.isEmpty else {
            throw TapedeckTestingError(
                .unansweredRequests,
                "\(unanswered.count) request(s) matched nothing in \(configuration.cassettePath) and got the API's 404:\n"
                    + unanswered.map { "- \($0)" }.joined(separator: "\n")
                    + "\nRecord them (TAPEDECK_MODE=auto records only what is missing), or set onMiss = .synthesize.")
        }
        return value
    }
}

/// Runs Tapedeck in-process for the scope of `body` with the cassette at a file URL (`Bundle.module.url(forResource:
/// withExtension:)`, `URL(fileURLWithPath:)`); otherwise as `withTapedeck(cassette:mode:upstream:configure:_:)` with a path.
public func withTapedeck<T>(
    cassette: URL, mode: TapedeckConfiguration.Mode? = nil, upstream: String? = nil,
    configure: (inout TapedeckConfiguration) -> Void = { _ in }, isolation: isolated (any Actor)? = #isolation,
    _ body: (URL) async throws -> T
) async throws -> T {
    guard cassette.isFileURL else {
        throw TapedeckTestingError(.missingCassette, "The cassette \(cassette.absoluteString) is not a file URL.")
    }
    return try await withTapedeck(
        cassette: cassette.path, mode: mode, upstream: upstream, configure: configure, isolation: isolation, body)
}

/// Runs Tapedeck in-process with exactly `configuration` for the scope of `body`, which gets the server's base URL.
///
/// For full control: nothing is read from the environment and nothing is checked beyond what `tapedeck serve`
/// checks. Set `port` to 0 for a free port (the default configuration's 4010 is shared by every scope).
public func withTapedeck<T>(
    _ configuration: TapedeckConfiguration, isolation: isolated (any Actor)? = #isolation,
    _ body: (URL) async throws -> T
) async throws -> T {
    var logger = Logger(label: "tapedeck")
    logger.logLevel = configuration.logLevel
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let app = try await buildApplication(configuration: configuration, logger: logger) { continuation.yield($0.port) }
    let host = configuration.connectableHost
    return try await withServing(
        app, ports: ports, logger: logger, grace: .clamped(seconds: Double(configuration.shutdownGrace)), isolation: isolation
    ) { port in
        guard let url = URL(string: "http://\(host):\(port)") else {
            throw TapedeckTestingError(.stoppedBeforeRunning, "No URL reaches host \(configuration.host).")
        }
        return try await body(url)
    }
}

extension TapedeckConfiguration {
    /// The configuration `withTapedeck(cassette:…)` runs: loopback, a free port, quiet logs, misses as errors.
    static func testing(
        cassette: String, mode: Mode?, upstream: String?, relativeTo filePath: String, environment: [String: String],
        _ configure: (inout TapedeckConfiguration) -> Void
    ) throws(TapedeckTestingError) -> TapedeckConfiguration {
        var configuration = TapedeckConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.logLevel = .warning
        configuration.onMiss = .error
        configuration.cassettePath = Self.resolve(cassette, relativeTo: filePath)
        if let mode {
            configuration.mode = mode
        } else if let name = environment["TAPEDECK_MODE"], !name.isEmpty {
            guard let mode = Mode(rawValue: name) else {
                throw TapedeckTestingError(.unknownMode, "Unknown TAPEDECK_MODE '\(name)': use replay, record or auto.")
            }
            configuration.mode = mode
        }
        if let upstream = upstream ?? environment["TAPEDECK_UPSTREAM"].flatMap({ $0.isEmpty ? nil : $0 }) {
            configuration.upstream = upstream
        }
        configuration.upstreamKey = [environment["TAPEDECK_UPSTREAM_KEY"], environment["ANTHROPIC_API_KEY"]]
            .compactMap { $0 }.first { !$0.isEmpty }
        configure(&configuration)

        let isCI = environment["CI"]?.lowercased() == "true"
        let allowInCI = environment["TAPEDECK_ALLOW_UPSTREAM_IN_CI"]?.lowercased() == "true"
        if isCI, configuration.mode != .replay, !allowInCI {
            throw TapedeckTestingError(
                .upstreamInCI,
                "Refusing mode \(configuration.mode.rawValue) because CI=true: a test suite in CI must not call a live API. Set TAPEDECK_ALLOW_UPSTREAM_IN_CI=true if you mean it."
            )
        }
        if configuration.mode == .replay, !FileManager.default.fileExists(atPath: configuration.cassettePath) {
            throw TapedeckTestingError(
                .missingCassette,
                "No cassette at \(configuration.cassettePath): replay never creates one. Record it first (TAPEDECK_MODE=record, or mode: .record or .auto)."
            )
        }
        return configuration
    }

    /// `path` as given when absolute, else inside the directory of `filePath`.
    static func resolve(_ path: String, relativeTo filePath: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent(path).path
    }

    /// Where a client on this machine reaches a server bound to `host`: a wildcard address through loopback.
    var connectableHost: String {
        switch host {
        case "0.0.0.0", "": "127.0.0.1"
        case "::": "[::1]"
        case let host where host.contains(":"): "[\(host)]"
        default: host
        }
    }
}
