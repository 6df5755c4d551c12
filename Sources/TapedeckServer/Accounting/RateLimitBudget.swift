/// A per-minute budget: requests, input tokens and output tokens (`--rate-limit rpm=50,itpm=30000,otpm=8000`).
/// Each refills continuously, as the API's token buckets do: a full budget per minute.
public struct RateLimitBudget: Sendable, Equatable {
    public var requestsPerMinute: Int
    public var inputTokensPerMinute: Int
    public var outputTokensPerMinute: Int
    /// Whether running out answers a 429. The default budget only reports headers: a load test must not be
    /// refused by a limit nobody asked for.
    public var isEnforced: Bool

    public init(requestsPerMinute: Int, inputTokensPerMinute: Int, outputTokensPerMinute: Int, isEnforced: Bool) {
        self.requestsPerMinute = requestsPerMinute
        self.inputTokensPerMinute = inputTokensPerMinute
        self.outputTokensPerMinute = outputTokensPerMinute
        self.isEnforced = isEnforced
    }

    /// What answers carry without `--rate-limit`: a generous tier's figures, never enforced.
    public static let generous = RateLimitBudget(
        requestsPerMinute: 4_000, inputTokensPerMinute: 2_000_000, outputTokensPerMinute: 400_000, isEnforced: false)

    /// Largest figure accepted: a budget above it is no limit at all.
    static let largest = 1_000_000_000

    /// Reads `rpm=N,itpm=N,otpm=N` (any subset; the rest keep the generous figures), enforced; `off` is `nil`.
    /// - Throws: A sentence naming the part that is wrong.
    public static func parse(_ text: String) throws(ParseError) -> RateLimitBudget? {
        if text.trimmingSpaces.lowercased() == "off" { return nil }
        var budget = generous
        budget.isEnforced = true
        var given = false
        for item in text.split(separator: ",") {
            let part = item.trimmingSpaces
            guard !part.isEmpty else { continue }
            guard let eq = part.firstIndex(of: "=") else { throw ParseError("'\(part)' needs a value (rpm=N, itpm=N or otpm=N)") }
            let name = String(part[..<eq]).trimmingSpaces.lowercased()
            let valueText = String(part[part.index(after: eq)...]).trimmingSpaces
            guard let value = Int(valueText), value >= 1, value <= largest else {
                throw ParseError("\(name) must be a whole number from 1 to \(largest), not '\(valueText)'")
            }
            switch name {
            case "rpm": budget.requestsPerMinute = value
            case "itpm": budget.inputTokensPerMinute = value
            case "otpm": budget.outputTokensPerMinute = value
            default: throw ParseError("unknown budget '\(name)': use rpm, itpm and otpm")
            }
            given = true
        }
        guard given else { throw ParseError("give rpm=N, itpm=N and/or otpm=N, or off") }
        return budget
    }

    /// Why a `--rate-limit` value was refused.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = "--rate-limit: " + description }
    }
}
