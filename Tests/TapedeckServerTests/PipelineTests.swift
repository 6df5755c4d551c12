import Cassette
import MessagesAPI
import TapedeckTestSupport
import Testing

@testable import TapedeckServer

/// The pipeline carrying out the policy with real sources and a real cassette, driven with plain values.
@Suite("Pipeline")
struct PipelineTests {
    static func pipeline(in directory: TemporaryDirectory, _ edit: (inout TapedeckConfiguration) -> Void = { _ in })
        async throws -> Pipeline
    {
        var configuration = TapedeckConfiguration()
        configuration.cassettePath = directory.file("default.sqlite")
        edit(&configuration)
        let tape = try await Tape(path: configuration.cassettePath, create: true)
        let shelf = Shelf(defaultTape: tape, directory: directory.path, create: true)
        return Pipeline(configuration: configuration, shelf: shelf, record: nil)
    }

    static var synthesis: SynthesisSource {
        get throws { SynthesisSource(.messages, catalog: .standard, vocabulary: try SynthesisVocabulary.loadBundled()) }
    }

    @Test func aMissIsSynthesizedAndNoted() async throws {
        try await withTemporaryDirectory { directory in
            let pipeline = try await Self.pipeline(in: directory)
            let request = try AnswerSourceTests.request(AnswerSourceTests.hello)
            let answer = try await pipeline.answer(request, fallback: try Self.synthesis)
            #expect(answer.source == .synthesized)
            #expect(request.trace.current.occurrence == 1)
            let misses = pipeline.journal.misses(cassette: Shelf.defaultName, limit: 10)
            #expect(misses.map(\.answered) == ["synthesized"])
        }
    }

    @Test func onMissErrorStillRefusesAnInvalidRequestFirst() async throws {
        try await withTemporaryDirectory { directory in
            let pipeline = try await Self.pipeline(in: directory) { $0.onMiss = .error }
            let invalid = try AnswerSourceTests.request(#"{"model":"claude-sonnet-4-5","messages":[]}"#)
            await #expect(throws: APIError.invalidRequest("max_tokens: Field required")) {
                _ = try await pipeline.answer(invalid, fallback: try Self.synthesis)
            }
            let valid = try AnswerSourceTests.request(AnswerSourceTests.hello)
            let error = await #expect(throws: APIError.self) { _ = try await pipeline.answer(valid, fallback: try Self.synthesis) }
            #expect(error?.status == 404)
            #expect(valid.trace.current.source == "miss")
        }
    }

    @Test func aFaultAnswersInsteadAndLeavesTheOccurrenceAlone() async throws {
        try await withTemporaryDirectory { directory in
            let pipeline = try await Self.pipeline(in: directory)
            var request = try AnswerSourceTests.request(AnswerSourceTests.hello)
            request.faults = try Faults(parsing: "overloaded")
            let error = await #expect(throws: APIError.self) { _ = try await pipeline.answer(request, fallback: try Self.synthesis) }
            #expect(error?.status == 529)
            #expect(error?.headers.contains { $0.0 == "tapedeck-fault" } == true)
            #expect(request.trace.current.source == "fault")
            #expect(request.trace.current.occurrence == nil, "no occurrence is used by a fault")
            #expect(pipeline.journal.misses(cassette: Shelf.defaultName, limit: 10).isEmpty)
        }
    }

    @Test func aStreamFaultRidesOnTheAnswer() async throws {
        try await withTemporaryDirectory { directory in
            let pipeline = try await Self.pipeline(in: directory)
            var request = try AnswerSourceTests.request(AnswerSourceTests.helloStream)
            request.faults = try Faults(parsing: "disconnect;after=2")
            let answer = try await pipeline.answer(request, fallback: try Self.synthesis)
            #expect(answer.faults == request.faults)
            #expect(answer.response().headers[.tapedeckFault] == request.faults?.description)
        }
    }
}
