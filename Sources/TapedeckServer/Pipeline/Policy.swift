/// The whole of Tapedeck's answering policy, as pure functions: the only place that reads the mode, `--on-miss`
/// and the fault kinds to decide who answers. `Pipeline` carries the plan out; `PolicyTests` drives the real
/// pipeline through every row of it.
enum Policy {
    typealias Mode = TapedeckConfiguration.Mode
    typealias OnMiss = TapedeckConfiguration.OnMiss

    /// One step of a plan: ask a source, or refuse as a miss.
    enum Step: Equatable, Sendable {
        /// Ask the source; if it has nothing (no recording), go on to the next step.
        case ask(SourceKind)
        /// Nothing recorded answers and `--on-miss error` is set: a 404 naming the closest recording.
        case missError
    }

    /// The steps tried in order for a request whose route falls back to `fallback` (synthesis, catalog, or the 404 of
    /// a path Tapedeck does not model).
    ///
    /// Replay and auto look in the cassette first; record and auto may call the upstream; whatever is left
    /// over is the route's fallback, unless it is a synthesized stand-in and misses are errors.
    /// - Parameter canRecord: Whether an upstream is configured (it is in record and auto mode).
    static func plan(mode: Mode, onMiss: OnMiss, fallback: SourceKind, canRecord: Bool) -> [Step] {
        // Files are the cassette's state, kept by their own source in every mode (see `FileSource`).
        if fallback == .files { return [.ask(.files)] }
        var steps: [Step] = []
        if mode != .record { steps.append(.ask(.replay)) }
        if mode != .replay, canRecord { steps.append(.ask(.record)) }
        steps.append(fallback == .synthesis && onMiss == .error ? .missError : .ask(fallback))
        return steps
    }

    /// What a fault does to the plan.
    enum FaultEffect: Equatable, Sendable {
        /// No fault, or one applied on the way out (latency, pacing, a break): the plan runs as usual.
        case none
        /// The fault answers in place of the real answer: no source is asked, nothing is forwarded or recorded,
        /// and no occurrence is used.
        case answersInstead
    }

    /// An error kind answers instead, and so does a mid-stream error asked of a request that is not a stream
    /// (it gets that error as JSON); every other fault shapes the real answer on its way out.
    static func effect(of faults: Faults?, wantsStream: Bool) -> FaultEffect {
        guard let faults else { return .none }
        if faults.error != nil { return .answersInstead }
        if case .midstreamError? = faults.breakOff, !wantsStream { return .answersInstead }
        return .none
    }
}
