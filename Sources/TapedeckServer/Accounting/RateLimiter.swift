import HTTPTypes
import MessagesAPI
import Synchronization

/// The rate-limit budget of each cassette in this server run, as token buckets on the test clock: every Messages
/// answer made here carries `anthropic-ratelimit-*` headers that count down, and an enforced budget that has run
/// out answers the API's 429 until the clock refills it. `POST /_tapedeck/reset` refills them.
final class RateLimiter: Sendable {
    let budget: RateLimitBudget
    let clock: TestClock
    private let state = Mutex(State())

    struct State {
        var buckets: [String: Buckets] = [:]
        /// Reset dates already formatted, by second: successive answers mostly share them.
        var dates: [Int64: String] = [:]
    }

    init(budget: RateLimitBudget, clock: TestClock) {
        self.budget = budget
        self.clock = clock
    }

    /// One budget's level: full at `limit`, refilled at `limit` per minute; it may go below zero when an answer
    /// costs more than was left, and then nothing is admitted until it is back above.
    struct Bucket {
        let limit: Double
        var level: Double
        var at: Double

        init(limit: Int, now: Double) {
            self.limit = Double(limit)
            level = Double(limit)
            at = now
        }

        var perSecond: Double { limit / 60 }

        mutating func refill(to now: Double) {
            if now > at { level = min(limit, level + (now - at) * perSecond) }
            at = max(at, now)
        }

        /// Seconds until the bucket holds `amount`.
        func wait(for amount: Double) -> Double { max(0, (amount - level) / perSecond) }

        var remaining: Int { Int(max(0, level.rounded(.down))) }
    }

    struct Buckets {
        var requests: Bucket
        var input: Bucket
        var output: Bucket
    }

    private func refilled(_ all: State, _ cassette: String, now: Double) -> Buckets {
        var buckets =
            all.buckets[cassette]
            ?? Buckets(
                requests: Bucket(limit: budget.requestsPerMinute, now: now),
                input: Bucket(limit: budget.inputTokensPerMinute, now: now),
                output: Bucket(limit: budget.outputTokensPerMinute, now: now))
        buckets.requests.refill(to: now)
        buckets.input.refill(to: now)
        buckets.output.refill(to: now)
        return buckets
    }

    /// Refuses a request an enforced budget has no room for, with the API's 429; otherwise lets it through.
    func admit(cassette: String) throws(APIError) {
        guard budget.isEnforced else { return }
        let now = clock.now()
        let refusal: APIError? = state.withLock { all in
            let buckets = refilled(all, cassette, now: now)
            all.buckets[cassette] = buckets
            let waits: [(wait: Double, what: String, limit: Int)] = [
                (buckets.requests.wait(for: 1), "requests", budget.requestsPerMinute),
                (buckets.input.level > 0 ? 0 : buckets.input.wait(for: 1), "input tokens", budget.inputTokensPerMinute),
                (buckets.output.level > 0 ? 0 : buckets.output.wait(for: 1), "output tokens", budget.outputTokensPerMinute),
            ]
            guard let worst = waits.filter({ $0.wait > 0 }).max(by: { $0.wait < $1.wait }) else { return nil }
            // Whole seconds, as the API sends them; Python 0.75 ignores a retry-after above 60.
            let retryAfter = Int(min(60, max(1, worst.wait.rounded(.up))))
            var headers: [(String, String)] = [("retry-after", "\(retryAfter)"), ("x-should-retry", "true")]
            headers += zip(Self.headerNames.map(\.rawName), values(buckets, now: now, dates: &all.dates))
            return APIError(
                status: 429, type: .init("rate_limit_error"),
                message:
                    "This request would exceed the rate limit for your organization (\(HeaderPolicy.organizationID)) of \(Self.grouped(worst.limit)) \(worst.what) per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.",
                headers: headers)
        }
        if let refusal { throw refusal }
    }

    /// Charges one answered request and its tokens; returns the values of `headerNames` the answer carries
    /// (none unless `reporting`).
    func charge(cassette: String, inputTokens: Int, outputTokens: Int, reporting: Bool = true) -> [String] {
        let now = clock.now()
        return state.withLock { all in
            var buckets = refilled(all, cassette, now: now)
            buckets.requests.level -= 1
            buckets.input.level -= Double(max(0, inputTokens))
            buckets.output.level -= Double(max(0, outputTokens))
            all.buckets[cassette] = buckets
            return reporting ? values(buckets, now: now, dates: &all.dates) : []
        }
    }

    /// Refills one cassette's budget, or every cassette's (`nil`).
    func reset(cassette: String?) {
        state.withLock { all in
            if let cassette { all.buckets[cassette] = nil } else { all.buckets.removeAll() }
        }
    }

    /// The twelve header names, made once: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
    /// {limit,remaining,reset}`.
    static let headerNames: [HTTPField.Name] = ["requests", "tokens", "input-tokens", "output-tokens"].flatMap { kind in
        ["limit", "remaining", "reset"].compactMap { HTTPField.Name("anthropic-ratelimit-\(kind)-\($0)") }
    }

    /// The values of `headerNames`; `tokens-*` shows whichever of input and output is tighter.
    private func values(_ buckets: Buckets, now: Double, dates: inout [Int64: String]) -> [String] {
        let tighter = buckets.input.remaining <= buckets.output.remaining ? buckets.input : buckets.output
        var values: [String] = []
        values.reserveCapacity(12)
        for bucket in [buckets.requests, tighter, buckets.input, buckets.output] {
            values.append(String(Int(bucket.limit)))
            values.append(String(bucket.remaining))
            let second = clock.second(at: now + bucket.wait(for: bucket.limit))
            if dates.count > 64 { dates.removeAll(keepingCapacity: true) }
            if let date = dates[second] {
                values.append(date)
            } else {
                let date = TestClock.rfc3339(unixSeconds: second)
                dates[second] = date
                values.append(date)
            }
        }
        return values
    }

    /// `20000` as `20,000`, as the API's message writes it.
    static func grouped(_ n: Int) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, digit) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return out
    }
}
