public import ArgumentParser
import Dispatch
import Hummingbird
import Logging
import NIOCore
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

    /// The options as given; `resolve(environment:)` turns them into a configuration.
    @OptionGroup public var options: ServeOptions

    public init() {}

    public func run() async throws {
        let configuration: TapedeckConfiguration
        do {
            configuration = try options.resolve(environment: Self.environment)
        } catch {
            printError("tapedeck: \(error.description)")
            throw ExitCode(2)
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in LogLineHandler(label: label, level: level) }
        defer { LogWriter.standardError.flush() }
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
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            // The commonest start-up failure gets one line that says what to do, not NIO's `bind(...)` text.
            printError(
                "tapedeck: cannot listen on \(configuration.host):\(configuration.port): the address is already in use; "
                    + "stop what holds it or choose another --port")
            throw ExitCode(1)
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
        func increment() -> Int {
            value.withLock {
                $0 += 1
                return $0
            }
        }
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
