/// Why a `withTapedeck` scope could not start, said the way a person can act on.
///
/// A configuration the server itself refuses (a file that is not a cassette, a bad redact pattern) is thrown as the
/// server's `ConfigurationError`, with the same words `tapedeck serve` prints.
public struct TapedeckTestingError: Error, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable {
        /// Replay was asked of a cassette file that does not exist (replay never creates one).
        case missingCassette
        /// `record` or `auto` under `CI=true` without `TAPEDECK_ALLOW_UPSTREAM_IN_CI=true`.
        case upstreamInCI
        /// `TAPEDECK_MODE` is not `replay`, `record` or `auto`.
        case unknownMode
        /// Requests in the scope matched no recording and were answered with the API's 404 (`onMiss = .error`).
        case unansweredRequests
        /// The server ended before it accepted a connection, or could not be asked about the scope.
        case stoppedBeforeRunning
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
