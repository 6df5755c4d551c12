import Foundation
import HeapModule

/// The clock bodies paced from their task wait on: one thread wakes every body whose next event is due, a
/// millisecond tick at a time, and each body's task goes on from there to write its event. Faults that pace or
/// break a body (`FaultWriter`) wait here, and so does a paced replay with no connection outlet (Hummingbird's
/// test client); a paced replay over a real connection is timed on its event loop (`ConnectionOutlet`).
///
/// A `Task.sleep` per event made each wait a timer of its own in Dispatch, created, armed and torn down from the
/// cooperative pool: with 10,000 streams of an event per 100 ms that was 100,000 timers a second and most of the
/// server's CPU, and the waits fell behind by hundreds of milliseconds. Here a wait is a heap entry, and the
/// thread resumes what is due in one pass.
final class Pacer: @unchecked Sendable {
    // `@unchecked`: every mutable field is read and written only while `condition` is locked.
    private let condition = NSCondition()
    private var due = Heap<Due>()
    private var slots: [UInt64: Slot] = [:]
    private var nextID: UInt64 = 0
    /// Heap entries of waits cancelled before their time: swept out when they are most of the heap, so clients
    /// that hang up on long waits cannot fill it.
    private var cancelledEntries = 0
    private let origin = ContinuousClock.now

    /// The pacer of every server in the process.
    static let shared = Pacer()

    private struct Due: Comparable {
        var tick: Int64
        var id: UInt64
        static func < (a: Due, b: Due) -> Bool { (a.tick, a.id) < (b.tick, b.id) }
    }

    /// A wait from its start to its resumption; cancellation can come at any point of it.
    private enum Slot {
        /// Its id is taken, its continuation not yet made.
        case starting
        /// Cancelled while starting: the continuation, once made, is resumed at once.
        case cancelled
        case waiting(CheckedContinuation<Void, any Error>)
    }

    /// The longest single wait of the thread: `NSCondition` waits on the wall clock, so a clock set back costs a
    /// wait at most this much (each wake looks at the monotonic clock again).
    static let longestWait: TimeInterval = 0.1

    init() {
        let thread = Thread { [self] in run() }
        thread.name = "tapedeck-pacer"
        thread.start()
    }

    /// Returns at `deadline` (rounded up to the next millisecond), or throws `CancellationError` as soon as the
    /// task is cancelled, as `Task.sleep(until:)` does.
    func sleep(until deadline: ContinuousClock.Instant) async throws {
        let tick = Self.milliseconds(deadline - origin, roundingUp: true)
        guard tick > Self.milliseconds(.now - origin, roundingUp: false) else { return try Task.checkCancellation() }
        let id = condition.withLock {
            nextID &+= 1
            slots[nextID] = .starting
            return nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                condition.lock()
                guard case .starting? = slots[id] else {
                    slots[id] = nil
                    condition.unlock()
                    return continuation.resume(throwing: CancellationError())
                }
                slots[id] = .waiting(continuation)
                if cancelledEntries > 1024 && cancelledEntries * 2 > due.count {
                    due = Heap(due.unordered.filter { slots[$0.id] != nil })
                    cancelledEntries = 0
                }
                let isEarliest = due.min.map { tick < $0.tick } ?? true
                due.insert(Due(tick: tick, id: id))
                condition.unlock()
                if isEarliest { condition.signal() }
            }
        } onCancel: {
            condition.lock()
            let slot = slots[id]
            switch slot {
            case .starting?: slots[id] = .cancelled
            case .waiting?:
                slots[id] = nil
                cancelledEntries += 1
            case .cancelled?, nil: break  // resumed already, or cancelled twice
            }
            condition.unlock()
            if case .waiting(let continuation)? = slot { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// How many waits are pending (for tests).
    var pending: Int { condition.withLock { slots.count } }

    /// How many entries the heap holds, cancelled ones included (for tests).
    var entries: Int { condition.withLock { due.count } }

    private func run() {
        var ready: [CheckedContinuation<Void, any Error>] = []
        condition.lock()
        while true {
            guard let next = due.min else {
                condition.wait()
                continue
            }
            let elapsed = ContinuousClock.now - origin
            let now = Self.milliseconds(elapsed, roundingUp: false)
            if next.tick > now {
                let wait = Double(next.tick) / 1000 - Self.seconds(elapsed)
                _ = condition.wait(until: Date(timeIntervalSinceNow: min(max(wait, 0), Self.longestWait)))
                continue
            }
            while let first = due.min, first.tick <= now {
                due.removeMin()
                // A cancelled wait left its entry here; its slot is gone.
                if case .waiting(let continuation)? = slots.removeValue(forKey: first.id) {
                    ready.append(continuation)
                } else {
                    cancelledEntries = max(0, cancelledEntries - 1)
                }
            }
            condition.unlock()
            for continuation in ready { continuation.resume() }
            ready.removeAll(keepingCapacity: true)
            condition.lock()
        }
    }

    static func milliseconds(_ duration: Duration, roundingUp: Bool) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let perMillisecond: Int64 = 1_000_000_000_000_000
        var milliseconds = seconds.multipliedReportingOverflow(by: 1000)
        guard !milliseconds.overflow else { return seconds < 0 ? .min : .max }
        var whole = attoseconds / perMillisecond
        if roundingUp && attoseconds % perMillisecond > 0 { whole += 1 }
        if attoseconds < 0 && !roundingUp && attoseconds % perMillisecond != 0 { whole -= 1 }
        milliseconds = milliseconds.partialValue.addingReportingOverflow(whole)
        return milliseconds.overflow ? .max : milliseconds.partialValue
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
