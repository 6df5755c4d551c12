public import ArgumentParser
import Hummingbird
import Dispatch
import Logging
import ServiceLifecycle
import Synchronization
import TapedeckServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `tapedeck serve`: run the server.
public struct Serve: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Serve the Messages API on a local port.",
        discussion: """
            Every option also reads an environment variable (TAPEDECK_MODE, TAPEDECK_CASSETTE, TAPEDECK_UPSTREAM, \
            TAPEDECK_HOST, TAPEDECK_PORT, TAPEDECK_ON_MISS, TAPEDECK_PACE, TAPEDECK_SPEED, TAPEDECK_MATCH_IGNORE, \
            TAPEDECK_REDACT_HEADER, TAPEDECK_REDACT, TAPEDECK_MAX_BODY, TAPEDECK_IDLE_TIMEOUT, TAPEDECK_MAX_CONNECTIONS, \
            TAPEDECK_CASSETTE_DIR, TAPEDECK_FAULT, TAPEDECK_FAULT_COUNT, TAPEDECK_FAULT_RATE, TAPEDECK_FAULT_SEED, \
            TAPEDECK_ADMIN_TOKEN, TAPEDECK_INSECURE_ADMIN, TAPEDECK_JOURNAL_SIZE, TAPEDECK_MAX_OPEN_CASSETTES, \
            TAPEDECK_MAX_RECORDING_BYTES, TAPEDECK_SHUTDOWN_GRACE, TAPEDECK_UPSTREAM_READ_TIMEOUT, TAPEDECK_LOG_LEVEL); \
            a flag beats its variable.
            """
    )

    @Option(help: "replay | record | auto (default: replay).")
    var mode: String?

    @Option(help: "The cassette file (default: cassettes/default.sqlite).")
    var cassette: String?

    @Option(help: "Upstream base URL for record and auto (default: https://api.anthropic.com).")
    var upstream: String?

    @Option(help: "Address to bind (default: 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one (default: 4010).")
    var port: Int?

    @Option(name: .customLong("on-miss"), help: "synthesize | error when nothing recorded matches (default: synthesize; error when CI=true).")
    var onMiss: String?

    @Option(help: "instant | recorded: how fast recorded streams replay (default: instant).")
    var pace: String?

    @Option(help: "Divides recorded gaps with --pace recorded (default: 1).")
    var speed: Double?

    @Option(name: .customLong("match-ignore"), help: "A JSON path left out of request matching (repeatable).")
    var matchIgnore: [String] = []

    @Option(name: .customLong("redact-header"), help: "A request header never stored (repeatable).")
    var redactHeader: [String] = []

    @Option(help: "A regular expression replaced in stored bodies (repeatable).")
    var redact: [String] = []

    @Option(name: .customLong("max-body"), help: "Largest request body in bytes (default: 33554432).")
    var maxBody: Int?

    @Option(name: .customLong("idle-timeout"), help: "Seconds before a silent connection is closed (default: 60).")
    var idleTimeout: Int?

    @Option(name: .customLong("max-connections"), help: "Most connections served at once; more get a 529 (default: 512).")
    var maxConnections: Int?

    @Option(name: .customLong("cassette-dir"), help: "Where per-test cassettes NAME.sqlite live (default: the --cassette file's directory).")
    var cassetteDir: String?

    @Option(help: "A fault for every request, e.g. 'overloaded;retry_after_ms=10' (syntax of the tapedeck-fault header).")
    var fault: String?

    @Option(name: .customLong("fault-count"), help: "Apply --fault to the next N requests only.")
    var faultCount: Int?

    @Option(name: .customLong("fault-rate"), help: "Apply --fault to this fraction (0-1) of requests, picked by --fault-seed.")
    var faultRate: Double?

    @Option(name: .customLong("fault-seed"), help: "Seed for --fault-rate: the same seed picks the same requests (default: 0).")
    var faultSeed: Int?

    @Option(name: .customLong("admin-token"), help: "Bearer token the admin API (/_tapedeck/) requires; needed off loopback.")
    var adminToken: String?

    @Flag(name: .customLong("insecure-admin"), help: "Allow a non-loopback --host without --admin-token.")
    var insecureAdmin = false

    @Option(name: .customLong("journal-size"), help: "Requests per cassette kept by GET /_tapedeck/journal (default: 1000).")
    var journalSize: Int?

    @Option(name: .customLong("max-open-cassettes"), help: "Most per-test cassettes open at once; the least recently used is closed (default: 64).")
    var maxOpenCassettes: Int?

    @Option(name: .customLong("max-recording-bytes"), help: "Largest answer recorded; a longer one is passed through, not saved (default: 67108864).")
    var maxRecordingBytes: Int?

    @Option(name: .customLong("shutdown-grace"), help: "Seconds in-flight requests get after SIGTERM/SIGINT; a second signal stops at once (default: 5).")
    var shutdownGrace: Int?

    @Option(name: .customLong("upstream-read-timeout"), help: "Seconds the upstream may stay silent mid-answer before a 504 (default: 600).")
    var upstreamReadTimeout: Int?

    @Option(name: .customLong("log-level"), help: "trace | debug | info | notice | warning | error (default: info).")
    var logLevel: String?

    @Flag(name: .customLong("allow-upstream-in-ci"), help: "Allow record and auto modes when CI=true.")
    var allowUpstreamInCI = false

    public init() {}

    /// The options as parsed, before the environment is consulted.
    public var options: ServeOptions {
        var options = ServeOptions()
        options.mode = mode
        options.cassette = cassette
        options.upstream = upstream
        options.host = host
        options.port = port
        options.onMiss = onMiss
        options.pace = pace
        options.speed = speed
        options.matchIgnore = matchIgnore
        options.redactHeaders = redactHeader
        options.redactPatterns = redact
        options.maxBody = maxBody
        options.idleTimeout = idleTimeout
        options.logLevel = logLevel
        options.allowUpstreamInCI = allowUpstreamInCI
        options.maxConnections = maxConnections
        options.cassetteDirectory = cassetteDir
        options.fault = fault
        options.faultCount = faultCount
        options.faultRate = faultRate
        options.faultSeed = faultSeed
        options.adminToken = adminToken
        options.insecureAdmin = insecureAdmin
        options.journalSize = journalSize
        options.maxOpenCassettes = maxOpenCassettes
        options.maxRecordingBytes = maxRecordingBytes
        options.shutdownGrace = shutdownGrace
        options.upstreamReadTimeout = upstreamReadTimeout
        return options
    }

    public func run() async throws {
        let configuration: TapedeckConfiguration
        do {
            configuration = try options.resolve(environment: Self.environment)
        } catch {
            printError("tapedeck: \(error.description)")
            throw ExitCode(2)
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "tapedeck")
        logger.logLevel = level
        do {
            // The start-up line is for people and scripts, so it goes to stdout whatever the log level.
            let app = try await buildApplication(configuration: configuration, logger: logger) { server in
                printLine(server.announcement, to: 1)
            }
            try await Self.run(app, grace: configuration.shutdownGrace, logger: logger)
        } catch let error as ConfigurationError {
            printError("tapedeck: \(error.description)")
            throw ExitCode(2)
        }
    }

    /// Runs until SIGTERM or SIGINT. The first signal stops accepting at once and gives in-flight requests
    /// `grace` seconds before they are cancelled; a second signal ends the process at once.
    static func run(_ app: some ApplicationProtocol, grace: Int, logger: Logger) async throws {
        var group = ServiceGroupConfiguration(
            services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .clamped(seconds: Double(grace))
        let escalation = SecondSignal(logger: logger)
        defer { escalation.cancel() }
        try await ServiceGroup(configuration: group).run()
    }

    static var environment: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        return result
    }
}

