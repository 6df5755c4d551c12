public import Hummingbird
public import Logging
import MessagesAPI
import NIOCore

/// The paths Tapedeck serves and the methods each accepts; other methods on them get a 405.
let knownRoutes: [(path: RouterPath, methods: [HTTPRequest.Method])] = [
    ("/v1/messages", [.post]),
    ("/v1/messages/count_tokens", [.post]),
    ("/v1/models", [.get]),
    ("/v1/models/{id}", [.get]),
    ("/_tapedeck/health", [.get]),
]

/// Builds the Tapedeck application. Both `tapedeck serve` and the tests call this.
/// - Parameters:
///   - configuration: What to serve and how.
///   - logger: The logger for the server and its requests.
public func buildApplication(configuration: TapedeckConfiguration, logger: Logger) async throws
    -> some ApplicationProtocol
{
    if configuration.mode != .replay {
        throw ConfigurationError.modeNotAvailable(configuration.mode)
    }
    let router = buildRouter(configuration: configuration)
    let startupLine = configuration.startupLine
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            logger.notice("\(startupLine(port))")
        },
        logger: logger
    )
}

/// The router with every route and middleware; exposed for `app.test(.router)`-style tests.
public func buildRouter(configuration: TapedeckConfiguration) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: ErrorEnvelopeMiddleware())
    MessagesController(configuration: configuration).addRoutes(to: router)
    ModelsController(catalog: configuration.models).addRoutes(to: router)
    AdminController(configuration: configuration).addRoutes(to: router)
    let allMethods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch, .options]
    for route in knownRoutes {
        for method in allMethods where !route.methods.contains(method) {
            router.on(route.path, method: method) { request, _ -> Response in
                throw APIError.methodNotAllowed(request.method.rawValue, path: request.uri.path)
            }
        }
    }
    return router
}

/// A configuration Tapedeck cannot serve, said the way a person can act on.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String

    static func modeNotAvailable(_ mode: TapedeckConfiguration.Mode) -> Self {
        .init(description: "--mode \(mode.rawValue) is not available in this build yet; use --mode replay.")
    }
}

extension TapedeckConfiguration {
    /// The one line printed at start-up: mode, where to point clients, cassette and upstream.
    func startupLine(_ port: Int) -> String {
        let address = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        var line = "tapedeck \(mode.rawValue) on \(address) (set ANTHROPIC_BASE_URL=\(address))"
        line += " cassette=\(cassettePath)"
        line += mode == .replay ? " on-miss=\(onMiss.rawValue)" : " upstream=\(upstream)"
        return line
    }
}
