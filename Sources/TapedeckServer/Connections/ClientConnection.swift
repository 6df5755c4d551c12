import NIOCore
import Synchronization

/// One client connection, as the work done on its behalf upstream sees it: whether the client is still there,
/// and how many upstream calls it is waiting on.
///
/// `HTTP1ConnectionGuard` makes one per connection and marks it closed when the connection ends, or when the
/// client closes its side while an upstream call is in flight (a client abort). A wait on the upstream cancels
/// its own task then, so a hang-up ends the upstream call at once instead of holding it until a timeout. One
/// object per connection; a wait costs an entry in its table under its lock, not a task or a callback.
final class ClientConnection: Sendable {
    /// Thrown in place of a result when the client's connection closed first.
    struct Closed: Error, CustomStringConvertible {
        var description: String { "the client closed its connection" }
    }

    /// A task waiting on the upstream, to cancel when the client goes.
    ///
    /// Swift has no handle that cancels a task other than the one `Task {}` returns, and a child task per wait
    /// (a task group racing the call against the close) cost two task spawns and two thread hops for every
    /// chunk of a relayed stream. The current task's own handle is kept only while the task is inside
    /// `cancellingOnClose`, and taken out, under the lock `markClosed` cancels under, before that returns: a task
    /// cannot end while its code is still running there. The documentation promises less (the handle for the
    /// closure of `withUnsafeCurrentTask` only); this holds on how the runtime keeps a task alive while it runs or
    /// is suspended.
    private struct Waiter: @unchecked Sendable {
        let task: UnsafeCurrentTask
    }

    private struct State {
        var closed = false
        var nextWaiter = 0
        var waiting: [Int: Waiter] = [:]
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

    /// Whether an upstream call made for this client is under way (and the client not yet gone).
    var isAwaitingUpstream: Bool { state.withLock { !$0.waiting.isEmpty } }

    /// Ends every wait: the client is gone. The guard calls it once the channel is inactive, so the cancelled
    /// tasks' handlers (Hummingbird's closes the channel's input) find nothing left to close and do not come back
    /// into this connection while its lock is held.
    func markClosed() {
        state.withLock { state in
            state.closed = true
            // Under the lock: a waiter leaves `waiting` (and may then end its task) only while holding it.
            for waiter in state.waiting.values { waiter.task.cancel() }
            state.waiting = [:]
        }
    }

    /// Runs `operation` (an upstream call, or part of one) in the calling task, cancelling the task and throwing
    /// `Closed` if the client goes first. The task's cancellation handlers then run under this connection's lock,
    /// so none may call back into it.
    func cancellingOnClose<T>(_ operation: () async throws -> T) async throws -> T {
        let id = try withUnsafeCurrentTask { task throws(Closed) -> Int? in
            guard let task else { return nil }  // outside any task (never in async code): nothing to cancel
            return try state.withLock { state throws(Closed) -> Int in
                guard !state.closed else { throw Closed() }
                state.nextWaiter += 1
                state.waiting[state.nextWaiter] = Waiter(task: task)
                return state.nextWaiter
            }
        }
        guard let id else { return try await operation() }
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await operation())
        } catch {
            outcome = .failure(error)
        }
        let cancelled = state.withLock { $0.waiting.removeValue(forKey: id) == nil }
        // A task the hang-up cancelled says so, even when its call finished first: the task stays cancelled, and
        // its next wait (a cassette write) would fail as if the server were shutting down.
        if cancelled { throw Closed() }
        return try outcome.get()
    }
}
