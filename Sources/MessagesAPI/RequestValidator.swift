/// Checks request bodies the way the Messages API does, with its statuses and message texts
/// (pydantic-style `<path>: <text>` where the API uses that style).
public struct RequestValidator: Sendable {
    public enum Endpoint: Sendable { case messages, countTokens }

    public let catalog: ModelCatalog

    public init(catalog: ModelCatalog = .standard) { self.catalog = catalog }

    /// Fields `POST /v1/messages` accepts; anything else is "Extra inputs are not permitted".
    static let messageFields: Set<String> = [
        "model", "max_tokens", "messages", "system", "stream", "stop_sequences", "temperature", "top_p", "top_k",
        "thinking", "tools", "tool_choice", "metadata", "service_tier", "output_config", "output_format",
        "cache_control", "container", "diagnostics", "inference_geo", "speed", "context_management", "mcp_servers",
    ]
    /// Fields count_tokens accepts.
    static let countFields: Set<String> = [
        "model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "output_format",
        "cache_control", "speed", "context_management", "mcp_servers",
    ]
    static let blockTypes = [
        "text", "image", "document", "search_result", "thinking", "redacted_thinking", "tool_use", "tool_result",
        "server_tool_use", "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result",
        "bash_code_execution_tool_result", "text_editor_code_execution_tool_result", "tool_search_tool_result",
        "mcp_tool_use", "mcp_tool_result", "container_upload",
    ]
    static let imageMediaTypes = ["image/jpeg", "image/png", "image/gif", "image/webp"]

