/// Anthropic's OpenAI SDK compatibility layer (`POST /v1/chat/completions`), as its documentation describes it:
/// a Chat Completions request becomes a Messages request, and the Message that answers it becomes a
/// `chat.completion` (or `chat.completion.chunk` events). Pure functions, no I/O.
///
/// Honoured: `model`, `max_tokens` / `max_completion_tokens`, `stream`, `stream_options.include_usage`,
/// `temperature` (capped at 1), `top_p`, `stop` (whitespace-only sequences dropped), `n` (must be 1), `tools`
/// (`function.name`, `description`, `parameters`; `strict` ignored), `tool_choice`, `parallel_tool_calls`, and a
/// `thinking` object passed through. System and developer messages are hoisted, joined with a newline, into
/// `system`. Every other field (`logprobs`, `response_format`, `seed`, `user`, `metadata`, …) is ignored.
public enum ChatCompletions {
    /// `max_tokens` when the request names none: Messages needs one, Chat Completions does not.
    public static let defaultMaxTokens = 4096
    /// The `created` of every completion: answers carry no wall-clock time.
    public static let created = 1_744_588_800

    /// The Messages request for a Chat Completions request.
    public static func messagesRequest(from chat: JSONValue) throws(APIError) -> JSONValue {
        guard case .object(let body) = chat else { throw .invalidRequest("The request body must be a JSON object.") }
        guard let model = body["model"]?.stringValue else { throw .invalidRequest("model: Field required") }
        guard case .array(let messages)? = body["messages"] else { throw .invalidRequest("messages: Field required") }
        if let n = body["n"], n != .null, n.intValue != 1 { throw .invalidRequest("n: Only n=1 is supported.") }

        var system: [String] = []
        var turns: [(role: String, blocks: [JSONValue])] = []
        func append(_ role: String, _ blocks: [JSONValue]) {
            guard !blocks.isEmpty else { return }
            if let last = turns.last, last.role == role {
                turns[turns.count - 1].blocks += blocks
            } else {
                turns.append((role, blocks))
            }
        }
        for (i, message) in messages.enumerated() {
            let role = message["role"]?.stringValue ?? ""
            switch role {
            case "system", "developer":
                system.append(text(of: message["content"]))
            case "user":
                append("user", try blocks(of: message["content"], at: "messages[\(i)].content"))
            case "assistant":
                var parts = try blocks(of: message["content"], at: "messages[\(i)].content")
                if case .array(let calls)? = message["tool_calls"] {
                    for call in calls {
                        let arguments = call["function"]?["arguments"]?.stringValue ?? "{}"
                        let input = (try? JSONParser.parse(Array(arguments.utf8))) ?? JSONValue.object(JSONObject())
                        parts.append([
                            "type": "tool_use", "id": call["id"] ?? "", "name": call["function"]?["name"] ?? "",
                            "input": input.objectValue == nil ? JSONValue.object(JSONObject()) : input,
                        ])
                    }
                }
                append("assistant", parts)
            case "tool", "function":
                append(
                    "user",
                    [
                        [
                            "type": "tool_result", "tool_use_id": message["tool_call_id"] ?? "",
                            "content": .string(text(of: message["content"])),
                        ]
                    ])
            default:
                throw .invalidRequest("messages[\(i)].role: Input should be 'system', 'developer', 'user', 'assistant' or 'tool'")
            }
        }

        var out: JSONObject = ["model": .string(model)]
        let maxTokens = body["max_completion_tokens"]?.intValue ?? body["max_tokens"]?.intValue ?? defaultMaxTokens
        out["max_tokens"] = .int(maxTokens)
        // A turn that is one piece of text is sent as a string, as a Messages client would write it: so a
        // recording of `/v1/messages` with that text answers the chat call too.
        out["messages"] = .array(
            turns.map { turn in
                if turn.blocks.count == 1, let only = turn.blocks.first, only["type"] == "text", let text = only["text"] {
                    return ["role": .string(turn.role), "content": text]
                }
                return ["role": .string(turn.role), "content": .array(turn.blocks)]
            })
        if !system.isEmpty { out["system"] = .string(system.joined(separator: "\n")) }
        if case .number(let t)? = body["temperature"] {
            out["temperature"] = t.doubleValue > 1 ? .int(1) : .number(t)
        }
        if let topP = body["top_p"], case .number = topP { out["top_p"] = topP }
        switch body["stop"] {
        case .string(let s)? where !s.allSatisfy(\.isWhitespace): out["stop_sequences"] = [.string(s)]
        case .array(let list)?:
            let kept = list.compactMap(\.stringValue).filter { !$0.allSatisfy(\.isWhitespace) }
            if !kept.isEmpty { out["stop_sequences"] = .array(kept.map(JSONValue.string)) }
        default: break
        }
        if case .array(let tools)? = body["tools"], !tools.isEmpty {
            out["tools"] = .array(
                tools.map { tool in
                    let function = tool["function"] ?? tool
                    var converted: JSONObject = ["name": function["name"] ?? ""]
                    if let description = function["description"]?.stringValue { converted["description"] = .string(description) }
                    converted["input_schema"] = function["parameters"] ?? ["type": "object"]
                    return .object(converted)
                })
            var choice: JSONObject? =
                switch body["tool_choice"] {
                case .string("none")?: ["type": "none"]
                case .string("required")?: ["type": "any"]
                case .object(let named)?: ["type": "tool", "name": named["function"]?["name"] ?? ""]
                default: body["parallel_tool_calls"] == .bool(false) ? ["type": "auto"] : nil
                }
            if body["parallel_tool_calls"] == .bool(false), choice?["type"] != "none" {
                choice?["disable_parallel_tool_use"] = true
            }
            if let choice { out["tool_choice"] = .object(choice) }
        }
        if let thinking = body["thinking"], case .object = thinking { out["thinking"] = thinking }
        if body["stream"] == .bool(true) { out["stream"] = true }
        return .object(out)
    }

