import AsyncHTTPClient
import Cassette
import Logging
import MessagesAPI
import TapedeckTestSupport
import Testing

@testable import TapedeckServer

/// The policy table: mode × recorded × on-miss × fault → who answers. Written out row by row from the README's
/// description of the modes, not computed, and checked by running the real pipeline with real sources (a cassette
/// on disk, a fake upstream on loopback) for every row.
@Suite("Answering policy")
struct PolicyTests {
    /// Who answered.
    enum Outcome: Equatable, Sendable {
        case source(SourceKind)
        case missError
        case fault
    }

    struct Row: CustomTestStringConvertible, Sendable {
        var mode: Policy.Mode
        var recorded: Bool
        var onMiss: Policy.OnMiss
        var fallback: SourceKind
        var expected: Outcome

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

    static let unmodeledRows: [Row] = [
        // A path Tapedeck does not model: recorded and replayed as any other; with nothing recorded and no
        // upstream, the API's 404 whatever --on-miss says (there is nothing to synthesize).
        Row(mode: .replay, recorded: false, onMiss: .synthesize, fallback: .unmodeled, expected: .missError),
        Row(mode: .replay, recorded: false, onMiss: .error, fallback: .unmodeled, expected: .missError),
        Row(mode: .replay, recorded: true, onMiss: .error, fallback: .unmodeled, expected: .source(.replay)),
        Row(mode: .record, recorded: false, onMiss: .synthesize, fallback: .unmodeled, expected: .source(.record)),
        Row(mode: .record, recorded: true, onMiss: .error, fallback: .unmodeled, expected: .source(.record)),
        Row(mode: .auto, recorded: false, onMiss: .error, fallback: .unmodeled, expected: .source(.record)),
        Row(mode: .auto, recorded: true, onMiss: .synthesize, fallback: .unmodeled, expected: .source(.replay)),
    ]

    @Test(arguments: synthesisRows + catalogRows + unmodeledRows)
    func whoAnswers(_ row: Row) async throws {
        #expect(try await Self.run(row, fault: nil) == row.expected)
    }

    /// A fault that answers instead wins over every mode, recorded or not.
    @Test(arguments: synthesisRows + catalogRows + unmodeledRows)
    func answeringFaultsComeFirst(_ row: Row) async throws {
        #expect(try await Self.run(row, fault: "overloaded") == .fault)
    }

    /// Runs `row` through a pipeline: its mode and on-miss, a cassette holding a recording for the request or
    /// not, an upstream for record and auto, and the row's fallback.
    static func run(_ row: Row, fault: String?) async throws -> Outcome {
        try await withTemporaryDirectory { directory in
            try await FakeUpstream.withRunning { _, upstream in
                var configuration = TapedeckConfiguration()
                configuration.mode = row.mode
                configuration.onMiss = row.onMiss
                configuration.cassettePath = directory.file("default.sqlite")
                let tape = try await Tape(path: configuration.cassettePath, create: true)
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                defer { _ = client.shutdown() }
                let record =
                    row.mode == .replay
                    ? nil
                    : RecordSource(
                        client: client, upstream: upstream, redactor: try Redactor(), upstreamKey: nil,
                        maxRecordingBytes: 1 << 20, logger: Logger(label: "test"))
                let pipeline = Pipeline(
                    configuration: configuration, shelf: Shelf(defaultTape: tape, directory: directory.path, create: true),
                    record: record)
                var request =
                    switch row.fallback {
                    case .catalog: try AnswerSourceTests.request("", path: "/v1/models", method: "GET")
                    case .unmodeled: try AnswerSourceTests.unmodeledRequest(path: "/v1/skills", body: "{}")
                    default: try AnswerSourceTests.request(AnswerSourceTests.hello)
                    }
                if row.recorded { try await tape.record(AnswerSourceTests.recorded(for: request, text: "recorded")) }
                request.faults = try fault.map { text throws(APIError) in try Faults(parsing: text) }
                let fallback: any AnswerSource =
                    switch row.fallback {
                    case .catalog: CatalogSource(lookup: .list, catalog: .standard)
                    case .unmodeled: UnmodeledSource()
                    default: SynthesisSource(.messages, catalog: .standard, vocabulary: try SynthesisVocabulary.loadBundled())
                    }
                do {
                    let answer = try await pipeline.answer(request, fallback: fallback)
                    switch answer.source {
                    case .recorded: return .source(.replay)
                    case .proxied: return .source(.record)
                    case .synthesized: return .source(row.fallback)
                    }
                } catch let error as APIError where error.status == 404 {
                    return .missError
                } catch let error as APIError where error.headers.contains(where: { $0.0 == HeaderPolicy.faultHeader }) {
                    return .fault
                }
            }
        }
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
