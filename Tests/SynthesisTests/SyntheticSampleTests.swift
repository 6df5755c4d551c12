import Foundation
import MessagesAPI
import Testing

@testable import Synthesis

/// `Tests/Fixtures/synthetic-sample.json`: twenty requests of every shape, each with the shape it should get and
/// the text (and thinking) the code writes for it.
///
/// After a change to the vocabulary or the composer, write the answers again with
/// `TAPEDECK_WRITE_SAMPLE=1 swift test --filter SyntheticSampleTests` (the requests and shapes stay; the texts
/// are replaced), read the diff, and commit it: the test then checks what was written like any other run.
@Suite("A sample of synthetic answers")
struct SyntheticSampleTests {
    static let file = ShippedVocabulary.repository.appendingPathComponent("Tests/Fixtures/synthetic-sample.json")

    struct Malformed: Error, CustomStringConvertible { var description: String }

    struct Entry {
        var shape: String
        var request: JSONValue
        var text: String
        var thinking: String?
    }

    static func shapeName(_ shape: QuestionReading.Shape) -> String {
        switch shape {
        case .paragraph: "paragraph"
        case .steps: "steps"
        case .points: "points"
        case .code: "code"
        case .table: "table"
        case .compare: "compare"
        }
    }

    static func load() throws -> (about: String, entries: [Entry]) {
        let json = try JSONParser.parse(try Data(contentsOf: file))
        let entries = try (json["answers"]?.arrayValue ?? []).map { item throws -> Entry in
            guard let shape = item["shape"]?.stringValue, let request = item["request"], let text = item["text"]?.stringValue else {
                throw Malformed(description: "an entry without shape, request or text: \(item)")
            }
            return Entry(shape: shape, request: request, text: text, thinking: item["thinking"]?.stringValue)
        }
        return (json["about"]?.stringValue ?? "", entries)
    }

    /// The file as this test writes it: one entry per answer, each request on one line.
    static func write(about: String, entries: [Entry]) throws {
        var text = "{\n  \"about\": \(JSONWriter.string(.string(about))),\n  \"answers\": [\n"
        for (index, entry) in entries.enumerated() {
            text += "    {\n      \"shape\": \(JSONWriter.string(.string(entry.shape))),\n"
            text += "      \"request\": \(JSONWriter.string(entry.request)),\n"
            if let thinking = entry.thinking { text += "      \"thinking\": \(JSONWriter.string(.string(thinking))),\n" }
            text += "      \"text\": \(JSONWriter.string(.string(entry.text)))\n    }"
            text += index == entries.count - 1 ? "\n" : ",\n"
        }
        text += "  ]\n}\n"
        try Data(text.utf8).write(to: file)
    }

    /// The answer the synthesizer writes for `body`, and the shape its question is read as.
    static func answer(_ body: JSONValue) throws -> (text: String, thinking: String?, shape: QuestionReading.Shape) {
        let (message, request) = try synthesize(JSONWriter.string(body))
        let thinking = blocks(message).first { $0["type"] == "thinking" }?["thinking"]?.stringValue
        let reading = QuestionReading(question: request.lastUserText, system: request.system, vocabulary: try ShippedVocabulary.get())
        #expect(message["stop_reason"] == "end_turn", "\(body)")
        return (text(message), thinking, reading.shape)
    }

    @Test func theSampleIsWhatTheCodeWritesAndEachAnswerReadsAsEnglish() throws {
        var (about, entries) = try Self.load()
        if ProcessInfo.processInfo.environment["TAPEDECK_WRITE_SAMPLE"] == "1" {
            for index in entries.indices {
                let made = try Self.answer(entries[index].request)
                entries[index].text = made.text
                entries[index].thinking = made.thinking
            }
            try Self.write(about: about, entries: entries)
            (about, entries) = try Self.load()
        }
        #expect(entries.count == 20)
        #expect(Set(entries.map(\.shape)) == ["paragraph", "steps", "points", "code", "table", "compare"])
        for entry in entries {
            let prompt = MessagesRequest.lastUserText(in: entry.request)
            let made = try Self.answer(entry.request)
            #expect(made.text == entry.text, "the code writes another answer to \"\(prompt)\" now")
            #expect(made.thinking == entry.thinking, "\(prompt)")
            #expect(Self.shapeName(made.shape) == entry.shape, "\(prompt)")

            let check = AnswerShapeCheck(entry.text)
            #expect(check.problems.isEmpty, "\(prompt): \(check.problems)")
            switch entry.shape {
            case "paragraph":
                #expect(check.sentences.count >= 2 && check.listItems == 0 && check.codeBlocks.isEmpty && check.tableRows == 0, "\(prompt)")
            case "steps", "points":
                #expect(check.listItems >= 2 && check.codeBlocks.isEmpty && check.tableRows == 0, "\(prompt)")
            case "code":
                #expect(check.codeBlocks.count == 1 && (check.codeBlocks.first?.lines ?? 0) >= 3, "\(prompt)")
            default:
                #expect(check.tableRows >= 4 && check.listItems == 0 && check.codeBlocks.isEmpty, "\(prompt)")
            }
            if let thinking = entry.thinking {
                let thought = AnswerShapeCheck(thinking)
                #expect(thought.problems.isEmpty && thought.sentences.count >= 2, "\(prompt) thinking: \(thought.problems)")
            }
        }
    }
}
