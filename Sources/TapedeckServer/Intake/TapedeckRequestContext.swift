public import Hummingbird
import Synchronization

/// The request context: Hummingbird's, plus a trace the intake and the pipeline fill in and the journal reads once the response
/// is ready (a context is passed by value, so the trace is a shared box).
public struct TapedeckRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let trace = RequestTrace()
    /// The client's connection, whose closing cancels work done on its behalf upstream.
    let client: ClientConnection

    public init(source: Source) {
        coreContext = .init(source: source)
        client = ClientConnection.of(source.channel)
    }
}

/// What the intake and the pipeline learned about a request: which cassette, fingerprint and occurrence, which fault, and a source
/// when the response headers do not tell it (a miss, a fault).
final class RequestTrace: Sendable {
    struct Facts: Sendable {
        var cassette = Shelf.defaultName
        /// The API path, without a `/cassettes/NAME` prefix.
        var path: String?
        var fingerprint: String?
        var occurrence: Int?
        var source: String?
        var fault: String?
        var stream = false
        /// The body as sent, once read: with the occurrence, it seeds the request id of an error answer.
        var body: [UInt8] = []
        /// What the answer stands on that a person should know (an inferred model): logged and journaled.
        var warnings: [String] = []
    }

    private let facts = Mutex(Facts())

    func update(_ change: (inout Facts) -> Void) { facts.withLock { change(&$0) } }

    var current: Facts { facts.withLock { $0 } }

    func warn(_ warning: String) { update { $0.warnings.append(warning) } }
}
