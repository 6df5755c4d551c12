import AsyncHTTPClient
import Cassette
public import Hummingbird
public import Logging
import MessagesAPI
import NIOCore
import ServiceLifecycle
import Synthesis

/// Builds the Tapedeck application. Both `tapedeck serve` and the tests call this.
/// - Parameters:
///   - configuration: What to serve and how.
///   - logger: The logger for the server and its requests.
///   - onServerRunning: Called once the server accepts connections, with its port and the start-up line.
public func buildApplication(
    configuration: TapedeckConfiguration, logger: Logger,
    onServerRunning: @escaping @Sendable (RunningServer) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    // First: a missing or broken inspector template stops the start-up here, not a page later.
    let inspector = try await InspectorTemplates.loadBundled()
    let vocabulary = try SynthesisVocabulary.loadBundled()
    let redactor: Redactor
    do {
        redactor = try Redactor(patterns: configuration.redactPatterns, headers: configuration.redactHeaders)
    } catch {
        throw ConfigurationError(.invalidRedactPattern, error.description)
    }
    let matching = try Matching(configuration)
    let tape: Tape
    do {
        // Replay never creates a file: an absent cassette is an empty one.
        tape = try await Tape(path: configuration.cassettePath, create: configuration.mode != .replay)
    } catch let error as CassetteStore.StoreError {
        throw ConfigurationError(.unusableCassette, error.description)
    }

    var services: [any Service] = []
    let models = ModelRegistry(configuration.startingCatalog)
    var record: RecordSource?
    if configuration.mode != .replay {
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.timeout = .init(
            connect: .clamped(seconds: configuration.upstreamConnectTimeout),
            read: .clamped(seconds: configuration.upstreamReadTimeout))
        // Never follow redirects: the configured upstream is the only host Tapedeck talks to.
        clientConfiguration.redirectConfiguration = .disallow
        // A refused connection is a 502 at once: retrying it inside the client would hold the caller for the whole
        // connect timeout, while the SDKs already retry a 502 themselves, with their own backoff.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        // The client's default of 8 connections per host would queue concurrent recordings behind each other.
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = configuration.maxConnections
        // Tapedeck bootstraps no tracer, but the client would still take the global no-op one and, for every call,
        // parse the URL again to fill span attributes nobody reads: 3% of a recording's CPU in the profile.
        clientConfiguration.tracing.tracer = nil
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        services.append(HTTPClientService(client: client))
        record = RecordSource(
            client: client, upstream: configuration.upstream, redactor: redactor,
            upstreamKey: configuration.upstreamKey, maxRecordingBytes: configuration.maxRecordingBytes, logger: logger,
            models: models)
    }
    let shelf = Shelf(
        defaultTape: tape, directory: configuration.resolvedCassetteDirectory, create: configuration.mode != .replay,
        capacity: configuration.maxOpenCassettes)
    let pipeline = Pipeline(configuration: configuration, shelf: shelf, record: record, models: models)
    let reader = RequestReader(
        maxBodyBytes: configuration.maxBodyBytes, redactor: redactor, matching: matching, settings: pipeline.settings)
    let router = buildRouter(reader: reader, pipeline: pipeline, inspector: inspector, vocabulary: vocabulary)
    let startupLine = configuration.startupLine
    let limiter = ConnectionLimiter(limit: configuration.maxConnections)
    return Application(
        router: router,
        // A client that stops sending (half a request, or an idle keep-alive) is dropped, freeing its connection.
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [ConnectionGuardInstaller(limiter: limiter)],
                idleTimeout: .clamped(seconds: configuration.idleTimeout))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
        services: services,
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            await onServerRunning(RunningServer(port: port, announcement: startupLine(port, tape.count)))
        },
        logger: logger
    )
}

func buildRouter(reader: RequestReader, pipeline: Pipeline, inspector: InspectorTemplates, vocabulary: Vocabulary)
    -> Router<TapedeckRequestContext>
{
    let router = Router(context: TapedeckRequestContext.self)
    router.add(middleware: RequestLogMiddleware(journal: pipeline.journal))
    router.add(middleware: ErrorEnvelopeMiddleware())
    let api = APIRoutes(reader: reader, pipeline: pipeline, vocabulary: vocabulary)
    api.add(to: router)
    let admin = AdminController(pipeline: pipeline, inspector: inspector)
    admin.addRoutes(to: router)
    admin.addBatchRoutes(to: router, book: api.batches)
    router.refuseOtherMethods()
    return router
}

/// A server that accepts connections: where it listens, and the line that tells a person where to point clients.
public struct RunningServer: Sendable {
    public let port: Int
    public let announcement: String
}

/// Shuts the upstream client down when the application stops.
struct HTTPClientService: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

/// A configuration Tapedeck cannot serve, said the way a person can act on.
public struct ConfigurationError: Error, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// A `--redact` pattern is not a valid regular expression.
        case invalidRedactPattern
        /// A `--match-normalize` rule is not `REGEX=>REPLACEMENT` with a valid regular expression.
        case invalidMatchNormalizer
        /// The `--cassette` file cannot be opened or is not a cassette.
        case unusableCassette
        /// The inspector's templates (package resources) are missing or do not load.
        case brokenInspectorTemplates
        /// The synthesis vocabulary (a package resource) is missing or does not load.
        case brokenSynthesisVocabulary
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}

extension TapedeckConfiguration {
    /// The one line printed at start-up: mode, where to point clients, cassette and upstream.
    func startupLine(_ port: Int, _ recordings: Int) -> String {
        let address = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        var line = "tapedeck \(mode.rawValue) on \(address) (set ANTHROPIC_BASE_URL=\(address))"
        line += " cassette=\(cassettePath) (\(recordings) recorded)"
        if mode != .replay { line += " upstream=\(upstream)" }
        if mode != .record { line += " on-miss=\(onMiss.rawValue)" }
        return line
    }
}
