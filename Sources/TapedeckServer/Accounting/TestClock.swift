import MessagesAPI
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The clock cache TTLs and rate-limit windows are measured on: seconds since the server started, plus whatever
/// `POST /_tapedeck/clock` advanced it by. With `--clock manual` only advances move it, so a test decides when a
/// cache entry expires or a budget refills; answers never depend on the wall clock.
public final class TestClock: Sendable {
    /// How the clock moves.
    public enum Mode: String, Sendable, CaseIterable {
        /// With real time (monotonic), plus advances.
        case wall
        /// Only by advances; its dates start at `manualEpoch`.
        case manual
    }

    public let mode: Mode
    private let start = ContinuousClock.now
    /// Unix seconds at the clock's zero, for the dates headers carry.
    let epoch: Double
    private let advanced = Mutex<Double>(0)

    /// 2026-01-01T00:00:00Z: a manual clock's dates are the same on every run.
    static let manualEpoch: Double = 1_767_225_600

    public init(mode: Mode) {
        self.mode = mode
        epoch = mode == .manual ? Self.manualEpoch : Date().timeIntervalSince1970.rounded(.down)
    }

    /// Seconds since the clock's zero.
    func now() -> Double {
        let offset = advanced.withLock { $0 }
        guard mode == .wall else { return offset }
        let elapsed = ContinuousClock.now - start
        return offset + Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Moves the clock on by `seconds` (≥ 0).
    func advance(by seconds: Double) {
        advanced.withLock { $0 += max(0, seconds) }
    }

    /// The RFC 3339 date (`2026-01-01T00:05:00Z`) of clock time `seconds`, rounded up to the second.
    func date(at seconds: Double) -> String { Self.rfc3339(unixSeconds: second(at: seconds)) }

    /// The Unix second of clock time `seconds`, rounded up, within the years RFC 3339 can write.
    func second(at seconds: Double) -> Int64 {
        let unix = (epoch + seconds).rounded(.up)
        return unix.isFinite ? Int64(min(max(0, unix), 253_402_300_799)) : 0
    }

    /// RFC 3339 in UTC from Unix seconds.
    static func rfc3339(unixSeconds: Int64) -> String { RFC3339.string(unixSeconds: unixSeconds) }
}
