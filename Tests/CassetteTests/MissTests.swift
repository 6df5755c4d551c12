import MessagesAPI
import Testing

@testable import Cassette

@Suite("Miss explanations")
struct MissTests {
    @Test func longStringsAreShownWhereTheyPart() {
        let shared = "# Environment\nYou have been invoked in the following environment:\n - Primary working directory: "
        let miss = Tape.Miss(
            closestID: 7, path: JSONPath(parsing: "messages[1].content[0].text"), expected: .string(shared + "/tmp/a1/work"),
            got: .string(shared + "/tmp/b2/work"), method: "POST", requestPath: "/v1/messages")
        #expect(miss.description.contains("/tmp/a1/work"), "\(miss.description)")
        #expect(miss.description.contains("/tmp/b2/work"))
        #expect(!miss.description.contains("# Environment"))
        // Short values are shown whole.
        let short = Tape.Miss(
            closestID: 7, path: JSONPath(parsing: "messages[0].content"), expected: "Hi", got: "Hello", method: "POST",
            requestPath: "/v1/messages")
        #expect(short.description.contains(#": "Hi" vs "Hello" (recorded interaction 7"#))
    }
}
