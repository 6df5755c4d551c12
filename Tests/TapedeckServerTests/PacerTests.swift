import Foundation
import Testing

@testable import TapedeckServer

@Suite("The pacer paced streams wait on")
struct PacerTests {
    @Test func everyWaitEndsAtOrAfterItsDeadlineAndNoneIsLost() async throws {
        let pacer = Pacer()
        let start = ContinuousClock.now
        // Deadlines out of order and several in one millisecond, as thousands of streams make them.
        let offsets = (0..<300).map { ($0 * 7919) % 120 }
        let late = try await withThrowingTaskGroup(of: Bool.self) { group in
            for offset in offsets {
                group.addTask {
                    let deadline = start + .milliseconds(offset)
                    try await pacer.sleep(until: deadline)
                    return ContinuousClock.now < deadline
                }
            }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(late == 0, "no wait may end before its deadline")
        #expect(pacer.pending == 0)
    }

    @Test func cancellingAWaitEndsItWithCancellationAndLeavesNothing() async throws {
        let pacer = Pacer()
        let (started, signal) = AsyncStream.makeStream(of: Void.self)
        let waiting = Task {
            signal.yield()
            try await pacer.sleep(until: .now + .seconds(3600))
        }
        for await _ in started { break }
        waiting.cancel()
        let outcome = await waiting.result
        #expect(throws: CancellationError.self) { try outcome.get() }
        #expect(pacer.pending == 0)
    }

    /// Clients that hang up on long waits leave entries behind; they are swept once they are most of the heap.
    @Test func cancelledLongWaitsDoNotPileUp() async throws {
        let pacer = Pacer()
        for _ in 0..<6 {
            let (started, signal) = AsyncStream.makeStream(of: Void.self)
            let waits = (0..<500).map { _ in
                Task {
                    signal.yield()
                    try await pacer.sleep(until: .now + .seconds(3600))
                }
            }
            var count = 0
            for await _ in started {
                count += 1
                if count == waits.count { break }
            }
            for wait in waits { wait.cancel() }
            for wait in waits { _ = await wait.result }
        }
        #expect(pacer.pending == 0)
        #expect(pacer.entries < 2_500, "3,000 cancelled waits, swept as they grew: \(pacer.entries) left")
    }

    @Test func aCancelledTaskAndAPastDeadlineDoNotWait() async throws {
        let pacer = Pacer()
        try await pacer.sleep(until: .now - .seconds(1))
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await pacer.sleep(until: .now + .seconds(3600))
        }
        let outcome = await cancelled.result
        #expect(throws: CancellationError.self) { try outcome.get() }
        #expect(pacer.pending == 0)
    }

    @Test func millisecondsRoundAsAsked() {
        #expect(Pacer.milliseconds(.microseconds(1500), roundingUp: true) == 2)
        #expect(Pacer.milliseconds(.microseconds(1500), roundingUp: false) == 1)
        #expect(Pacer.milliseconds(.milliseconds(3), roundingUp: true) == 3)
        #expect(Pacer.milliseconds(.microseconds(-1500), roundingUp: true) == -1)
        #expect(Pacer.milliseconds(.microseconds(-1500), roundingUp: false) == -2)
        #expect(Pacer.milliseconds(.seconds(Int64.max), roundingUp: true) == .max)
    }
}
