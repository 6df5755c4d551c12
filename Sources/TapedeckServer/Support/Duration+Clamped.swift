import MessagesAPI
import NIOCore

/// Durations built from values that come from requests, flags or cassettes. `Duration`'s own initializers trap on
/// overflow and on NaN, so a hostile `tps=1e-30` or a hand-edited event offset would take the whole process down;
/// these clamp into `0...longest` instead.
extension Duration {
    /// The longest wait Tapedeck ever schedules: a day. Anything longer is a mistake, not a test.
    public static let longestWait: Duration = .seconds(Limits.longestWaitSeconds)  // lint: allow a constant day

    /// `milliseconds` as a duration, clamped to `0...longestWait` (NaN counts as 0).
    public static func clamped(milliseconds: Double) -> Duration {
        guard milliseconds > 0 else { return .zero }  // NaN compares false too
        guard milliseconds < Double(Limits.longestWaitMilliseconds) else { return longestWait }
        return .microseconds(Int64(milliseconds * 1000))  // lint: allow bounded by the guards above
    }

    /// `seconds` as a duration, clamped to `0...longestWait` (NaN counts as 0).
    public static func clamped(seconds: Double) -> Duration {
        clamped(milliseconds: seconds * 1000)
    }
}

extension TimeAmount {
    /// `seconds` as a NIO time amount, clamped to a day: `.seconds` traps past about 292 years.
    static func clamped(seconds: Int) -> TimeAmount {
        .seconds(Int64(min(max(seconds, 0), Limits.longestWaitSeconds)))  // lint: allow clamped to a day
    }
}
