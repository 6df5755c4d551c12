import MessagesAPI
import Testing

@testable import TapedeckServer

@Suite("Rate limits and the test clock")
struct RateLimiterTests {
    @Test func budgetParsesAndRefusesMistakes() throws {
        let budget = try #require(try RateLimitBudget.parse("rpm=5, itpm=1000"))
        #expect(budget.requestsPerMinute == 5 && budget.inputTokensPerMinute == 1_000 && budget.isEnforced)
        #expect(budget.outputTokensPerMinute == RateLimitBudget.generous.outputTokensPerMinute)
        #expect(try RateLimitBudget.parse("off") == nil)
        for bad in ["rpm", "rpm=0", "rpm=x", "qps=3", ""] {
            #expect(throws: RateLimitBudget.ParseError.self) { try RateLimitBudget.parse(bad) }
        }
    }

    @Test(arguments: [
        (Int64(1_767_225_600), "2026-01-01T00:00:00Z"), (951_782_400, "2000-02-29T00:00:00Z"),
        (1_772_323_199, "2026-02-28T23:59:59Z"), (0, "1970-01-01T00:00:00Z"),
    ])
    func datesAreRFC3339(seconds: Int64, text: String) {
        #expect(TestClock.rfc3339(unixSeconds: seconds) == text)
    }

    @Test func manualClockMovesOnlyWhenAdvanced() {
        let clock = TestClock(mode: .manual)
        #expect(clock.now() == 0)
        clock.advance(by: 90)
        clock.advance(by: -5)
        #expect(clock.now() == 90 && clock.date(at: clock.now()) == "2026-01-01T00:01:30Z")
    }

    @Test func headersCountDownThenA429ThenTheClockRefills() throws {
        let clock = TestClock(mode: .manual)
        let budget = try #require(try RateLimitBudget.parse("rpm=3,itpm=100000,otpm=100000"))
        let limiter = RateLimiter(budget: budget, clock: clock)
        var remaining: [String] = []
        for _ in 0..<3 {
            try limiter.admit(cassette: "a")
            remaining.append(limiter.charge(cassette: "a", inputTokens: 10, outputTokens: 5)[1])
        }
        #expect(remaining == ["2", "1", "0"])
        let error = try #require(throws: APIError.self) { try limiter.admit(cassette: "a") }
        #expect(error.status == 429 && error.type.rawValue == "rate_limit_error")
        #expect(error.message.hasPrefix("This request would exceed the rate limit for your organization ("))
        #expect(error.message.contains(" of 3 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits."))
        let headers = Dictionary(error.headers, uniquingKeysWith: { a, _ in a })
        #expect(headers["retry-after"] == "20" && headers["x-should-retry"] == "true")
        #expect(headers["anthropic-ratelimit-requests-remaining"] == "0")
        #expect(headers["anthropic-ratelimit-requests-reset"] == "2026-01-01T00:01:00Z")
        try limiter.admit(cassette: "b")
        clock.advance(by: 20)
        try limiter.admit(cassette: "a")
        limiter.reset(cassette: "a")
        #expect(limiter.charge(cassette: "a", inputTokens: 0, outputTokens: 0)[1] == "2")
    }

    @Test func tokenBudgetsRunIntoDebtAndTheDefaultIsNeverEnforced() throws {
        let clock = TestClock(mode: .manual)
        let limiter = RateLimiter(budget: try #require(try RateLimitBudget.parse("itpm=600")), clock: clock)
        try limiter.admit(cassette: "a")
        let values = limiter.charge(cassette: "a", inputTokens: 700, outputTokens: 1)
        #expect(values[7] == "0" && values[6] == "600", "input-tokens remaining and limit")
        let error = try #require(throws: APIError.self) { try limiter.admit(cassette: "a") }
        #expect(error.message.contains(" of 600 input tokens per minute."))
        #expect(error.headers.first { $0.0 == "retry-after" }?.1 == "11", "100 tokens of debt at 10 a second, then one more")
        let lenient = RateLimiter(budget: .generous, clock: clock)
        _ = lenient.charge(cassette: "a", inputTokens: 10_000_000, outputTokens: 0)
        try lenient.admit(cassette: "a")
    }

    @Test func groupsThousandsAsTheAPIWrites() {
        #expect(RateLimiter.grouped(20_000) == "20,000" && RateLimiter.grouped(50) == "50" && RateLimiter.grouped(1_000_000) == "1,000,000")
    }
}
