/// Bounds Tapedeck puts on values that come from requests, flags and cassettes, in one place.
public enum Limits {
    /// The longest wait Tapedeck schedules or accepts (timeouts, fault delays, recorded offsets): a day. Longer is
    /// a mistake, not a test, and unbounded values overflow `Duration` and NIO's time amounts, which trap.
    public static let longestWaitSeconds = 86_400
    public static var longestWaitMilliseconds: Int { longestWaitSeconds * 1000 }

    /// Largest request body by default (`--max-body`): the API's own limit for a Messages request.
    public static let defaultRequestBodyBytes = 32 * 1024 * 1024
    /// Largest file by default (`--max-file-bytes`): the Files API's 500 MB per file, read as MiB so that
    /// nothing the API accepts is refused.
    public static let defaultFileBytes = 500 * 1024 * 1024
    /// Largest body of an admin call (`POST /_tapedeck/faults`): a fault plan is a few hundred bytes.
    public static let adminBodyBytes = 64 * 1024
    /// Deepest JSON nesting read: deeper input is refused (400) before recursion can exhaust the stack.
    public static let jsonDepth = 128
    /// Largest recorded answer by default (`--max-recording-bytes`): an endless upstream stream cannot exhaust
    /// memory.
    public static let defaultRecordingBytes = 64 * 1024 * 1024
    /// Bytes of prepared replay answers kept in memory, across cassettes.
    public static let preparedAnswerBytes = 64 * 1024 * 1024
    /// Bytes of request bodies kept with what they parsed to, so a repeated request is not parsed again.
    public static let parsedBodyBytes = 8 * 1024 * 1024
    /// The largest request body kept so: bigger ones are rarely sent twice byte for byte.
    public static let largestParsedBody = 64 * 1024
    /// Largest request body a miss record keeps for `GET /_tapedeck/misses`; a larger one is noted without it.
    public static let missBodyBytes = 1 << 20
    /// Longest per-test cassette name (a file name, so well below any file system's limit).
    public static let cassetteNameBytes = 200
    /// Per-test cassettes open at once by default (`--max-open-cassettes`).
    public static let defaultOpenCassettes = 64
    /// Most rows an admin listing returns at once (`?limit=`).
    public static let adminPageRows = 10_000
}
