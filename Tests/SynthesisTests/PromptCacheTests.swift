import MessagesAPI
import Testing

@testable import Synthesis

/// A validated request from JSON text.
private func parsed(_ text: String) throws -> MessagesRequest {
    let body = try RequestValidator.parseBody(Array(text.utf8))
    return try RequestValidator().validateShape(body, endpoint: .messages)
}

/// A request whose system block (long enough to cache) carries `cache_control`, then `question`.
private func cachedSystem(ttl: String? = nil, question: String = "What is a tape?", words: Int = 1_200) -> String {
    let control = ttl.map { #"{"type":"ephemeral","ttl":"\#($0)"}"# } ?? #"{"type":"ephemeral"}"#
    let long = Array(repeating: "cassette", count: words).joined(separator: " ")
    return
        #"{"model":"claude-sonnet-4-5","max_tokens":64,"system":[{"type":"text","text":"\#(long)","cache_control":\#(control)}],"messages":[{"role":"user","content":"\#(question)"}]}"#
}

private let model = "claude-sonnet-4-5-20250929"

@Suite("Prompt caching: plans and the ledger")
struct PromptCacheTests {
    @Test func requestWithoutCacheControlHasNoPlan() throws {
        #expect(PromptCachePlan(request: try parsed(request()), model: model) == nil)
    }

    @Test func firstRequestCreatesSecondReadsAndTotalsMatchCountTokens() throws {
        let request = try parsed(cachedSystem())
        let plan = try #require(PromptCachePlan(request: request, model: model))
        #expect(plan.totalTokens == TokenEstimator.inputTokens(for: request))
        var ledger = PromptCacheLedger()
        let first = ledger.account(plan, now: 0)
        #expect(first.read == 0 && first.created5m > 1_024 && first.created1h == 0)
        #expect(first.read + first.created + first.uncached == plan.totalTokens)
        let second = ledger.account(plan, now: 10)
        #expect(second.read == first.created && second.created == 0 && second.uncached == first.uncached)
    }

    @Test func changedSuffixStillReadsThePrefix() throws {
        var ledger = PromptCacheLedger()
        let first = ledger.account(try #require(PromptCachePlan(request: try parsed(cachedSystem()), model: model)), now: 0)
        let other = try #require(PromptCachePlan(request: try parsed(cachedSystem(question: "And a reel?")), model: model))
        let second = ledger.account(other, now: 1)
        #expect(second.read == first.created && second.created == 0)
    }

    @Test func expiredEntryIsCreatedAgainAndReadsRefreshTheTTL() throws {
        let plan = try #require(PromptCachePlan(request: try parsed(cachedSystem()), model: model))
        var ledger = PromptCacheLedger()
        _ = ledger.account(plan, now: 0)
        #expect(ledger.account(plan, now: 299).read > 0, "inside five minutes")
        #expect(ledger.account(plan, now: 598).read > 0, "the read at 299 s renewed it")
        let late = ledger.account(plan, now: 899)
        #expect(late.read == 0 && late.created5m > 0, "five minutes after the last use it is gone")
    }

    @Test func oneHourTTLIsSplitAndLastsAnHour() throws {
        let plan = try #require(PromptCachePlan(request: try parsed(cachedSystem(ttl: "1h")), model: model))
        var ledger = PromptCacheLedger()
        let first = ledger.account(plan, now: 0)
        #expect(first.created1h > 0 && first.created5m == 0)
        #expect(ledger.account(plan, now: 3_000).read == first.created1h)
    }

    @Test func prefixBelowTheModelsMinimumIsNotCached() throws {
        let plan = try #require(PromptCachePlan(request: try parsed(cachedSystem(words: 100)), model: model))
        var ledger = PromptCacheLedger()
        for now in [0.0, 1] {
            let accounting = ledger.account(plan, now: now)
            #expect(accounting.read == 0 && accounting.created == 0 && accounting.uncached == plan.totalTokens)
        }
        #expect(ledger.count == 0)
    }

    @Test(arguments: [
        ("claude-opus-5-5-20261101", 512), ("claude-opus-4-7", 2_048), ("claude-haiku-4-5-20251001", 4_096),
        ("claude-opus-4-5-20251101", 4_096), ("claude-sonnet-4-5-20250929", 1_024), ("claude-sonnet-5", 1_024),
    ])
    func minimumLengthsFollowTheDocs(model: String, tokens: Int) {
        #expect(PromptCachePlan.minimumTokens(forModel: model) == tokens)
    }

    @Test func automaticCachingMovesTheBreakpointToTheLastBlock() throws {
        let long = Array(repeating: "reel", count: 1_200).joined(separator: " ")
        let turn1 =
            #"{"model":"claude-sonnet-4-5","max_tokens":64,"cache_control":{"type":"ephemeral"},"system":"\#(long)","messages":[{"role":"user","content":"One?"}]}"#
        let turn2 =
            #"{"model":"claude-sonnet-4-5","max_tokens":64,"cache_control":{"type":"ephemeral"},"system":"\#(long)","messages":[{"role":"user","content":"One?"},{"role":"assistant","content":"Yes."},{"role":"user","content":"Two?"}]}"#
        var ledger = PromptCacheLedger()
        let first = ledger.account(try #require(PromptCachePlan(request: try parsed(turn1), model: model)), now: 0)
        #expect(first.created == first.read + first.created + first.uncached, "everything up to the last block is written")
        let second = ledger.account(try #require(PromptCachePlan(request: try parsed(turn2), model: model)), now: 1)
        #expect(second.read == first.created, "the earlier conversation is read through the lookback")
        #expect(second.created > 0 && second.uncached == 0)
    }

    @Test func toolsComeFirstAndAToolBreakpointCachesThem() throws {
        let description = Array(repeating: "spool", count: 1_300).joined(separator: " ")
        let text =
            #"{"model":"claude-sonnet-4-5","max_tokens":64,"tools":[{"name":"wind","description":"\#(description)","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"Wind it"}]}"#
        let plan = try #require(PromptCachePlan(request: try parsed(text), model: model))
        #expect(plan.breakpoints.map(\.boundary) == [0])
        var ledger = PromptCacheLedger()
        let first = ledger.account(plan, now: 0)
        #expect(first.created == plan.boundaries[0].tokens && first.uncached > 0)
    }

    @Test func cacheControlIsNotPartOfThePrefixKey() throws {
        let a = try #require(PromptCachePlan(request: try parsed(cachedSystem(ttl: "5m")), model: model))
        let b = try #require(PromptCachePlan(request: try parsed(cachedSystem(ttl: "1h")), model: model))
        let c = try #require(PromptCachePlan(request: try parsed(cachedSystem()), model: "claude-opus-4-8"))
        #expect(a.boundaries[0].key == b.boundaries[0].key)
        #expect(a.boundaries[0].key != c.boundaries[0].key, "caches are per model")
    }

    @Test func appliedUsageKeepsTheAPIsFields() {
        let accounting = PromptCacheLedger.Accounting(read: 5, created5m: 3, created1h: 2, uncached: 7)
        let usage = accounting.applied(to: Usage(inputTokens: 17, outputTokens: 4))
        #expect(usage.inputTokens == 7 && usage.cacheReadInputTokens == 5 && usage.cacheCreationInputTokens == 5)
        #expect(usage.cacheCreation == ["ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 2])
    }
}
