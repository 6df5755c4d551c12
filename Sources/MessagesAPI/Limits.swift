/// Bounds Tapedeck puts on values that come from requests, flags and cassettes, in one place.
public enum Limits {
    /// The longest wait Tapedeck schedules or accepts (timeouts, fault delays, recorded offsets): a day. Longer is
    /// a mistake, not a test, and unbounded values overflow `Duration` and NIO's time amounts, which trap.
    public static let longestWaitSeconds = 86_400
    public static var longestWaitMilliseconds: Int { longestWaitSeconds * 1000 }
}