    /// A message's content as text: a string, or its text parts joined.
    static func text(of content: JSONValue?) -> String {
        switch content {
        case .string(let s)?: return s
        case .array(let parts)?: return parts.compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
        default: return ""
        }
    }

    static func blocks(of content: JSONValue?, at path: String) throws(APIError) -> [JSONValue] {
        switch content {
        case .string(let s)?: return s.isEmpty ? [] : [["type": "text", "text": .string(s)]]
        case .array(let parts)?:
            var blocks: [JSONValue] = []
            for part in parts {
                switch part["type"]?.stringValue {
                case "text": blocks.append(["type": "text", "text": part["text"] ?? ""])
                case "image_url":
                    let url = part["image_url"]?["url"]?.stringValue ?? ""
                    blocks.append(["type": "image", "source": imageSource(url)])
                default: continue  // audio and the rest are stripped, as the layer documents
                }
            }
            return blocks
        case nil, .null?: return []
        default: throw .invalidRequest("\(path): Input should be a string or a list of content parts")
        }
    }

    /// A `data:` URL as a base64 source, anything else as a URL source.
    static func imageSource(_ url: String) -> JSONValue {
        guard url.hasPrefix("data:"), let comma = url.firstIndex(of: ","), url[..<comma].hasSuffix(";base64") else {
            return ["type": "url", "url": .string(url)]
        }
        let mediaType = url[url.index(url.startIndex, offsetBy: 5)..<comma].dropLast(";base64".count)
        return ["type": "base64", "media_type": .string(String(mediaType)), "data": .string(String(url[url.index(after: comma)...]))]
    }

    /// The finish reason for a Message's stop reason.
    public static func finishReason(_ stopReason: String?) -> String {
        switch stopReason {
        case "max_tokens", "model_context_window_exceeded": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        default: "stop"
        }
    }

