import Cassette
import Foundation
import HTTPTypes
import MessagesAPI

/// The one request path every API route shares, top to bottom (`APIRoutes` in App/Routes.swift wires it):
///
/// 1. **Intake** (`RequestReader`) turned the HTTP request into an `IncomingRequest`: cassette name, body,
///    redaction, normalization for matching (`Matching`), fingerprint, requested faults.
/// 2. **Cassette**: the request's cassette is opened (a per-test one may be created in record and auto mode).
/// 3. **Faults** (`Policy.effect(of:)`): a fault that answers instead (an error kind, a mid-stream error asked of
///    a plain call) is thrown here, after its latency; no occurrence is used and nothing is forwarded.
/// 4. **Occurrence**: the fingerprint's next occurrence on this cassette is claimed.
/// 5. **Policy** (`Policy.plan`) lists the sources to try: replay, record, then the route's fallback (synthesis
///    the model catalog, or the 404 of a path Tapedeck does not model), or the miss error; a synthesized answer
///    and an error for a miss are noted as misses.
/// 6. **Answer sources** answer with an `Answer` value, or pass (no recording).
///
/// The caller then delivers it: `Answer.response()` turns it into HTTP, applying stream faults on the way out.
final class Pipeline: Sendable {
    let configuration: TapedeckConfiguration
    let shelf: Shelf
    let replay: ReplaySource
    /// The upstream, in record and auto mode.
    let record: RecordSource?
    let faults: FaultSchedule
    let journal: Journal
    /// The models the server knows now: the catalog, plus what recording and replay learned.
    let models: ModelRegistry
    /// The clock of cache TTLs and rate-limit windows (`--clock`, `POST /_tapedeck/clock`).
    let clock: TestClock
    /// Each cassette's prompt cache, for synthesized and fixture answers.
    let caches: PromptCacheBook
    /// Each cassette's rate-limit budget; `nil` with `--rate-limit off`.
    let limiter: RateLimiter?
    /// Cassettes' own settings (`PUT /_tapedeck/settings`), which intake and the policy consult.
    let settings: CassetteSettingsBook
    /// The policy's plans for this server's mode and on-miss, made once: one per kind of fallback.
    private let plans: [SourceKind: [Policy.Step]]

    /// - Parameter models: The registry `record` learns into; a new one from the configuration by default.
    init(configuration: TapedeckConfiguration, shelf: Shelf, record: RecordSource?, models: ModelRegistry? = nil) {
        self.configuration = configuration
        self.shelf = shelf
        self.record = record
        let models = models ?? ModelRegistry(configuration.startingCatalog)
        self.models = models
        let clock = TestClock(mode: configuration.clock)
        self.clock = clock
        self.caches = PromptCacheBook(clock: clock)
        self.limiter = configuration.rateLimit.map { RateLimiter(budget: $0, clock: clock) }
        self.replay = ReplaySource(pace: configuration.pace, speed: configuration.speed, models: models, caches: caches)
        self.faults = FaultSchedule(plan: configuration.fault)
        self.journal = Journal(capacity: configuration.journalSize)
        self.settings = CassetteSettingsBook(configuration: configuration, canRecord: record != nil)
        var plans: [SourceKind: [Policy.Step]] = [:]
        for fallback in SourceKind.fallbacks {
            plans[fallback] = Policy.plan(
                mode: configuration.mode, onMiss: configuration.onMiss, fallback: fallback, canRecord: record != nil)
        }
        self.plans = plans
    }

    /// Answers `request` as the policy says, with `fallback` (the route's own source) when nothing recorded does.
    func answer(_ request: IncomingRequest, fallback: some AnswerSource) async throws -> Answer {
        var request = request
        let tape = try await shelf.tape(named: request.cassette)
        let faults = try drawFaults(for: &request)
        if let latency = faults?.latency { try await Task.sleep(for: .clamped(milliseconds: Double(latency))) }
        if let faults { try applyBeforeAnswering(faults, to: &request) }
        // Only Messages calls spend the budget: count_tokens and the catalog have limits of their own upstream.
        let limiter = fallback.kind == .synthesis && !request.path.hasSuffix("/count_tokens") ? self.limiter : nil
        try limiter?.admit(cassette: request.cassetteName)
        var answer = try await answerUnfaulted(request, tape: tape, fallback: fallback)
        answer.faults = faults
        if let limiter, answer.source != .proxied { charge(&answer, to: limiter, for: request) }
        return answer
    }

    // The synchronous steps of `answer` are functions of their own, kept out of line: the locals of code inlined
    // into an async function can all become part of its frame, which comes from the connection's task and stays
    // as large as it ever was for the connection's lifetime (see `AnswerSource.answer`).

