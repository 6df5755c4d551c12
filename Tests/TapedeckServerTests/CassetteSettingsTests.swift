import Cassette
import MessagesAPI
import TapedeckTestSupport
import Testing

@testable import TapedeckServer

/// A cassette's own settings: parsed as the admin API takes them, and carried out by the real pipeline.
@Suite("Cassette settings")
struct CassetteSettingsTests {
    static func parse(_ json: String) throws -> CassetteSettings {
        guard case .object(let object) = try JSONParser.parse(Array(json.utf8)) else { throw APIError.invalidRequest("not an object") }
        return try CassetteSettings(json: object)
    }

    @Test func everyFieldParsesAndNullKeepsTheServers() throws {
        let settings = try Self.parse(
            #"{"mode":"auto","on_miss":"error","match_ignore":["$.metadata","system[0]"],"match_profile":"none","fault":{"fault":"overloaded","count":2}}"#
        )
        #expect(settings.mode == .auto && settings.onMiss == .error && settings.matchProfile == .plain)
        #expect(settings.matchIgnore?.map(\.description) == ["metadata", "system[0]"])
        #expect(settings.fault?.count == 2)
        #expect(settings.overridden == ["mode", "on_miss", "match_ignore", "match_profile", "fault"])
        #expect(try Self.parse(#"{"mode":null,"fault":null}"#).overridden.isEmpty)
    }

    @Test(arguments: [
        (#"{"mood":"replay"}"#, "mood: Extra inputs are not permitted"),
        (#"{"mode":"later"}"#, "mode: Input should be 'replay', 'record', 'auto'"),
        (#"{"match_ignore":[1]}"#, "match_ignore: Input should be a list of JSON paths"),
        (#"{"fault":{"count":1}}"#, "fault: Field required"),
    ])
    func badFieldsAreTheAPIsErrors(json: String, message: String) throws {
        let error = try #require(throws: APIError.self) { try Self.parse(json) }
        #expect(error.message.contains(message))
    }

    @Test func recordingNeedsAnUpstream() throws {
        let book = CassetteSettingsBook(configuration: TapedeckConfiguration(), canRecord: false)
        var settings = CassetteSettings()
        settings.mode = .record
        #expect(throws: APIError.self) { try book.set(settings, for: "t") }
        settings.mode = .replay
        #expect(try book.set(settings, for: "t").plans != nil)
        #expect(book.overrides(for: "other") == nil)
        book.clear("t")
        #expect(book.overrides(for: "t") == nil)
    }

    @Test func aCassettesOnMissAndFaultAreItsOwn() async throws {
        try await withTemporaryDirectory { directory in
            let pipeline = try await PipelineTests.pipeline(in: directory)
            var strict = CassetteSettings()
            strict.onMiss = .error
            strict.fault = FaultPlan(faults: try Faults(parsing: "latency=1"), count: 1)
            var request = try AnswerSourceTests.request(AnswerSourceTests.hello)
            request.cassette = "strict"
            request.overrides = try pipeline.settings.set(strict, for: "strict")
            let error = await #expect(throws: APIError.self) { try await pipeline.answer(request, fallback: PipelineTests.synthesis) }
            #expect(error?.type == .notFound)
            #expect(request.trace.current.fault == "latency=1")
            // The same request on a cassette without settings: the server's (synthesize, no fault).
            var plain = try AnswerSourceTests.request(AnswerSourceTests.hello)
            plain.cassette = "plain"
            #expect(try await pipeline.answer(plain, fallback: PipelineTests.synthesis).source == .synthesized)
            #expect(plain.trace.current.fault == nil)
        }
    }
}
