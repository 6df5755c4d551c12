import Foundation
import MessagesAPI
import Testing

/// The typed Message writes back exactly what it read, and streams built from it are the streams built before it
/// existed (the expected `.sse` files in Fixtures/messages were written by the JSON-based StreamBuilder).
@Suite("Typed Message model")
struct MessageModelTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func load(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: fixtures.appendingPathComponent(path)))
    }

    static func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    // MARK: Blocks

    @Test(arguments: [
        (#"{"type":"text","text":"Hello"}"#, "text"),
        (
            #"{"type":"text","text":"Tape is magnetic.","citations":[{"type":"char_location","cited_text":"x","document_index":0,"start_char_index":0,"end_char_index":1}]}"#,
            "text"
        ),
        (#"{"citations":null,"text":"order and null kept","type":"text","cache_control":{"type":"ephemeral"}}"#, "text"),
        (#"{"type":"thinking","thinking":"Let me think.","signature":"EqQBCkYIBxgC"}"#, "thinking"),
        (#"{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4a"}"#, "redacted_thinking"),
        (
            #"{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"location":"Paris","days":3},"caller":{"type":"direct"}}"#,
            "tool_use"
        ),
        (#"{"type":"server_tool_use","id":"srvtoolu_01","name":"web_search","input":{"query":"tapes"}}"#, "server_tool_use"),
        (#"{"type":"mcp_tool_use","id":"mcptoolu_01","name":"lookup","server_name":"shelf","input":{}}"#, "mcp_tool_use"),
        (
            #"{"type":"web_search_tool_result","tool_use_id":"srvtoolu_01","content":[{"type":"web_search_result","url":"https://example.com","page_age":null}]}"#,
            "web_search_tool_result"
        ),
        (#"{"type":"hologram_2027","payload":{"frames":[1,2.50,3e2]}}"#, "hologram_2027"),
        (#"{"type":"text","text":5}"#, "text"),
        (#"{"type":"thinking","thinking":"no signature yet"}"#, "thinking"),
        (#"{"type":"tool_use","name":"no_id_no_input"}"#, "tool_use"),
    ])
    func blocksRoundTripByteForByte(_ text: String, _ type: String) throws {
        let json = try Self.parse(text)
        let block = try #require(ContentBlock(json: json))
        #expect(block.type == type)
        #expect(JSONWriter.string(block.json) == text)
        #expect(ContentBlock(json: block.json) == block)
    }

    @Test func blocksReadIntoTheirCases() throws {
        let text = try #require(ContentBlock(json: try Self.parse(#"{"type":"text","text":"Hi","citations":[1]}"#)))
        guard case .text(let t) = text else {
            Issue.record("not text: \(text)")
            return
        }
        #expect(t.text == "Hi" && t.citations == [1])

        let tool = try #require(
            ContentBlock(
                json: try Self.parse(
                    #"{"type":"tool_use","id":"toolu_01","name":"f","input":{"a":1},"caller":{"type":"direct"}}"#)))
        guard case .toolUse(let call) = tool else {
            Issue.record("not tool_use: \(tool)")
            return
        }
        #expect(call.id == "toolu_01" && call.name == "f" && call.input == ["a": 1])
        #expect(call.extra["caller"] == ["type": "direct"])

        // A value of an unexpected type is kept as it came, not forced into the typed field.
        let odd = try #require(ContentBlock(json: try Self.parse(#"{"type":"text","text":5}"#)))
        guard case .text(let o) = odd else {
            Issue.record("not text: \(odd)")
            return
        }
        #expect(o.text == "" && o.extra["text"] == 5)

        let unknown = try #require(ContentBlock(json: try Self.parse(#"{"type":"future_block","x":1}"#)))
        #expect(unknown == .other(["type": "future_block", "x": 1]))
        #expect(ContentBlock(json: "not a block") == nil)
    }

    @Test func assignedFieldsAreWrittenAndAbsentOnesStayAbsent() throws {
        guard case .thinking(var thinking) = try #require(ContentBlock(json: try Self.parse(#"{"type":"thinking","thinking":"x"}"#)))
        else {
            Issue.record("not thinking")
            return
        }
        #expect(JSONWriter.string(ContentBlock.thinking(thinking).json) == #"{"type":"thinking","thinking":"x"}"#)
        thinking.signature = "Esig"
        #expect(JSONWriter.string(ContentBlock.thinking(thinking).json) == #"{"type":"thinking","thinking":"x","signature":"Esig"}"#)

        guard case .text(var text) = try #require(ContentBlock(json: try Self.parse(#"{"type":"text","text":5}"#)))
        else {
            Issue.record("not text")
            return
        }
        text.text = "now a string"
        #expect(JSONWriter.string(ContentBlock.text(text).json) == #"{"type":"text","text":"now a string"}"#)
    }

    @Test func madeBlocksHaveTheAPIsShape() {
        #expect(JSONWriter.string(ContentBlock.text(.init(text: "Hi")).json) == #"{"type":"text","text":"Hi"}"#)
        #expect(
            JSONWriter.string(ContentBlock.thinking(.init(thinking: "t", signature: "E")).json)
                == #"{"type":"thinking","thinking":"t","signature":"E"}"#)
        #expect(JSONWriter.string(ContentBlock.redactedThinking(.init(data: "E")).json) == #"{"type":"redacted_thinking","data":"E"}"#)
        let call = ContentBlock.ToolUse(id: "toolu_1", name: "f", input: ["a": 1], extra: ["caller": ["type": "direct"]])
        #expect(
            JSONWriter.string(ContentBlock.toolUse(call).json)
                == #"{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1},"caller":{"type":"direct"}}"#)
        #expect(JSONWriter.string(ContentBlock.serverToolUse(call).json).hasPrefix(#"{"type":"server_tool_use","id""#))
    }

    // MARK: Messages

    @Test(arguments: ["a_text.sse", "b_thinking_text.sse", "c_tool_use.sse", "d_stop_sequence.sse", "e_error_midstream.sse"])
    func assembledRecordingsRoundTripByteForByte(_ name: String) throws {
        let assembled = try #require(MessageAssembler.assemble(SSEParser.parse(try Self.load("streams/" + name))).assembled)
        let message = try Message(json: assembled)
        #expect(JSONWriter.bytes(message.json) == JSONWriter.bytes(assembled))
        #expect(try Message(json: message.json) == message)
    }

    @Test func anOldShapedMessageKeepsItsOrderAndUnknownKeys() throws {
        let text = String(decoding: try Self.load("messages/rich.json"), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let message = try Message(json: try Self.parse(text))
        #expect(JSONWriter.string(message.json) == text)
        // Read into the typed fields where the shape is known.
        #expect(message.id == "msg_01Ab3CdEfGhJkMnPqRsTuVwX" && message.model == "claude-sonnet-4-5-20250929")
        #expect(message.stopReason == "tool_use" && message.stopSequence == nil && message.stopDetails == nil)
        #expect(
            message.content.map(\.type) == [
                "thinking", "redacted_thinking", "server_tool_use", "web_search_tool_result", "text", "mcp_tool_use",
                "tool_use", "hologram_2027",
            ])
        #expect(message.extra.keys == ["container", "diagnostics"])
        // No stop_details key in, none out.
        #expect(message.json.objectValue?.contains("stop_details") == false)
    }

    @Test func madeMessagesUseTheStandardOrder() {
        let message = Message(
            id: "msg_1", model: "claude-sonnet-4-5-20250929", content: [.text(.init(text: "Hi"))],
            stopReason: "end_turn", usage: Usage(inputTokens: 3, outputTokens: 1))
        #expect(
            JSONWriter.string(message.json)
                == #"{"model":"claude-sonnet-4-5-20250929","id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,"stop_details":null,"usage":{"input_tokens":3,"output_tokens":1}}"#
        )
        #expect(message.json.objectValue?.keys == Message.standardKeys)
    }

    @Test func setKeepsPositionsAndTakesAnyValue() throws {
        var message = Message(
            id: "msg_1", model: "m", content: [], stopReason: "end_turn", usage: Usage(inputTokens: 1, outputTokens: 1))
        message.set(5, forKey: "id")
        message.set("stop", forKey: "stop_sequence")
        message.set(.null, forKey: "container")
        #expect(message.stopSequence == "stop")
        #expect(
            JSONWriter.string(message.json)
                == #"{"model":"m","id":5,"type":"message","role":"assistant","content":[],"stop_reason":"end_turn","stop_sequence":"stop","stop_details":null,"usage":{"input_tokens":1,"output_tokens":1},"container":null}"#
        )
        message.id = "msg_2"
        #expect(message.json["id"] == "msg_2")
    }

    @Test func onlyMessagesAreMessages() {
        #expect(throws: Message.DecodingError.self) { try Message(json: ["type": "error"]) }
        #expect(throws: Message.DecodingError.self) { try Message(json: ["id": "msg_1"]) }
        #expect(throws: Message.DecodingError.self) { try Message(json: [1, 2]) }
    }

    // MARK: Usage

    @Test func usageKeepsExtrasOrderAndOddValues() throws {
        let text =
            #"{"input_tokens":46,"cache_creation_input_tokens":null,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":12.0,"service_tier":"priority","inference_geo":"global","server_tool_use":{"web_search_requests":2},"output_tokens_details":{"thinking_tokens":7},"speed":"fast"}"#
        let usage = try #require(Usage(json: try Self.parse(text)))
        #expect(JSONWriter.string(usage.json) == text)
        #expect(usage.inputTokens == 46)
        #expect(usage.cacheCreationInputTokens == nil && usage.extra["cache_creation_input_tokens"] == .null)
        #expect(usage.cacheReadInputTokens == 0)
        // 12.0 would come back as 12, so it stays as written.
        #expect(usage.extra["output_tokens"]?.numberValue?.literal == "12.0")
        #expect(usage.serviceTier == "priority" && usage.inferenceGeo == "global")
        #expect(usage.serverToolUse?["web_search_requests"] == 2)
        #expect(usage.outputTokensDetails?["thinking_tokens"] == 7)
        #expect(usage.extra.keys == ["cache_creation_input_tokens", "output_tokens", "speed"])
    }

    @Test func madeUsageFollowsTheAPIsOrderAndLeavesOutNils() {
        var usage = Usage(
            inputTokens: 10, outputTokens: 5, cacheCreationInputTokens: 0, cacheReadInputTokens: 0,
            cacheCreation: ["ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0], serviceTier: "standard",
            inferenceGeo: "not_available")
        #expect(
            usage.json.objectValue?.keys == [
                "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation", "output_tokens",
                "service_tier", "inference_geo",
            ])
        usage.outputTokensDetails = ["thinking_tokens": 2]
        usage.set("fast", forKey: "speed")
        #expect(usage.json.objectValue?.keys.suffix(2) == ["output_tokens_details", "speed"])
        #expect(Usage(inputTokens: 1, outputTokens: 2).json == ["input_tokens": 1, "output_tokens": 2])
    }

    // MARK: Streams

    @Test(arguments: ["a_text", "b_thinking_text", "c_tool_use", "d_stop_sequence"])
    func streamsBuiltFromARecordedMessageAreUnchanged(_ name: String) throws {
        let assembled = try #require(MessageAssembler.assemble(SSEParser.parse(try Self.load("streams/\(name).sse"))).assembled)
        let events = StreamBuilder(seed: 3).events(for: try Message(json: assembled))
        let before = try Self.load("messages/\(name).rebuilt-seed3.sse")
        #expect(events.flatMap(\.bytes) == before)
    }

    @Test func aStreamOfEveryBlockKindIsUnchanged() throws {
        let message = try Message(json: try JSONParser.parse(try Self.load("messages/rich.json")))
        let events = StreamBuilder(seed: 5).events(for: message)
        let before = try Self.load("messages/rich.seed5.sse")
        #expect(events.flatMap(\.bytes) == before)
        // Every block, the unknown ones included, assembles back (a text block's keys in the stream's order).
        let assembled = try Message(json: try #require(MessageAssembler.assemble(events).assembled))
        #expect(assembled.content.map { JSONWriter.canonicalBytes($0.json) } == message.content.map { JSONWriter.canonicalBytes($0.json) })
    }
}