    /// The faults `request` meets: the ones it asked for, else the ones drawn from the schedule.
    @inline(never)
    private func drawFaults(for request: inout IncomingRequest) throws -> Faults? {
        let schedule = request.overrides?.faults ?? self.faults
        guard let faults = request.faults ?? (request.faultsDrawn ? nil : schedule.draw(for: request.fingerprint)) else {
            return nil
        }
        // The sources see drawn faults too: a forced stop reason shapes the answer they make.
        request.faults = faults
        request.trace.update { $0.fault = faults.description }
        return faults
    }

    /// Throws the error of a fault that answers instead; lets a recording outlive a hang-up the fault causes.
    @inline(never)
    private func applyBeforeAnswering(_ faults: Faults, to request: inout IncomingRequest) throws {
        if Policy.effect(of: faults, wantsStream: request.wantsStream) == .answersInstead {
            request.trace.update { $0.source = "fault" }
            throw answeringError(faults)
        }
        if faults.breakOff != nil {
            // The client is meant to lose this answer part-way (and its SDK then hangs up): that hang-up is
            // Tapedeck's doing, so a recording still finishes from the upstream rather than being cancelled.
            request.client = ClientConnection()
        }
    }

    /// Every answer spends the budget, but only the ones Tapedeck makes (synthesized, fixtures: those with
    /// `tokens`) carry its headers: a recording keeps the headers it was recorded with, an upstream answer its own.
    @inline(never)
    private func charge(_ answer: inout Answer, to limiter: RateLimiter, for request: IncomingRequest) {
        let wantsHeaders = answer.tokens != nil && answer.headers[RateLimiter.headerNames[0]] == nil
        let values = limiter.charge(
            cassette: request.cassetteName, inputTokens: answer.tokens?.input ?? 0,
            outputTokens: answer.tokens?.output ?? 0, reporting: wantsHeaders)
        for (name, value) in zip(RateLimiter.headerNames, values) { answer.headers.append(HTTPField(name: name, value: value)) }
    }

    private func answerUnfaulted(_ request: IncomingRequest, tape: Tape, fallback: some AnswerSource) async throws -> Answer {
        var request = request
        request.occurrence = tape.nextOccurrence(of: request.fingerprint)
        request.trace.update { [occurrence = request.occurrence] in $0.occurrence = occurrence }
        for step in (request.overrides?.plans ?? plans)[fallback.kind] ?? [] {
            switch step {
            case .ask(.replay):
                if let answer = try await replay.answer(request, tape: tape) { return answer }
            case .ask(.record):
                if let record, let answer = try await record.answer(request, tape: tape) { return answer }
            case .ask:
                if fallback.kind == .unmodeled {
                    request.trace.update { $0.source = "miss" }
                    noteMiss(request, answered: "error")
                }
                guard let answer = try await fallback.answer(request, tape: tape) else { continue }
                if fallback.kind == .synthesis { noteMiss(request, answered: "synthesized") }
                return answer
            case .missError:
                try fallback.check(request)
                throw try await missError(for: request, tape: tape)
            }
        }
        throw APIError.api("No source answered \(request.method) \(request.path).")
    }

    /// The error a fault that answers instead sends: its error kind, or its mid-stream error as JSON.
    func answeringError(_ faults: Faults) -> APIError {
        var error: APIError
        if let kind = faults.error {
            let retryAfter = Double(kind.retryAfter ?? "") ?? (Double(kind.retryAfterMilliseconds ?? "") ?? 1000) / 1000
            // A reset time clients may compute a wait from, on the test clock (`--clock manual`: the same every run).
            let wait = min(max(1, retryAfter.rounded(.up)), Double(Limits.longestWaitSeconds))
            error = kind.apiError(resetAt: clock.date(at: clock.now() + wait))
        } else if case .midstreamError(_, let type, let message)? = faults.breakOff {
            error = APIError(.init(type), message: message)
        } else {
            error = .api("The fault \(faults) does not answer instead of the real answer.")
        }
        error.headers.append((HeaderPolicy.faultHeader, faults.description))
        return error
    }

    /// Notes a request nothing recorded answered, for `GET /_tapedeck/misses`.
    func noteMiss(_ request: IncomingRequest, answered: String) {
        journal.addMiss(
            MissRecord(
                seq: 0, time: Date(), method: request.method, path: request.path, cassette: request.cassetteName,
                fingerprint: request.fingerprint.hex,
                body: request.rawBody.count <= Journal.largestKeptBody ? request.body : nil, matcher: request.matcher,
                answered: answered))
    }

    /// The 404 that `--on-miss error` answers, naming the closest recording and where it differs.
    @inline(never)  // its own frame (see `AnswerSource.answer`)
    func missError(for request: IncomingRequest, tape: Tape) async throws -> APIError {
        request.trace.update { $0.source = "miss" }
        noteMiss(request, answered: "error")
        let miss = try await tape.explainMiss(
            method: request.method, path: request.path, body: request.body, matcher: request.matcher)
        return .notFound(miss.description)
    }
}