    static func toolCalls(of message: JSONValue) -> [JSONValue] {
        guard case .array(let content)? = message["content"] else { return [] }
        return content.filter { $0["type"] == "tool_use" }.map { block in
            [
                "id": block["id"] ?? "", "type": "function",
                "function": ["name": block["name"] ?? "", "arguments": .string(JSONWriter.string(block["input"] ?? [:]))],
            ]
        }
    }

    static func text(ofMessage message: JSONValue) -> String? {
        guard case .array(let content)? = message["content"] else { return nil }
        let texts = content.filter { $0["type"] == "text" }.compactMap { $0["text"]?.stringValue }
        return texts.isEmpty ? nil : texts.joined()
    }

    static func usage(of message: JSONValue) -> JSONValue {
        let input = message["usage"]?["input_tokens"]?.intValue ?? 0
        let output = message["usage"]?["output_tokens"]?.intValue ?? 0
        return ["prompt_tokens": .int(input), "completion_tokens": .int(output), "total_tokens": .int(input + output)]
    }

    /// The `chat.completion` for a Message.
    public static func completion(from message: JSONValue) -> JSONValue {
        var reply: JSONObject = ["role": "assistant", "content": text(ofMessage: message).map(JSONValue.string) ?? .null]
        let calls = toolCalls(of: message)
        if !calls.isEmpty { reply["tool_calls"] = .array(calls) }
        return [
            "id": message["id"] ?? "", "object": "chat.completion", "created": .int(created), "model": message["model"] ?? "",
            "choices": [
                [
                    "index": 0, "message": .object(reply),
                    "finish_reason": .string(finishReason(message["stop_reason"]?.stringValue)),
                ]
            ],
            "usage": usage(of: message),
        ]
    }

    /// The `chat.completion.chunk`s a streamed completion of a Message is made of: the role, the text in word
    /// pieces, each tool call (name, then arguments), the finish reason, and the usage when asked for.
    public static func chunks(from message: JSONValue, includeUsage: Bool) -> [JSONValue] {
        func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> JSONValue {
            var object: JSONObject = [
                "id": message["id"] ?? "", "object": "chat.completion.chunk", "created": .int(created),
                "model": message["model"] ?? "", "choices": [["index": 0, "delta": delta, "finish_reason": finish]],
            ]
            if includeUsage { object["usage"] = .null }
            return .object(object)
        }
        var out: [JSONValue] = [chunk(["role": "assistant", "content": ""])]
        if let text = text(ofMessage: message) {
            for piece in pieces(of: text) { out.append(chunk(["content": .string(piece)])) }
        }
        for (i, call) in toolCalls(of: message).enumerated() {
            out.append(
                chunk([
                    "tool_calls": [
                        [
                            "index": .int(i), "id": call["id"] ?? "", "type": "function",
                            "function": ["name": call["function"]?["name"] ?? "", "arguments": ""],
                        ]
                    ]
                ]))
            out.append(
                chunk(["tool_calls": [["index": .int(i), "function": ["arguments": call["function"]?["arguments"] ?? ""]]]]))
        }
        out.append(chunk([:], finish: .string(finishReason(message["stop_reason"]?.stringValue))))
        if includeUsage {
            out.append([
                "id": message["id"] ?? "", "object": "chat.completion.chunk", "created": .int(created),
                "model": message["model"] ?? "", "choices": [], "usage": usage(of: message),
            ])
        }
        return out
    }

    /// Text cut after each space, so the pieces join back to it exactly.
    static func pieces(of text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        for ch in text {
            current.append(ch)
            if ch == " " || ch == "\n" {
                pieces.append(current)
                current = ""
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// The error body this endpoint answers with: OpenAI's envelope, carrying the Messages error's type and text.
    public static func errorBody(_ error: APIError) -> JSONValue {
        ["error": ["message": .string(error.message), "type": .string(error.type.rawValue), "param": .null, "code": .null]]
    }
}
