import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// For every request: one log line (method, path, status, where the answer came from, milliseconds) and, for API
/// requests, a journal entry with what the routes traced.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = TapedeckRequestContext
    let journal: Journal

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        let path = request.uri.path
        let isAdmin = path.hasPrefix(Route.adminPrefix)
        let facts = context.trace.current
        let headerSource = response.headers[.tapedeckSource]
        let source = facts.source ?? (headerSource == "tapedeck" ? "error" : headerSource ?? (isAdmin ? "admin" : "error"))
        if !isAdmin {
            journal.add(
                JournalEntry(
                    seq: 0, time: Date(), method: request.method.rawValue, path: facts.path ?? path, cassette: facts.cassette,
                    fingerprint: facts.fingerprint, source: source, occurrence: facts.occurrence,
                    status: Int(response.status.code), latencyMilliseconds: ms, fault: facts.fault, stream: facts.stream,
                    warnings: facts.warnings))
        }
        for warning in facts.warnings {
            context.logger.warning("\(warning)", metadata: ["path": "\(facts.path ?? path)"])
        }
        if context.logger.logLevel <= .info {
            context.logger.info(
                "\(request.method) \(path) \(response.status.code)",
                metadata: ["source": .string(source), "ms": .stringConvertible(Milliseconds(value: ms))])
        }
        return response
    }
}

/// Milliseconds to a tenth, formatted only when the log line is (on the log writer's thread).
struct Milliseconds: CustomStringConvertible, Sendable {
    let value: Double
    var description: String { "\((value * 10).rounded() / 10)" }
}
