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
        note(request, response, after: ContinuousClock.now - start, context: context)
        return response
    }

    /// Out of line: inlined into `handle`, the journal entry and the log line became part of its async frame,
    /// which the connection's task keeps for its lifetime (see `AnswerSource.answer`).
    @inline(never)
    private func note(_ request: Request, _ response: Response, after elapsed: Duration, context: Context) {
        let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        let path = request.uri.path
        let isAdmin = path.hasPrefix(Route.adminPrefix)
        let facts = context.trace.current
        // The field itself, not `headers[name]`: that getter joins every match into a new string, which cost
        // more than the rest of this line.
        let headerSource = response.headers.first { $0.name == .tapedeckSource }?.value
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
            let line = AccessLine(
                method: request.method.rawValue, path: path, status: Int(response.status.code), source: source,
                milliseconds: Milliseconds(value: ms))
            // The server's own handler takes the line as it is; any other gets the same line as an event.
            if let handler = context.logger.handler as? LogLineHandler, handler.metadataProvider == nil {
                handler.log(line)
            } else {
                context.logger.info(
                    "\(line.method) \(line.path) \(line.status)",
                    metadata: ["source": .string(source), "ms": .stringConvertible(line.milliseconds)])
            }
        }
    }
}

/// Milliseconds to a tenth, formatted only when the log line is (on the log writer's thread).
struct Milliseconds: CustomStringConvertible, Sendable {
    let value: Double
    /// As `Double` would print a value rounded to a tenth (`12.3`, `0.0`), from integers: cheaper per line.
    var description: String {
        var bytes: [UInt8] = []
        append(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    func append(to bytes: inout [UInt8]) {
        let tenths = (value * 10).rounded()
        guard tenths.isFinite, tenths >= 0, tenths < 1e15 else { return bytes += "\(tenths / 10)".utf8 }
        let whole = Int(tenths)
        appendDecimal(whole / 10, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        appendDecimal(whole % 10, to: &bytes)
    }
}
