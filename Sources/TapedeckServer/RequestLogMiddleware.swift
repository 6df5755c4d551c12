public import Hummingbird
import HTTPTypes

/// One log line per request: method, path, status, where the answer came from, and milliseconds taken.
public struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        if context.logger.logLevel <= .info {
            let elapsed = ContinuousClock.now - start
            let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
            context.logger.info(
                "\(request.method) \(request.uri.path) \(response.status.code)",
                metadata: [
                    "source": "\(response.headers[.tapedeckSource] ?? "-")",
                    "ms": "\((ms * 10).rounded() / 10)",
                ]
            )
        }
        return response
    }
}
