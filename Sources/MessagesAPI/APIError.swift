/// An error as the Messages API reports it: an HTTP status, an `error.type` and a message.
///
/// Everything that reaches a client as an error goes through this type, so the envelope is always
/// `{"type":"error","error":{"type":…,"message":…},"request_id":…}`.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int
    public let type: String
    public let message: String
    /// Extra response headers (`retry-after`, `x-should-retry`, …).
    public var headers: [(String, String)]

    public init(status: Int, type: String, message: String, headers: [(String, String)] = []) {
        self.status = status
        self.type = type
        self.message = message
        self.headers = headers
    }

    public static func == (lhs: APIError, rhs: APIError) -> Bool {
        lhs.status == rhs.status && lhs.type == rhs.type && lhs.message == rhs.message
            && lhs.headers.map { "\($0.0):\($0.1)" } == rhs.headers.map { "\($0.0):\($0.1)" }
    }

    public var description: String { "\(status) \(type): \(message)" }

    /// The body sent to the client.
    public func body(requestID: String) -> JSONValue {
        [
            "type": "error",
            "error": ["type": .string(type), "message": .string(message)],
            "request_id": .string(requestID),
        ]
    }

    /// The `event: error` a stream ends with when this error happens mid-answer.
    public var streamEvent: SSEEvent {
        SSEEvent(json: ["type": "error", "error": ["type": .string(type), "message": .string(message)]])
    }

    public static func invalidRequest(_ message: String) -> APIError {
        APIError(status: 400, type: "invalid_request_error", message: message)
    }
    public static func authentication(_ message: String) -> APIError {
        APIError(status: 401, type: "authentication_error", message: message)
    }
    public static func notFound(_ message: String) -> APIError {
        APIError(status: 404, type: "not_found_error", message: message)
    }
    public static func methodNotAllowed(_ method: String, path: String) -> APIError {
        APIError(status: 405, type: "invalid_request_error", message: "Method \(method) not allowed for \(path)")
    }
    public static func requestTooLarge(limit: Int) -> APIError {
        APIError(
            status: 413,
            type: "request_too_large",
            message: "Request exceeds the maximum allowed number of bytes (\(limit))."
        )
    }
    public static func api(_ message: String, status: Int = 500) -> APIError {
        APIError(status: status, type: "api_error", message: message)
    }

    /// The HTTP status the API uses for an `error.type` (for errors that arrived inside a stream).
    public static func status(forType type: String) -> Int {
        switch type {
        case "invalid_request_error": 400
        case "authentication_error": 401
        case "billing_error": 402
        case "permission_error": 403
        case "not_found_error": 404
        case "request_too_large": 413
        case "rate_limit_error": 429
        case "timeout_error": 504
        case "overloaded_error": 529
        default: 500
        }
    }

    /// The `error.type` the API uses for an HTTP status.
    public static func type(forStatus status: Int) -> String {
        switch status {
        case 400: "invalid_request_error"
        case 401: "authentication_error"
        case 402: "billing_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 504: "timeout_error"
        case 529: "overloaded_error"
        default: "api_error"
        }
    }
}
