import NIOCore
import Synchronization

/// One client connection, as the work done on its behalf upstream sees it: whether the client is still there,
/// and how many upstream calls it is waiting on.
///
/// `HTTP1ConnectionGuard` makes one per connection and marks it closed when the connection ends, or when the
/// client closes its side while an upstream call is in flight (a client abort). Waits on the upstream race
/// against that, so a hang-up cancels the upstream call at once instead of holding it until a timeout. One
/// object per connection, not a callback per wait: a stream of a million chunks registers nothing.
final class ClientConnection: Sendable {
    /// Thrown in place of a result when the client's connection closed first.
    struct Closed: Error, CustomStringConvertible {
        var description: String { "the client closed its connection" }
    }

    private struct State {
        var closed = false
        var upstreamCalls = 0
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waiters cancelled before they could register.
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())
    /// Where a paced body can be written from the connection's event loop (none without a guard: tests without
    /// a socket).
    let outlet: ConnectionOutlet?

    init(outlet: ConnectionOutlet? = nil) { self.outlet = outlet }

    // MARK: Connections by channel

    private static let open = Mutex<[ObjectIdentifier: ClientConnection]>([:])

    /// The connection for `channel`; one that never closes where no guard watches the channel (tests without a
    /// socket).
    static func of(_ channel: any Channel) -> ClientConnection {
        open.withLock { $0[ObjectIdentifier(channel)] } ?? ClientConnection()
    }

    static func register(_ connection: ClientConnection, for channel: any Channel) {
        open.withLock { $0[ObjectIdentifier(channel)] = connection }
    }

    static func unregister(_ channel: any Channel) {
        let connection = open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
        connection?.markClosed()
    }

    // MARK: State

    /// Whether an upstream call made for this client is under way.
    var isAwaitingUpstream: Bool { state.withLock { $0.upstreamCalls > 0 } }

    /// Ends every wait: the client is gone.
    func markClosed() {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Runs `operation` (an upstream call, or part of one), cancelling it and throwing `Closed` if the client
    /// goes first.
    func cancellingOnClose<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        state.withLock { $0.upstreamCalls += 1 }
        defer { state.withLock { $0.upstreamCalls -= 1 } }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                await self.waitUntilClosed()
                guard self.state.withLock({ $0.closed }) else { return nil }  // cancelled: the operation won
                throw Closed()
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }

    /// Returns when the connection closes, or when the calling task is cancelled.
    private func waitUntilClosed() async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.closed || state.cancelled.remove(id) != nil { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                guard let waiter = state.waiters.removeValue(forKey: id) else {
                    state.cancelled.insert(id)
                    return nil as CheckedContinuation<Void, Never>?
                }
                return waiter
            }
            waiter?.resume()
        }
    }
}
