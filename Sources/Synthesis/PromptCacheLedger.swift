public import MessagesAPI

/// The prefixes one cassette has cached in this server run, with when each expires, and the accounting of a
/// request against them: the API's rules, on a clock the caller supplies (seconds; never the wall clock here).
///
/// A request reads the longest live prefix found at a breakpoint or up to `PromptCachePlan.lookback` blocks
/// before one; from there to its last cacheable breakpoint it writes, each stretch at the TTL of the breakpoint
/// that ends it. Every prefix it read or wrote lives on for its TTL from now.
public struct PromptCacheLedger: Sendable {
    /// How a request's input tokens split.
    public struct Accounting: Sendable, Equatable {
        public var read = 0
        public var created5m = 0
        public var created1h = 0
        /// The tokens neither read nor written.
        public var uncached = 0

        public var created: Int { created5m + created1h }

        /// `usage` with these counts in place of its input and cache fields.
        public func applied(to usage: Usage) -> Usage {
            var usage = usage
            usage.inputTokens = uncached
            usage.cacheCreationInputTokens = created
            usage.cacheReadInputTokens = read
            usage.cacheCreation = [
                "ephemeral_5m_input_tokens": .int(created5m), "ephemeral_1h_input_tokens": .int(created1h),
            ]
            return usage
        }
    }

    /// Expiry per prefix key.
    private var expiries: [String: Double] = [:]

    public init() {}

    /// How many prefixes are cached (live or not yet pruned).
    public var count: Int { expiries.count }

    /// Accounts `plan` at time `now` and records what it cached.
    public mutating func account(_ plan: PromptCachePlan, now: Double) -> Accounting {
        // Dropping expired entries here keeps the ledger as small as what is live.
        if expiries.count > 1_024 { expiries = expiries.filter { $0.value > now } }
        var result = Accounting()
        let cacheable = plan.breakpoints.filter { plan.boundaries[$0.boundary].tokens >= plan.minimumTokens }
        guard !cacheable.isEmpty else {
            result.uncached = plan.totalTokens
            return result
        }
        // The longest live prefix a breakpoint reaches.
        var readEnd: Int?
        for breakpoint in plan.breakpoints {
            let lowest = max(0, breakpoint.boundary - PromptCachePlan.lookback)
            for i in stride(from: breakpoint.boundary, through: lowest, by: -1) {
                if let expiry = expiries[plan.boundaries[i].key], expiry > now {
                    if readEnd.map({ i > $0 }) ?? true { readEnd = i }
                    break
                }
            }
        }
        var covered = 0
        if let readEnd {
            covered = plan.boundaries[readEnd].tokens
            result.read = covered
        }
        for breakpoint in cacheable.sorted(by: { $0.boundary < $1.boundary }) {
            let key = plan.boundaries[breakpoint.boundary].key
            let end = plan.boundaries[breakpoint.boundary].tokens
            if end > covered {
                if breakpoint.ttl == .oneHour { result.created1h += end - covered } else { result.created5m += end - covered }
                covered = end
            }
            expiries[key] = max(expiries[key] ?? 0, now + breakpoint.ttl.seconds)
        }
        if let readEnd {
            let key = plan.boundaries[readEnd].key
            let ttl = plan.breakpoints.filter { $0.boundary >= readEnd }.map(\.ttl).contains(.oneHour) ? 3_600.0 : 300.0
            expiries[key] = max(expiries[key] ?? 0, now + ttl)
        }
        result.uncached = max(0, plan.totalTokens - result.read - result.created)
        return result
    }
}
