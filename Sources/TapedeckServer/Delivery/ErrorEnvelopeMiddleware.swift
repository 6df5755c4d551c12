import Cassette
public import Hummingbird
import Logging
import MessagesAPI

/// Turns every failure into the API's error envelope, so clients never see Hummingbird's own error bodies.
public struct ErrorEnvelopeMiddleware: RouterMiddleware {
    public typealias Context = TapedeckRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            // The request as far as it was read: a body read and an occurrence claimed make it distinct.
            let facts = context.trace.current
            let requestID = Identifier.requestID(
                method: request.method.rawValue, target: request.uri.string, body: facts.body, occurrence: facts.occurrence ?? 0)
            return APIError(converting: error, method: request.method.rawValue, path: request.uri.path, logger: context.logger)
                .makeResponse(requestID: requestID)
        }
    }
}

extension APIError {
    /// What a client is told about any failure: the one conversion from Tapedeck's errors to the API's.
    init(converting error: any Error, method: String, path: String, logger: Logger) {
        switch error {
        case let error as APIError:
            self = error
        case let damaged as DamagedRecording:
            // The cassette, not the request, is at fault; retrying cannot help.
            logger.error("Damaged recording", metadata: ["error": "\(damaged)"])
            self = APIError(
                .api,
                message: "Tapedeck cannot replay this: \(damaged). Re-record it, or list such rows with `tapedeck cassette verify`.",
                headers: [("x-should-retry", "false")])
        case let gone as ClientConnection.Closed:
            // Nobody will read this answer; the upstream call it was waiting on has been cancelled.
            logger.debug("Client hung up", metadata: ["error": "\(gone)"])
            self = .api("The client closed the connection.")
        case is CancellationError:
            // The server is stopping and its grace period ran out: this request was cut short on purpose.
            logger.notice("Request cancelled by shutdown")
            self = .api("Tapedeck is shutting down.")
        case let error as HTTPError:
            // Hummingbird's own refusals (no such route, a method a route lacks), said as the API says them.
            self =
                switch error.status.code {
                case 404: .notFound("Not Found")
                case 405: .methodNotAllowed(method, path: path)
                case 400..<500:
                    APIError(
                        status: error.status.code,
                        // The API's own code where it has one (401, 413, 429, ...), else the one it uses for the rest.
                        type: APIError.Code(status: error.status.code) == .api ? .invalidRequest : APIError.Code(status: error.status.code),
                        message: error.body ?? error.status.reasonPhrase)
                default: .api(error.body ?? "Internal server error", status: error.status.code)
                }
        default:
            logger.error("Unhandled error", metadata: ["error": "\(error)"])
            self = .api("Internal server error")
        }
    }
}
