package import Logging
package import ServiceLifecycle

/// Runs `service` (an application) for the scope of `body`, which gets the port the service reports on `ports`;
/// then shuts it down gracefully and waits until it has stopped, also when `body` throws or the task is cancelled.
/// A service that fails before it reports a port (a port in use) throws that failure instead of waiting forever.
/// - Parameter grace: How long in-flight requests get to finish before the service is cancelled; `nil`: no limit.
package func withServing<T>(
    _ service: some Service, ports: AsyncStream<Int>, logger: Logger, grace: Duration? = nil,
    beforeShutdown: @Sendable () -> Void = {}, isolation: isolated (any Actor)? = #isolation,
    _ body: (Int) async throws -> T
) async throws -> T {
    var configuration = ServiceGroupConfiguration(services: [.init(service: service)], gracefulShutdownSignals: [], logger: logger)
    if let grace { configuration.maximumGracefulShutdownDuration = grace }
    let group = ServiceGroup(configuration: configuration)
    return try await withThrowingTaskGroup(of: ServingEvent.self, isolation: isolation) { tasks in
        tasks.addTask {
            // Awaited at once, so as scoped as a child task, but it does not inherit the scope's cancellation: a
            // cancelled test still stops the server through the graceful shutdown below (in-flight requests get
            // their grace) instead of having it cut off.
            let run = Task { try await group.run() }
            try await run.value
            return .stopped
        }
        tasks.addTask {
            for await port in ports { return .running(port) }
            return .stopped
        }
        // Whichever comes first: the port, or the service's failure (which `next()` throws, ending the scope).
        guard case .running(let port)? = try await tasks.next() else {
            await group.triggerGracefulShutdown()
            try Task.checkCancellation()
            throw TapedeckTestingError(.stoppedBeforeRunning, "The server stopped before it accepted connections.")
        }
        let outcome: Result<T, any Error>
        do { outcome = .success(try await body(port)) } catch { outcome = .failure(error) }
        beforeShutdown()
        await group.triggerGracefulShutdown()
        // Waited for in both cases, so the port is closed before the scope's result or error reaches the caller.
        var stopFailure: (any Error)?
        do { try await tasks.waitForAll() } catch { stopFailure = error }
        let value = try outcome.get()
        if let stopFailure { throw stopFailure }
        return value
    }
}

private enum ServingEvent: Sendable {
    case running(Int)
    case stopped
}
