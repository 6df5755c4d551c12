import Testing

@testable import MessagesAPI

@Suite("OpenAI-compatible chat completions")
struct ChatCompletionsTests {
    @Test func systemAndDeveloperMessagesAreHoistedAndJoined() throws {
        let chat: JSONValue = [
            "model": "claude-sonnet-4-5", "max_completion_tokens": 77, "temperature": 1.7, "top_p": 0.5, "seed": 3,
            "user": "u", "stop": ["END", "  "],
            "messages": [
                ["role": "system", "content": "One."], ["role": "user", "content": "Hi"],
                ["role": "developer", "content": [["type": "text", "text": "Two."]]],
                ["role": "user", "content": [["type": "text", "text": "there"]]],
            ],
        ]
        let request = try ChatCompletions.messagesRequest(from: chat)
        #expect(request["system"] == "One.\nTwo.")
        #expect(request["max_tokens"] == 77)
        #expect(request["temperature"] == 1, "capped at 1")
        #expect(request["top_p"] == 0.5)
        #expect(request["stop_sequences"] == ["END"], "whitespace-only stop sequences are dropped")
        #expect(request["seed"] == nil && request["user"] == nil, "ignored fields are not passed on")
        // Consecutive user turns merge into one, as Messages requires alternation.
        #expect(
            request["messages"] == [["role": "user", "content": [["type": "text", "text": "Hi"], ["type": "text", "text": "there"]]]])
    }

    @Test func aSingleTextTurnStaysAString() throws {
        let request = try ChatCompletions.messagesRequest(from: ["model": "m", "messages": [["role": "user", "content": "Hello"]]])
        #expect(request["messages"] == [["role": "user", "content": "Hello"]])
        #expect(request["max_tokens"] == .int(ChatCompletions.defaultMaxTokens))
    }

    @Test func toolsToolCallsAndToolResultsTranslate() throws {
        let chat: JSONValue = [
            "model": "m", "parallel_tool_calls": false, "tool_choice": ["type": "function", "function": ["name": "f"]],
            "tools": [
                ["type": "function", "function": ["name": "f", "description": "d", "parameters": ["type": "object"], "strict": true]]
            ],
            "messages": [
                ["role": "user", "content": "go"],
                [
                    "role": "assistant", "content": .null,
                    "tool_calls": [["id": "toolu_1", "type": "function", "function": ["name": "f", "arguments": #"{"a":1}"#]]],
                ],
                ["role": "tool", "tool_call_id": "toolu_1", "content": "done"],
            ],
        ]
        let request = try ChatCompletions.messagesRequest(from: chat)
        #expect(request["tools"] == [["name": "f", "description": "d", "input_schema": ["type": "object"]]])
        #expect(request["tool_choice"] == ["type": "tool", "name": "f", "disable_parallel_tool_use": true])
        #expect(request["messages"]?.arrayValue?[1]["content"] == [["type": "tool_use", "id": "toolu_1", "name": "f", "input": ["a": 1]]])
        #expect(request["messages"]?.arrayValue?[2]["content"] == [["type": "tool_result", "tool_use_id": "toolu_1", "content": "done"]])
    }

    @Test(arguments: [("none", "none"), ("required", "any")])
    func toolChoiceWords(_ word: String, _ type: String) throws {
        let request = try ChatCompletions.messagesRequest(from: [
            "model": "m", "tool_choice": .string(word), "tools": [["type": "function", "function": ["name": "f"]]],
            "messages": [["role": "user", "content": "x"]],
        ])
        #expect(request["tool_choice"]?["type"] == .string(type))
    }

    @Test func imagesFromDataURLsAreBase64Sources() throws {
        let request = try ChatCompletions.messagesRequest(from: [
            "model": "m",
            "messages": [["role": "user", "content": [["type": "image_url", "image_url": ["url": "data:image/png;base64,iVBOR"]]]]],
        ])
        #expect(
            request["messages"]?.arrayValue?[0]["content"]
                == [["type": "image", "source": ["type": "base64", "media_type": "image/png", "data": "iVBOR"]]])
    }

    @Test(arguments: [
        (["model": "m", "messages": [["role": "user", "content": "x"]], "n": 2] as JSONValue, "n: Only n=1 is supported."),
        (["messages": []] as JSONValue, "model: Field required"),
        (["model": "m"] as JSONValue, "messages: Field required"),
    ])
    func refusals(_ chat: JSONValue, _ message: String) {
        #expect(throws: APIError.invalidRequest(message)) { try ChatCompletions.messagesRequest(from: chat) }
    }

    static let message: JSONValue = [
        "id": "msg_01X", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            ["type": "text", "text": "Let me check the weather."],
            ["type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": ["city": "Paris"]],
        ],
        "stop_reason": "tool_use", "usage": ["input_tokens": 10, "output_tokens": 5],
    ]

    @Test func aMessageBecomesACompletion() {
        let completion = ChatCompletions.completion(from: Self.message)
        #expect(completion["object"] == "chat.completion")
        #expect(completion["id"] == "msg_01X")
        let choice = completion["choices"]?.arrayValue?.first
        #expect(choice?["finish_reason"] == "tool_calls")
        #expect(choice?["message"]?["content"] == "Let me check the weather.")
        #expect(
            choice?["message"]?["tool_calls"]
                == [["id": "toolu_01", "type": "function", "function": ["name": "get_weather", "arguments": #"{"city":"Paris"}"#]]])
        #expect(completion["usage"] == ["prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15])
    }

    @Test func chunksRebuildTheCompletion() {
        let chunks = ChatCompletions.chunks(from: Self.message, includeUsage: true)
        let text = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
        #expect(text == "Let me check the weather.")
        #expect(chunks.count > 4, "text in pieces")
        let arguments = chunks.compactMap {
            $0["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue?.first?["function"]?["arguments"]?.stringValue
        }.joined()
        #expect(arguments == #"{"city":"Paris"}"#)
        #expect(chunks.dropLast().last?["choices"]?.arrayValue?.first?["finish_reason"] == "tool_calls")
        #expect(chunks.last?["choices"] == [] && chunks.last?["usage"]?["total_tokens"] == 15)
    }

    @Test(arguments: [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls")])
    func finishReasons(_ stop: String, _ finish: String) { #expect(ChatCompletions.finishReason(stop) == finish) }

    @Test func errorsUseTheOpenAIEnvelope() {
        #expect(
            ChatCompletions.errorBody(.notFound("model: x"))
                == ["error": ["message": "model: x", "type": "not_found_error", "param": .null, "code": .null]])
    }
}
