import MessagesAPI
import Testing

@Suite("Server-sent events")
struct SSETests {
    static let sample: JSONValue = [
        "model": "claude-sonnet-4-5-20250929", "id": "msg_01", "type": "message", "role": "assistant",
        "content": [
            ["type": "thinking", "thinking": "Let me think. Carefully, now.", "signature": "EqQB"],
            ["type": "text", "text": "Hello there, café 😀 world!"],
            ["type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": ["location": "Paris", "days": 3]],
        ],
        "stop_reason": "tool_use", "stop_sequence": .null, "stop_details": .null,
        "usage": ["input_tokens": 10, "output_tokens": 42],
    ]

    @Test func builtStreamsAssembleToTheirMessage() throws {
        let events = StreamBuilder(seed: 7).events(for: try Message(json: Self.sample))
        let assembler = MessageAssembler.assemble(events)
        #expect(assembler.isComplete)
        #expect(assembler.assembled == Self.sample)
    }

    @Test func builtStreamsFollowTheGrammar() throws {
        let events = StreamBuilder(seed: 7).events(for: try Message(json: Self.sample))
        let names = events.map(\.name)
        #expect(names.first == "message_start")
        #expect(names.last == "message_stop")
        #expect(names[names.count - 2] == "message_delta")
        #expect(names.filter { $0 == "content_block_start" }.count == 3)
        #expect(names.filter { $0 == "ping" }.count == 1)
        // Each event's name equals its data's type, and block indexes never interleave.
        var open: Int?
        for event in events {
            let json = try #require(event.json)
            #expect(json["type"]?.stringValue == event.name)
            switch event.name {
            case "content_block_start":
                #expect(open == nil)
                open = json["index"]?.intValue
            case "content_block_delta": #expect(json["index"]?.intValue == open)
            case "content_block_stop":
                #expect(json["index"]?.intValue == open)
                open = nil
            default: break
            }
        }
        // The thinking block ends with an empty thinking_delta then exactly one signature_delta.
        let thinkingDeltas = events.compactMap { $0.json }.filter { $0["index"] == 0 && $0["type"] == "content_block_delta" }
        #expect(thinkingDeltas.last?["delta"]?["type"] == "signature_delta")
        #expect(thinkingDeltas.dropLast().last?["delta"]?["thinking"] == "")
        // The tool input starts with an empty partial_json.
        let toolDeltas = events.compactMap { $0.json }.filter { $0["index"] == 2 && $0["type"] == "content_block_delta" }
        #expect(toolDeltas.first?["delta"]?["partial_json"] == "")
        #expect(toolDeltas.count > 2)
    }

    @Test func encoderPadsLikeTheAPIAndIsDeterministic() throws {
        let encoder = SSEEncoder(seed: 42)
        let paddings = (0..<64).map { i -> Int in
            let data = encoder.event(["type": "message_stop"], index: i).data
            return data.count - #"{"type":"message_stop"}"#.count
        }
        #expect(paddings.allSatisfy { (0...15).contains($0) })
        #expect(Set(paddings).count > 4)
        #expect(encoder.event(["type": "x"], index: 3) == SSEEncoder(seed: 42).event(["type": "x"], index: 3))
        #expect(SSEEncoder.ping.bytes == Array("event: ping\ndata: {\"type\": \"ping\"}\n\n".utf8))
    }

    @Test(arguments: [1, 2, 3, 7, 64])
    func parserHandlesAnySplit(_ chunkSize: Int) throws {
        let events = StreamBuilder(seed: 1).events(for: try Message(json: Self.sample))
        let bytes = events.flatMap(\.bytes)
        var parser = SSEParser()
        var parsed: [SSEEvent] = []
        var i = 0
        while i < bytes.count {
            parsed += parser.feed(bytes[i..<min(i + chunkSize, bytes.count)])
            i += chunkSize
        }
        parsed += parser.finish()
        #expect(parsed == events)
    }

    @Test func parserAcceptsCRLFCommentsAndMultilineData() {
        let text = ": comment\r\nevent: a\r\ndata: one\r\ndata: two\r\n\r\ndata: {\"x\":1}\n\n"
        let events = SSEParser.parse(Array(text.utf8))
        #expect(events == [SSEEvent(name: "a", data: "one\ntwo"), SSEEvent(name: "message", data: "{\"x\":1}")])
    }

    @Test func assemblerKeepsTheErrorOfAStreamThatDied() {
        let text = """
            event: message_start
            data: {"type":"message_start","message":{"id":"m","content":[],"usage":{"output_tokens":1}}}

            event: content_block_start
            data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Here"}}

            event: error
            data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}


            """
        let assembler = MessageAssembler.assemble(SSEParser.parse(Array(text.utf8)))
        #expect(!assembler.isComplete)
        #expect(assembler.error?["error"]?["type"] == "overloaded_error")
        #expect(assembler.assembled?["content"]?.arrayValue?.first?["text"] == "Here")
    }
}

@Suite("Streams that arrive in small pieces")
struct PieceByPieceTests {
    @Test func aLongLineInTinyPiecesIsOneEvent() {
        let text = String(repeating: "x", count: 200_000)
        let bytes = Array("event: big\ndata: \(text)\n\n".utf8)
        var parser = SSEParser()
        var events: [SSEEvent] = []
        var i = 0
        while i < bytes.count {
            events += parser.feed(bytes[i..<min(i + 7, bytes.count)])
            i += 7
        }
        #expect(events.count == 1 && events.first?.data.utf8.count == 200_000 && events.first?.name == "big")
    }

    @Test func manyDeltasAssembleIntoOneText() {
        var events = [
            SSEEvent(json: ["type": "message_start", "message": ["id": "m", "type": "message", "role": "assistant", "content": []]])
        ]
        events.append(SSEEvent(json: ["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": "<"]]))
        for i in 0..<20_000 {
            events.append(
                SSEEvent(json: ["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": .string("\(i % 10)")]]))
        }
        events.append(SSEEvent(json: ["type": "content_block_stop", "index": 0]))
        events.append(SSEEvent(json: ["type": "message_stop"]))
        let assembled = MessageAssembler.assemble(events)
        let text = assembled.assembled?["content"]?.arrayValue?.first?["text"]?.stringValue
        #expect(assembled.isComplete)
        #expect(text?.count == 20_001 && text?.hasPrefix("<0123") == true)
    }
}