    /// Parses body bytes into a JSON object, mapping every failure to the API's 400.
    public static func parseBody(_ bytes: some Collection<UInt8>) throws(APIError) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw .invalidRequest("There was an error parsing the body of your request: \(error.description)")
        }
        guard case .object(let object) = value else {
            throw .invalidRequest("Input should be a valid dictionary or object to extract fields from")
        }
        return object
    }

    /// Validates the shape of a request without judging its model, so a recorded interaction for a model the
    /// catalog does not know (say, a gateway's) can still be replayed.
    public func validateShape(_ body: JSONObject, endpoint: Endpoint) throws(APIError) -> MessagesRequest {
        let allowed = endpoint == .messages ? Self.messageFields : Self.countFields
        for key in body.keys where !allowed.contains(key) {
            throw .invalidRequest("\(key): Extra inputs are not permitted")
        }

        guard let modelValue = body["model"] else { throw .invalidRequest("model: Field required") }
        guard case .string(let model) = modelValue else {
            throw .invalidRequest("model: Input should be a valid string")
        }
        guard !model.isEmpty else { throw .invalidRequest("model: String should have at least 1 character") }

        var maxTokens: Int?
        if endpoint == .messages {
            guard let value = body["max_tokens"] else { throw .invalidRequest("max_tokens: Field required") }
            guard let n = value.numberValue, n.isInteger, let i = n.intValue else {
                throw .invalidRequest("max_tokens: Input should be a valid integer")
            }
            guard i >= 0 else { throw .invalidRequest("max_tokens: Input should be greater than or equal to 0") }
            maxTokens = i
        }

        guard let messagesValue = body["messages"] else { throw .invalidRequest("messages: Field required") }
        guard case .array(let rawMessages) = messagesValue else {
            throw .invalidRequest("messages: Input should be a valid list")
        }
        guard !rawMessages.isEmpty else { throw .invalidRequest("messages: at least one message is required") }
        guard rawMessages.count <= 100_000 else {
            throw .invalidRequest("messages: List should have at most 100000 items after validation, not \(rawMessages.count)")
        }
        var messages: [MessagesRequest.Message] = []
        messages.reserveCapacity(rawMessages.count)
        for (i, raw) in rawMessages.enumerated() {
            messages.append(try validateMessage(raw, index: i, isLast: i == rawMessages.count - 1))
        }
        try checkToolResultsFollowToolUses(messages)

        let system = try validateSystem(body["system"])

        var stream = false
        if let value = body["stream"] {
            guard case .bool(let b) = value else { throw .invalidRequest("stream: Input should be a valid boolean") }
            stream = b
        }

        var stopSequences: [String] = []
        if let value = body["stop_sequences"], !value.isNull {
            guard case .array(let items) = value else { throw .invalidRequest("stop_sequences: Input should be a valid list") }
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else {
                    throw .invalidRequest("stop_sequences.\(i): Input should be a valid string")
                }
                guard s.contains(where: { !$0.isWhitespace }) else {
                    throw .invalidRequest("stop_sequences: each stop sequence must contain non-whitespace")
                }
                stopSequences.append(s)
            }
        }

        try validateSampling(body)
        try validateMetadata(body["metadata"])
        if let tier = body["service_tier"] {
            guard tier == "auto" || tier == "standard_only" else {
                throw .invalidRequest("service_tier: Input should be 'auto' or 'standard_only'")
            }
        }

        let thinking = try validateThinking(body["thinking"], maxTokens: maxTokens)
        let tools = try validateTools(body["tools"])
        let toolChoice = try validateToolChoice(body["tool_choice"], tools: tools)

        if thinking != .disabled {
            if let t = body["temperature"]?.doubleValue, t != 1 {
                throw .invalidRequest("`temperature` may only be set to 1 when thinking is enabled or in adaptive mode")
            }
            switch toolChoice {
            case .any, .tool: throw .invalidRequest("Thinking may not be enabled when tool_choice forces tool use.")
            default: break
            }
        }

        return MessagesRequest(
            body: body, model: model, maxTokens: maxTokens, messages: messages, system: system, stream: stream,
            stopSequences: stopSequences, tools: tools, toolChoice: toolChoice, thinking: thinking
        )
    }

    /// Checks the rules that depend on the model: that it exists, its output cap, prefill and first-turn rules.
    /// Returns the catalog entry (the dated id is what answers report).
    public func validateModel(_ request: MessagesRequest) throws(APIError) -> ModelInfo {
        guard let info = catalog.model(named: request.model) else {
            throw .notFound("model: \(request.model)")
        }
        if let maxTokens = request.maxTokens, maxTokens > info.maxOutputTokens {
            throw .invalidRequest(
                "max_tokens: \(maxTokens) > \(info.maxOutputTokens), which is the maximum allowed number of output tokens for \(info.id)"
            )
        }
        if info.requiresUserFirst, request.messages.first?.role == "assistant" {
            throw .invalidRequest("messages: first message must use the \"user\" role")
        }
        if !info.supportsPrefill, request.messages.last?.role == "assistant" {
            throw .invalidRequest(
                "This model does not support assistant message prefill. The conversation must end with a user message."
            )
        }
        if request.thinking != .disabled, !info.supportsThinking {
            throw .invalidRequest("thinking: \(info.id) does not support extended thinking")
        }
        return info
    }

    // MARK: - Pieces

    func validateMessage(_ raw: JSONValue, index i: Int, isLast: Bool) throws(APIError) -> MessagesRequest.Message {
        guard case .object(let message) = raw else {
            throw .invalidRequest("messages.\(i): Input should be a valid dictionary or object to extract fields from")
        }
        guard let roleValue = message["role"] else { throw .invalidRequest("messages.\(i).role: Field required") }
        guard let role = roleValue.stringValue, ["user", "assistant", "system"].contains(role) else {
            throw .invalidRequest("messages.\(i).role: Input should be 'user' or 'assistant'")
        }
        guard let content = message["content"] else { throw .invalidRequest("messages.\(i).content: Field required") }
        let allowEmpty = isLast && role == "assistant"
        switch content {
        case .string(let text):
            if text.isEmpty && !allowEmpty {
                throw .invalidRequest(
                    "messages.\(i): all messages must have non-empty content except for the optional final assistant message"
                )
            }
            return .init(role: role, blocks: [["type": "text", "text": .string(text)]])
        case .array(let items):
            if items.isEmpty && !allowEmpty {
                throw .invalidRequest(
                    "messages.\(i): all messages must have non-empty content except for the optional final assistant message"
                )
            }
            var blocks: [JSONObject] = []
            for (j, item) in items.enumerated() {
                blocks.append(try validateBlock(item, path: "messages.\(i).content.\(j)"))
            }
            return .init(role: role, blocks: blocks)
        default:
            throw .invalidRequest("messages.\(i).content: Input should be a valid string or a valid list")
        }
    }

    func validateBlock(_ raw: JSONValue, path: String) throws(APIError) -> JSONObject {
        guard case .object(let block) = raw else {
            throw .invalidRequest("\(path): Input should be a valid dictionary or object to extract fields from")
        }
        guard let typeValue = block["type"] else {
            throw .invalidRequest("\(path): Unable to extract tag using discriminator 'type'")
        }
        guard let type = typeValue.stringValue, Self.blockTypes.contains(type) else {
            let expected = Self.blockTypes.map { "'\($0)'" }.joined(separator: ", ")
            throw .invalidRequest(
                "\(path): Input tag '\(typeValue.stringValue ?? typeValue.description)' found using 'type' does not match any of the expected tags: \(expected)"
            )
        }
        func requireString(_ key: String) throws(APIError) -> String {
            guard let value = block[key] else { throw .invalidRequest("\(path).\(type).\(key): Field required") }
            guard let s = value.stringValue else {
                throw .invalidRequest("\(path).\(type).\(key): Input should be a valid string")
            }
            return s
        }
        switch type {
        case "text":
            let text = try requireString("text")
            if text.isEmpty { throw .invalidRequest("messages: text content blocks must be non-empty") }
        case "image", "document":
            guard let source = block["source"]?.objectValue else {
                throw .invalidRequest("\(path).\(type).source: Field required")
            }
            let sourceType = source["type"]?.stringValue ?? ""
            if type == "image" {
                switch sourceType {
                case "base64":
                    guard let media = source["media_type"]?.stringValue, Self.imageMediaTypes.contains(media) else {
                        throw .invalidRequest(
                            "\(path).image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
                        )
                    }
                    guard source["data"]?.stringValue != nil else {
                        throw .invalidRequest("\(path).image.source.base64.data: Field required")
                    }
                case "url", "file": break
                default:
                    throw .invalidRequest(
                        "\(path).image.source: Input tag '\(sourceType)' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'"
                    )
                }
            }
        case "thinking":
            _ = try requireString("thinking")
            _ = try requireString("signature")
        case "redacted_thinking":
            _ = try requireString("data")
        case "tool_use":
            _ = try requireString("id")
            _ = try requireString("name")
            guard block["input"]?.objectValue != nil else {
                throw .invalidRequest("\(path).tool_use.input: Input should be a valid dictionary")
            }
        case "tool_result":
            _ = try requireString("tool_use_id")
            if let content = block["content"] {
                switch content {
                case .string, .null: break
                case .array(let items):
                    for (k, item) in items.enumerated() {
                        _ = try validateBlock(item, path: "\(path).tool_result.content.\(k)")
                    }
                default:
                    throw .invalidRequest("\(path).tool_result.content: Input should be a valid string or a valid list")
                }
            }
        default:
            break
        }
        return block
    }

    func checkToolResultsFollowToolUses(_ messages: [MessagesRequest.Message]) throws(APIError) {
        for (i, message) in messages.enumerated() where message.role == "assistant" && i + 1 < messages.count {
            let ids = message.blocks.filter { $0["type"]?.stringValue == "tool_use" }.compactMap { $0["id"]?.stringValue }
            guard !ids.isEmpty else { continue }
            let answered = Set(
                messages[i + 1].blocks.filter { $0["type"]?.stringValue == "tool_result" }
                    .compactMap { $0["tool_use_id"]?.stringValue }
            )
            let missing = ids.filter { !answered.contains($0) }
            if !missing.isEmpty {
                throw .invalidRequest(
                    "messages.\(i): `tool_use` ids were found without `tool_result` blocks immediately after: \(missing.joined(separator: ", ")). Each `tool_use` block must have a corresponding `tool_result` block in the next message."
                )
            }
        }
    }

    func validateSystem(_ value: JSONValue?) throws(APIError) -> String {
        switch value {
        case nil, .null?: return ""
        case .string(let s)?: return s
        case .array(let items)?:
            var texts: [String] = []
            for (i, item) in items.enumerated() {
                guard case .object(let block) = item else {
                    throw .invalidRequest("system.\(i): Input should be a valid dictionary or object to extract fields from")
                }
                guard block["type"] == "text" else { throw .invalidRequest("system.\(i).type: Input should be 'text'") }
                guard let text = block["text"]?.stringValue else { throw .invalidRequest("system.\(i).text: Field required") }
                if text.isEmpty { throw .invalidRequest("system: text content blocks must be non-empty") }
                texts.append(text)
            }
            return texts.joined(separator: "\n")
        default:
            throw .invalidRequest("system: Input should be a valid string or a valid list")
        }
    }

    func validateSampling(_ body: JSONObject) throws(APIError) {
        for key in ["temperature", "top_p"] {
            guard let value = body[key], !value.isNull else { continue }
            guard let d = value.doubleValue else { throw .invalidRequest("\(key): Input should be a valid number") }
            if d < 0 { throw .invalidRequest("\(key): Input should be greater than or equal to 0") }
            if d > 1 { throw .invalidRequest("\(key): Input should be less than or equal to 1") }
        }
        if let value = body["top_k"], !value.isNull {
            guard let n = value.numberValue, n.isInteger else { throw .invalidRequest("top_k: Input should be a valid integer") }
            if n.doubleValue < 0 { throw .invalidRequest("top_k: Input should be greater than or equal to 0") }
        }
    }

    func validateMetadata(_ value: JSONValue?) throws(APIError) {
        guard let value, !value.isNull else { return }
        guard case .object(let metadata) = value else {
            throw .invalidRequest("metadata: Input should be a valid dictionary or object to extract fields from")
        }
        for key in metadata.keys where key != "user_id" {
            throw .invalidRequest("metadata.\(key): Extra inputs are not permitted")
        }
        switch metadata["user_id"] {
        case nil, .null?: break
        case .string(let s)?:
            if s.count > 256 { throw .invalidRequest("metadata.user_id: String should have at most 256 characters") }
        default: throw .invalidRequest("metadata.user_id: Input should be a valid string")
        }
    }

    func validateThinking(_ value: JSONValue?, maxTokens: Int?) throws(APIError) -> MessagesRequest.Thinking {
        guard let value, !value.isNull else { return .disabled }
        guard case .object(let thinking) = value else {
            throw .invalidRequest("thinking: Input should be a valid dictionary or object to extract fields from")
        }
        guard let type = thinking["type"]?.stringValue else {
            throw .invalidRequest("thinking: Unable to extract tag using discriminator 'type'")
        }
        func display() throws(APIError) -> Bool {
            switch thinking["display"] {
            case nil, .null?: return false
            case "summarized"?: return false
            case "omitted"?: return true
            default: throw .invalidRequest("thinking.\(type).display: Input should be 'summarized' or 'omitted'")
            }
        }
        switch type {
        case "disabled", "between_tools":
            return .disabled
        case "adaptive":
            for key in thinking.keys where !["type", "display"].contains(key) {
                throw .invalidRequest("thinking.adaptive.\(key): Extra inputs are not permitted")
            }
            return .adaptive(omitted: try display())
        case "enabled":
            guard let budgetValue = thinking["budget_tokens"] else {
                throw .invalidRequest("thinking.enabled.budget_tokens: Field required")
            }
            guard let n = budgetValue.numberValue, n.isInteger, let budget = n.intValue else {
                throw .invalidRequest("thinking.enabled.budget_tokens: Input should be a valid integer")
            }
            guard budget >= 1024 else {
                throw .invalidRequest("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
            }
            if let maxTokens, budget >= maxTokens {
                throw .invalidRequest(
                    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
                )
            }
            return .enabled(budgetTokens: budget, omitted: try display())
        default:
            throw .invalidRequest(
                "thinking: Input tag '\(type)' found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'"
            )
        }
    }

    func validateTools(_ value: JSONValue?) throws(APIError) -> [MessagesRequest.Tool] {
        guard let value, !value.isNull else { return [] }
        guard case .array(let items) = value else { throw .invalidRequest("tools: Input should be a valid list") }
        var tools: [MessagesRequest.Tool] = []
        var names = Set<String>()
        for (i, item) in items.enumerated() {
            guard case .object(let tool) = item else {
                throw .invalidRequest("tools.\(i): Input should be a valid dictionary or object to extract fields from")
            }
            let type = tool["type"]?.stringValue ?? "custom"
            guard let name = tool["name"]?.stringValue else { throw .invalidRequest("tools.\(i).\(type).name: Field required") }
            if type == "custom" {
                guard Self.isValidToolName(name) else {
                    throw .invalidRequest("tools.\(i).custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'")
                }
                guard let schema = tool["input_schema"] else {
                    throw .invalidRequest("tools.\(i).custom.input_schema: Field required")
                }
                guard case .object(let schemaObject) = schema else {
                    throw .invalidRequest("tools.\(i).custom.input_schema: Input should be a valid dictionary")
                }
                guard schemaObject["type"] == "object" else {
                    throw .invalidRequest("tools.\(i).custom.input_schema.type: Input should be 'object'")
                }
                if let d = tool["description"], d.stringValue == nil {
                    throw .invalidRequest("tools.\(i).custom.description: Input should be a valid string")
                }
                tools.append(.init(name: name, description: tool["description"]?.stringValue, inputSchema: schema))
            } else {
                tools.append(.init(name: name, description: nil, inputSchema: nil))
            }
            guard names.insert(name).inserted else { throw .invalidRequest("tools: Tool names must be unique.") }
        }
        return tools
    }

    static func isValidToolName(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard (1...64).contains(utf8.count) else { return false }
        return utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
    }

    func validateToolChoice(_ value: JSONValue?, tools: [MessagesRequest.Tool]) throws(APIError)
        -> MessagesRequest.ToolChoice
    {
        guard let value, !value.isNull else { return tools.isEmpty ? .none : .auto }
        guard case .object(let choice) = value else {
            throw .invalidRequest("tool_choice: Input should be a valid dictionary or object to extract fields from")
        }
        let type = choice["type"]?.stringValue ?? ""
        let parsed: MessagesRequest.ToolChoice
        switch type {
        case "auto": parsed = .auto
        case "any": parsed = .any
        case "none": parsed = .none
        case "tool":
            guard let name = choice["name"]?.stringValue else { throw .invalidRequest("tool_choice.tool.name: Field required") }
            parsed = .tool(name)
        default:
            throw .invalidRequest(
                "tool_choice: Input tag '\(type)' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
            )
        }
        if let d = choice["disable_parallel_tool_use"], d.boolValue == nil {
            throw .invalidRequest("tool_choice.\(type).disable_parallel_tool_use: Input should be a valid boolean")
        }
        switch parsed {
        case .any, .tool:
            if tools.isEmpty { throw .invalidRequest("tool_choice may only be specified while providing tools.") }
            if case .tool(let name) = parsed, !tools.contains(where: { $0.name == name }) {
                throw .invalidRequest("tool_choice: Tool '\(name)' not found in tools")
            }
        default: break
        }
        return parsed
    }
}
