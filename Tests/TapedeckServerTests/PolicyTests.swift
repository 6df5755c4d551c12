import Testing

@testable import TapedeckServer

/// The policy table: mode × recorded × on-miss × fault → which source answers. Written out row by row from the
/// README's description of the modes, not computed, so a change to `Policy` that changes behaviour fails here.
@Suite("Answering policy")
struct PolicyTests {
    struct Row: CustomTestStringConvertible, Sendable {
        var mode: Policy.Mode
        var recorded: Bool
        var onMiss: Policy.OnMiss
        var fallback: SourceKind
        var expected: Policy.Outcome

        var testDescription: String {
            "\(mode) recorded=\(recorded) on-miss=\(onMiss) fallback=\(fallback) → \(expected)"
        }
    }

    static let synthesisRows: [Row] = [
        // replay: the recording, else the stand-in or the miss error; never the upstream.
        Row(mode: .replay, recorded: true, onMiss: .synthesize, fallback: .synthesis, expected: .source(.replay)),
        Row(mode: .replay, recorded: true, onMiss: .error, fallback: .synthesis, expected: .source(.replay)),
        Row(mode: .replay, recorded: false, onMiss: .synthesize, fallback: .synthesis, expected: .source(.synthesis)),
        Row(mode: .replay, recorded: false, onMiss: .error, fallback: .synthesis, expected: .missError),
        // record: always the upstream, recorded or not.
        Row(mode: .record, recorded: true, onMiss: .synthesize, fallback: .synthesis, expected: .source(.record)),
        Row(mode: .record, recorded: true, onMiss: .error, fallback: .synthesis, expected: .source(.record)),
        Row(mode: .record, recorded: false, onMiss: .synthesize, fallback: .synthesis, expected: .source(.record)),
        Row(mode: .record, recorded: false, onMiss: .error, fallback: .synthesis, expected: .source(.record)),
        // auto: the recording, else the upstream; on-miss never applies.
        Row(mode: .auto, recorded: true, onMiss: .synthesize, fallback: .synthesis, expected: .source(.replay)),
        Row(mode: .auto, recorded: true, onMiss: .error, fallback: .synthesis, expected: .source(.replay)),
        Row(mode: .auto, recorded: false, onMiss: .synthesize, fallback: .synthesis, expected: .source(.record)),
        Row(mode: .auto, recorded: false, onMiss: .error, fallback: .synthesis, expected: .source(.record)),
    ]

    static let catalogRows: [Row] = [
        // The catalog is reference data, not a stand-in: a miss on it is never an error.
        Row(mode: .replay, recorded: false, onMiss: .error, fallback: .catalog, expected: .source(.catalog)),
        Row(mode: .replay, recorded: false, onMiss: .synthesize, fallback: .catalog, expected: .source(.catalog)),
        Row(mode: .replay, recorded: true, onMiss: .error, fallback: .catalog, expected: .source(.replay)),
        Row(mode: .record, recorded: false, onMiss: .error, fallback: .catalog, expected: .source(.record)),
        Row(mode: .auto, recorded: false, onMiss: .error, fallback: .catalog, expected: .source(.record)),
        Row(mode: .auto, recorded: true, onMiss: .synthesize, fallback: .catalog, expected: .source(.replay)),
    ]

    @Test(arguments: synthesisRows + catalogRows)
    func whoAnswers(_ row: Row) {
        let outcome = Policy.outcome(
            mode: row.mode, recorded: row.recorded, onMiss: row.onMiss, fault: .none, fallback: row.fallback,
            canRecord: row.mode != .replay)
        #expect(outcome == row.expected)
    }

    /// A fault that answers instead wins over every mode, recorded or not.
    @Test(arguments: synthesisRows + catalogRows)
    func answeringFaultsComeFirst(_ row: Row) {
        let outcome = Policy.outcome(
            mode: row.mode, recorded: row.recorded, onMiss: row.onMiss, fault: .answersInstead, fallback: row.fallback,
            canRecord: row.mode != .replay)
        #expect(outcome == .fault)
    }

    @Test func replayNeverPlansTheUpstream() {
        for onMiss in Policy.OnMiss.allCases {
            let plan = Policy.plan(mode: .replay, onMiss: onMiss, fallback: .synthesis, canRecord: true)
            #expect(!plan.contains(.ask(.record)))
        }
    }

    @Test func withoutAnUpstreamAutoFallsBack() {
        let plan = Policy.plan(mode: .auto, onMiss: .synthesize, fallback: .synthesis, canRecord: false)
        #expect(plan == [.ask(.replay), .ask(.synthesis)])
    }
}
