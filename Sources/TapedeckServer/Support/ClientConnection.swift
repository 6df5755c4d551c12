import NIOCore

/// The client's end of a request: lets long waits on the upstream end when the client hangs up, so a
/// cancelled request does not keep an upstream call (and a connection to it) open until a timeout.
struct ClientConnection: Sendable {
    /// Thrown in place of a result when the client's connection closed first.
    struct Closed: Error, CustomStringConvertible {
        var description: String { "the client closed its connection" }
    }

    /// Completes when the connection closes; `nil` where there is no connection (tests without a socket).
    let closeFuture: EventLoopFuture<Void>?

    /// Runs `operation`, cancelling it (and throwing `Closed`) if the connection closes first.
    func cancellingOnClose<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let closeFuture else { return try await operation() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                // An AsyncStream wait ends on cancellation, unlike `closeFuture.get()`: when the operation wins,
                // cancelling this child must not leave the group waiting for the connection to close.
                let (closed, continuation) = AsyncStream<Never>.makeStream()
                closeFuture.whenComplete { _ in continuation.finish() }
                for await _ in closed {}
                if Task.isCancelled { return nil }
                throw Closed()
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }
}
