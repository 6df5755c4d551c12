import Foundation
import MessagesAPI
import Testing

/// The example streams in Tests/Fixtures/streams are real-shaped API output.
@Suite("Real-shaped streams")
struct RecordedStreamTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/streams")

    static func load(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    @Test(arguments: ["a_text.sse", "b_thinking_text.sse", "c_tool_use.sse", "d_stop_sequence.sse"])
    func parsesReencodesAndAssembles(_ name: String) throws {
        let bytes = try Self.load(name)
        let events = SSEParser.parse(bytes)
        // Re-encoding the parsed events gives back the bytes, padding included.
        #expect(events.flatMap(\.bytes) == bytes)
        let assembler = MessageAssembler.assemble(events)
        #expect(assembler.isComplete)
        let message = try #require(assembler.assembled)
        // A stream rebuilt from the assembled message assembles to the same message.
        #expect(MessageAssembler.assemble(StreamBuilder(seed: 3).events(for: try Message(json: message))).assembled == message)
    }

    @Test func assemblesToolInputAndStops() throws {
        let tool = try #require(MessageAssembler.assemble(SSEParser.parse(try Self.load("c_tool_use.sse"))).assembled)
        #expect(tool["content"]?.arrayValue?[1]["input"] == ["location": "San Francisco, CA", "unit": "celsius"])
        #expect(tool["stop_reason"] == "tool_use")
        #expect(tool["usage"]?["output_tokens"] == 68)
        let stop = try #require(MessageAssembler.assemble(SSEParser.parse(try Self.load("d_stop_sequence.sse"))).assembled)
        #expect(stop["stop_sequence"] == "</answer>")
        #expect(stop["content"]?.arrayValue?[0]["text"] == "<answer>42")
        let thinking = try #require(MessageAssembler.assemble(SSEParser.parse(try Self.load("b_thinking_text.sse"))).assembled)
        #expect(thinking["content"]?.arrayValue?[0]["signature"]?.stringValue?.hasPrefix("EqQB") == true)
        #expect(thinking["usage"]?["output_tokens_details"]?["thinking_tokens"] == 52)
    }
}
