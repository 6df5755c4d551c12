/// An error as the Messages API reports it: an HTTP status, an `error.type` and a message.
///
/// Everything that reaches a client as an error goes through this type, so the envelope is always
/// `{"type":"error","error":{"type":…,"message":…},"request_id":…}`.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An `error.type`: the code clients match on (the SDKs map each to an exception class). Known ones are
    /// named; any other (a new one in a recorded stream, one a fault asks for) is kept as written.
    public struct Code: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }
        public var description: String { rawValue }

        public static let invalidRequest: Code = "invalid_request_error"
        public static let authentication: Code = "authentication_error"
        public static let billing: Code = "billing_error"
        public static let permission: Code = "permission_error"
        public static let notFound: Code = "not_found_error"
        public static let requestTooLarge: Code = "request_too_large"
        public static let rateLimit: Code = "rate_limit_error"
        public static let api: Code = "api_error"
        public static let timeout: Code = "timeout_error"
        public static let overloaded: Code = "overloaded_error"

        /// The HTTP status the API answers this code with (for errors that arrived inside a stream).
        public var status: Int {
            switch self {
            case .invalidRequest: 400
            case .authentication: 401
            case .billing: 402
            case .permission: 403
            case .notFound: 404
            case .requestTooLarge: 413
            case .rateLimit: 429
            case .timeout: 504
            case .overloaded: 529
            default: 500
            }
        }

        /// The code the API uses for an HTTP status.
        public init(status: Int) {
            self =
                switch status {
                case 400: .invalidRequest
                case 401: .authentication
                case 402: .billing
                case 403: .permission
                case 404: .notFound
                case 413: .requestTooLarge
                case 429: .rateLimit
                case 504: .timeout
                case 529: .overloaded
                default: .api
                }
        }
    }

    public let status: Int
    public let type: Code
    public let message: String
    /// Extra response headers (`retry-after`, `x-should-retry`, …).
    public var headers: [(String, String)]
    /// `error.details`, when the API names a cause machine-readably (`{"error_code": "file_not_downloadable"}`).
    public var details: JSONValue?

    public init(status: Int, type: Code, message: String, headers: [(String, String)] = []) {
        self.status = status
        self.type = type
        self.message = message
        self.headers = headers
    }

    /// An error with the status the API gives its code.
    public init(_ type: Code, message: String, headers: [(String, String)] = []) {
        self.init(status: type.status, type: type, message: message, headers: headers)
    }

    public static func == (lhs: APIError, rhs: APIError) -> Bool {
        lhs.status == rhs.status && lhs.type == rhs.type && lhs.message == rhs.message
            && lhs.headers.map { "\($0.0):\($0.1)" } == rhs.headers.map { "\($0.0):\($0.1)" }
    }

    public var description: String { "\(status) \(type): \(message)" }

    /// The request id of this error's answer: derived from the error itself, so it is the same on every run.
    public var requestID: String { Identifier.requestID(seed: Array("\(status) \(type) \(message)".utf8)) }

    /// The body sent to the client.
    public func body(requestID: String) -> JSONValue {
        var error: JSONObject = ["type": .string(type.rawValue), "message": .string(message)]
        if let details { error["details"] = details }
        return ["type": "error", "error": .object(error), "request_id": .string(requestID)]
    }

    /// The `event: error` a stream ends with when this error happens mid-answer.
    public var streamEvent: SSEEvent {
        SSEEvent(json: ["type": "error", "error": ["type": .string(type.rawValue), "message": .string(message)]])
    }

    public static func invalidRequest(_ message: String) -> APIError {
        APIError(status: 400, type: .invalidRequest, message: message)
    }
    public static func authentication(_ message: String) -> APIError {
        APIError(status: 401, type: .authentication, message: message)
    }
    public static func notFound(_ message: String) -> APIError {
        APIError(status: 404, type: .notFound, message: message)
    }
    public static func methodNotAllowed(_ method: String, path: String) -> APIError {
        APIError(status: 405, type: .invalidRequest, message: "Method \(method) not allowed for \(path)")
    }
    public static func requestTooLarge(limit: Int) -> APIError {
        APIError(
            status: 413,
            type: .requestTooLarge,
            message: "Request exceeds the maximum allowed number of bytes (\(limit))."
        )
    }
    public static func api(_ message: String, status: Int = 500) -> APIError {
        APIError(status: status, type: .api, message: message)
    }
}