func printError(_ message: String) { printLine(message, to: 2) }

/// Writes one line straight to a file descriptor: unbuffered, so a reader on a pipe sees it at once.
func printLine(_ message: String, to descriptor: Int32) {
    var line = message + "\n"
    line.withUTF8 { buffer in
        _ = write(descriptor, buffer.baseAddress, buffer.count)
    }
}

/// Ends the process at the second SIGTERM or SIGINT: the first starts a graceful shutdown, and a person who
/// asks again does not want to wait for it.
final class SecondSignal {
    private final class Count: Sendable {
        private let value = Mutex(0)
        func increment() -> Int { value.withLock { $0 += 1; return $0 } }
    }

    private let sources: [any DispatchSourceSignal]

    init(logger: Logger) {
        let count = Count()
        sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if count.increment() == 1 {
                    logger.notice("Shutting down: no new connections; in-flight requests are finishing (signal again to stop at once)")
                } else {
                    logger.notice("Stopped at once by a second signal")
                    // `_exit`, not `exit`: atexit handlers and destructors would run while NIO and GRDB threads
                    // still work. Committed recordings are safe in the WAL; nothing half-saved is kept.
                    _exit(1)
                }
            }
            source.resume()
            return source
        }
    }

    func cancel() { for source in sources { source.cancel() } }
}
