public import Hummingbird
import Cassette
import MessagesAPI
import NIOCore

/// Turns every failure into the API's error envelope, so clients never see Hummingbird's own error bodies.
public struct ErrorEnvelopeMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.makeResponse()
        } catch let damaged as DamagedRecording {
            // The cassette, not the request, is at fault; retrying cannot help.
            context.logger.error("Damaged recording", metadata: ["error": "\(damaged)"])
            return APIError(
                status: 500, type: "api_error",
                message: "Tapedeck cannot replay this: \(damaged). Re-record it, or list such rows with `tapedeck cassette verify`.",
                headers: [("x-should-retry", "false")]
            ).makeResponse()
        } catch let gone as ClientConnection.Closed {
            // Nobody will read this answer; the upstream call it was waiting on has been cancelled.
            context.logger.debug("Client hung up", metadata: ["error": "\(gone)"])
            return APIError.api("The client closed the connection.").makeResponse()
        } catch is CancellationError {
            // The server is stopping and its grace period ran out: this request was cut short on purpose.
            context.logger.notice("Request cancelled by shutdown")
            return APIError.api("Tapedeck is shutting down.").makeResponse()
        } catch let error as HTTPError {
            return Self.apiError(for: error, request: request).makeResponse()
        } catch is NIOTooManyBytesError {
            return APIError.requestTooLarge(limit: 32 * 1024 * 1024).makeResponse()
        } catch {
            context.logger.error("Unhandled error", metadata: ["error": "\(error)"])
            return APIError.api("Internal server error").makeResponse()
        }
    }

    static func apiError(for error: HTTPError, request: Request) -> APIError {
        switch error.status.code {
        case 404: .notFound("Not Found")
        case 405: .methodNotAllowed(request.method.rawValue, path: request.uri.path)
        case 413: .requestTooLarge(limit: 32 * 1024 * 1024)
        case 400..<500: APIError(status: error.status.code, type: "invalid_request_error", message: error.body ?? error.status.reasonPhrase)
        default: .api(error.body ?? "Internal server error", status: error.status.code)
        }
    }
}
