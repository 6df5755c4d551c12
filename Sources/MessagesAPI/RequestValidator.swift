/// Checks request bodies the way the Messages API does, with its statuses and message texts (`Refusal`, which
/// also says where each rule comes from).
///
/// Only what the real API is known to refuse is refused. The `RequestDialect` (the request's betas and version)
/// says which beta fields and values are on; a request naming a beta or version this build does not know is
/// not refused for anything merely unknown (a field, a block type, a value), since the real API may accept it.
public struct RequestValidator: Sendable {
    public enum Endpoint: Sendable { case messages, countTokens }

    public let catalog: ModelCatalog

    public init(catalog: ModelCatalog = .standard) { self.catalog = catalog }

    /// Fields `POST /v1/messages` accepts without a beta (PY `types/message_create_params.py`; `temperature`,
    /// `top_p` and `top_k` from 0.x SDKs, which the API still takes).
    static let messageFields: Set<String> = [
        "model", "max_tokens", "messages", "system", "stream", "stop_sequences", "temperature", "top_p", "top_k",
        "thinking", "tools", "tool_choice", "metadata", "service_tier", "output_config", "cache_control", "container",
        "diagnostics", "inference_geo", "speed",
    ]
    /// Fields count_tokens accepts without a beta (PY `types/message_count_tokens_params.py`).
    static let countFields: Set<String> = [
        "model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "cache_control", "speed",
    ]
    /// Fields that exist only behind a beta (PY `types/beta/message_create_params.py` minus the plain params):
    /// accepted on both endpoints when the beta is on, otherwise "Extra inputs are not permitted".
    static let betaFields: [String: BetaFeature] = [
        "context_management": .contextManagement, "mcp_servers": .mcpServers, "thread": .threads,
        "compaction": .compaction, "fallbacks": .fallbacks, "fallback_credit_token": .fallbackCredit,
        "billing_policy": .billingPolicy, "output_format": .structuredOutputsBeta,
    ]
    /// Input block types, in messages and inside `tool_result` content (PY 2.10 `types/content_block_param.py`,
    /// `types/tool_result_block_param.py` and their `types/beta/` versions: Claude Code's tool search sends
    /// `tool_reference` blocks in tool results).
    static let blockTypes = [
        "text", "image", "document", "search_result", "thinking", "redacted_thinking", "tool_use", "tool_result",
        "server_tool_use", "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result",
        "bash_code_execution_tool_result", "text_editor_code_execution_tool_result", "tool_search_tool_result",
        "mcp_tool_use", "mcp_tool_result", "container_upload", "tool_reference", "browser_state",
        "advisor_tool_result", "compaction", "fallback", "mcp_tool_listing", "tool_addition", "tool_removal",
    ]
    static let imageMediaTypes = ["image/jpeg", "image/png", "image/gif", "image/webp"]
    static let efforts = ["low", "medium", "high", "xhigh", "max"]

    /// Parses body bytes into a JSON object, mapping every failure to the API's 400.
    public static func parseBody(_ bytes: some Collection<UInt8>) throws(APIError) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw APIError(.unparsable(detail: error.description))
        }
        guard case .object(let object) = value else { throw APIError(.notAnObject) }
        return object
    }

    /// Validates the shape of a request without judging its model, so a recorded interaction for a model the
    /// catalog does not know (say, a gateway's) can still be replayed.
    public func validateShape(
        _ body: JSONObject, endpoint: Endpoint, dialect: RequestDialect = .plain
    ) throws(APIError) -> MessagesRequest {
        do {
            return try shape(body, endpoint: endpoint, dialect: dialect)
        } catch {
            throw APIError(error)
        }
    }

    /// Checks the rules that depend on the model: that it exists, its output cap, prefill and first-turn rules.
    /// Returns the catalog entry (the dated id is what answers report).
    public func validateModel(_ request: MessagesRequest) throws(APIError) -> ModelInfo {
        guard let info = catalog.model(named: request.model) else { throw APIError(.unknownModel(request.model)) }
        if let maxTokens = request.maxTokens, maxTokens > info.maxOutputTokens {
            throw APIError(.maxTokensAboveModel(maxTokens, cap: info.maxOutputTokens, model: info.id))
        }
        if info.requiresUserFirst, request.messages.first?.role == "assistant" { throw APIError(.assistantFirst) }
        if !info.supportsPrefill, request.messages.last?.role == "assistant" { throw APIError(.prefillUnsupported) }
        if request.thinking != .disabled, !info.supportsThinking { throw APIError(.thinkingUnsupported(model: info.id)) }
        return info
    }

    func shape(_ body: JSONObject, endpoint: Endpoint, dialect: RequestDialect) throws(Refusal) -> MessagesRequest {
        let plain = endpoint == .messages ? Self.messageFields : Self.countFields
        for key in body.keys where !plain.contains(key) {
            if let feature = Self.betaFields[key], dialect.enables(feature) { continue }
            // A newer API may have added the field; a generation field on count_tokens stays refused.
            if dialect.isNewerThanKnown, !Self.messageFields.contains(key) { continue }
            throw .extraInput(key)
        }

        guard let modelValue = body["model"] else { throw .missing("model") }
        guard case .string(let model) = modelValue else { throw .notA("string", at: "model") }
        guard !model.isEmpty else { throw .tooShort(minimum: 1, at: "model") }

        var maxTokens: Int?
        if endpoint == .messages {
            guard let value = body["max_tokens"] else { throw .missing("max_tokens") }
            guard let n = value.numberValue, n.isInteger, let i = n.intValue else { throw .notA("integer", at: "max_tokens") }
            guard i >= 0 else { throw .below(0, at: "max_tokens") }
            maxTokens = i
        }

        guard let messagesValue = body["messages"] else { throw .missing("messages") }
        guard case .array(let rawMessages) = messagesValue else { throw .notA("list", at: "messages") }
        guard !rawMessages.isEmpty else { throw .noMessages }
        guard rawMessages.count <= 100_000 else { throw .tooManyItems(maximum: 100_000, count: rawMessages.count, at: "messages") }
        var messages: [MessagesRequest.Message] = []
        messages.reserveCapacity(rawMessages.count)
        for (i, raw) in rawMessages.enumerated() {
            messages.append(try validateMessage(raw, index: i, isLast: i == rawMessages.count - 1, dialect: dialect))
        }
        try checkToolResultsFollowToolUses(messages)

        let system = try validateSystem(body["system"])

        var stream = false
        if let value = body["stream"] {
            guard case .bool(let b) = value else { throw .notA("boolean", at: "stream") }
            stream = b
        }

        var stopSequences: [String] = []
        if let value = body["stop_sequences"], !value.isNull {
            guard case .array(let items) = value else { throw .notA("list", at: "stop_sequences") }
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else { throw .notA("string", at: "stop_sequences.\(i)") }
                guard s.contains(where: { !$0.isWhitespace }) else { throw .blankStopSequence }
                stopSequences.append(s)
            }
        }

        try validateSampling(body)
        try validateMetadata(body["metadata"])
        if let tier = body["service_tier"] {
            guard tier == "auto" || tier == "standard_only" || dialect.isNewerThanKnown && tier.stringValue != nil else {
                throw .notOneOf(["auto", "standard_only"], at: "service_tier")
            }
        }

        let thinking = try validateThinking(body["thinking"], maxTokens: maxTokens, dialect: dialect)
        let tools = try validateTools(body["tools"])
        let toolChoice = try validateToolChoice(body["tool_choice"], tools: tools, dialect: dialect)
        let output = try validateOutputConfig(body["output_config"], dialect: dialect)
        var outputSchema = output.schema
        if let format = body["output_format"], !format.isNull {
            outputSchema = try validateFormat(format, at: "output_format", dialect: dialect) ?? outputSchema
        }

        if thinking != .disabled {
            if let t = body["temperature"]?.doubleValue, t != 1 { throw .temperatureWithThinking }
            switch toolChoice {
            case .any, .tool: throw .thinkingWithForcedTool
            default: break
            }
        }

        return MessagesRequest(
            body: body, model: model, maxTokens: maxTokens, messages: messages, system: system, stream: stream,
            stopSequences: stopSequences, tools: tools, toolChoice: toolChoice, thinking: thinking,
            outputSchema: outputSchema, effort: output.effort, dialect: dialect
        )
    }

    // MARK: - Pieces

    func validateMessage(
        _ raw: JSONValue, index i: Int, isLast: Bool, dialect: RequestDialect
    ) throws(Refusal) -> MessagesRequest.Message {
        guard case .object(let message) = raw else { throw .notA("dictionary or object to extract fields from", at: "messages.\(i)") }
        guard let roleValue = message["role"] else { throw .missing("messages.\(i).role") }
        // `system` entries inside `messages`: PY 2.10 `types/message_param.py` (Claude Code sends them).
        guard let role = roleValue.stringValue, ["user", "assistant", "system"].contains(role) else {
            throw .notOneOf(["user", "assistant"], at: "messages.\(i).role")
        }
        guard let content = message["content"] else { throw .missing("messages.\(i).content") }
        let allowEmpty = isLast && role == "assistant"
        switch content {
        case .string(let text):
            if text.isEmpty && !allowEmpty { throw .emptyContent(message: i) }
            return .init(role: role, blocks: [["type": "text", "text": .string(text)]])
        case .array(let items):
            if items.isEmpty && !allowEmpty { throw .emptyContent(message: i) }
            var blocks: [JSONObject] = []
            for (j, item) in items.enumerated() {
                blocks.append(try validateBlock(item, path: "messages.\(i).content.\(j)", dialect: dialect))
            }
            return .init(role: role, blocks: blocks)
        default:
            throw .notA("string or a valid list", at: "messages.\(i).content")
        }
    }

    func validateBlock(_ raw: JSONValue, path: String, dialect: RequestDialect) throws(Refusal) -> JSONObject {
        guard case .object(let block) = raw else { throw .notA("dictionary or object to extract fields from", at: path) }
        guard let typeValue = block["type"] else { throw .noTag(at: path) }
        guard let type = typeValue.stringValue, Self.blockTypes.contains(type) || dialect.isNewerThanKnown else {
            throw .unknownTag(typeValue.stringValue ?? typeValue.description, expected: Self.blockTypes, at: path)
        }
        func requireString(_ key: String) throws(Refusal) -> String {
            guard let value = block[key] else { throw .missing("\(path).\(type).\(key)") }
            guard let s = value.stringValue else { throw .notA("string", at: "\(path).\(type).\(key)") }
            return s
        }
        switch type {
        case "text":
            let text = try requireString("text")
            if text.isEmpty { throw .emptyText(in: "messages") }
        case "image", "document":
            guard let source = block["source"]?.objectValue else { throw .missing("\(path).\(type).source") }
            let sourceType = source["type"]?.stringValue ?? ""
            if type == "image" {
                switch sourceType {
                case "base64":
                    guard let media = source["media_type"]?.stringValue, Self.imageMediaTypes.contains(media) else {
                        throw .notOneOf(Self.imageMediaTypes, at: "\(path).image.source.base64.media_type")
                    }
                    guard source["data"]?.stringValue != nil else { throw .missing("\(path).image.source.base64.data") }
                case "url", "file": break
                default:
                    if dialect.isNewerThanKnown { break }
                    throw .unknownTag(sourceType, expected: ["base64", "url", "file"], at: "\(path).image.source")
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
            guard block["input"]?.objectValue != nil else { throw .notA("dictionary", at: "\(path).tool_use.input") }
        case "tool_result":
            _ = try requireString("tool_use_id")
            if let content = block["content"] {
                switch content {
                case .string, .null: break
                case .array(let items):
                    for (k, item) in items.enumerated() {
                        _ = try validateBlock(item, path: "\(path).tool_result.content.\(k)", dialect: dialect)
                    }
                default:
                    throw .notA("string or a valid list", at: "\(path).tool_result.content")
                }
            }
        default:
            break
        }
        return block
    }

    func checkToolResultsFollowToolUses(_ messages: [MessagesRequest.Message]) throws(Refusal) {
        for (i, message) in messages.enumerated() where message.role == "assistant" && i + 1 < messages.count {
            let ids = message.blocks.filter { $0["type"]?.stringValue == "tool_use" }.compactMap { $0["id"]?.stringValue }
            guard !ids.isEmpty else { continue }
            let answered = Set(
                messages[i + 1].blocks.filter { $0["type"]?.stringValue == "tool_result" }
                    .compactMap { $0["tool_use_id"]?.stringValue }
            )
            let missing = ids.filter { !answered.contains($0) }
            if !missing.isEmpty { throw .unansweredToolUse(message: i, ids: missing) }
        }
    }

    func validateSystem(_ value: JSONValue?) throws(Refusal) -> String {
        switch value {
        case nil, .null?: return ""
        case .string(let s)?: return s
        case .array(let items)?:
            var texts: [String] = []
            for (i, item) in items.enumerated() {
                guard case .object(let block) = item else { throw .notA("dictionary or object to extract fields from", at: "system.\(i)") }
                guard block["type"] == "text" else { throw .notOneOf(["text"], at: "system.\(i).type") }
                guard let text = block["text"]?.stringValue else { throw .missing("system.\(i).text") }
                if text.isEmpty { throw .emptyText(in: "system") }
                texts.append(text)
            }
            return texts.joined(separator: "\n")
        default:
            throw .notA("string or a valid list", at: "system")
        }
    }

    func validateSampling(_ body: JSONObject) throws(Refusal) {
        for key in ["temperature", "top_p"] {
            guard let value = body[key], !value.isNull else { continue }
            guard let d = value.doubleValue else { throw .notA("number", at: key) }
            if d < 0 { throw .below(0, at: key) }
            if d > 1 { throw .above(1, at: key) }
        }
        if let value = body["top_k"], !value.isNull {
            guard let n = value.numberValue, n.isInteger else { throw .notA("integer", at: "top_k") }
            if n.doubleValue < 0 { throw .below(0, at: "top_k") }
        }
    }

    func validateMetadata(_ value: JSONValue?) throws(Refusal) {
        guard let value, !value.isNull else { return }
        guard case .object(let metadata) = value else { throw .notA("dictionary or object to extract fields from", at: "metadata") }
        for key in metadata.keys where key != "user_id" { throw .extraInput("metadata.\(key)") }
        switch metadata["user_id"] {
        case nil, .null?: break
        // Claude Code sends a JSON object as a string here (device, account and session ids): ~150 characters.
        case .string(let s)?: if s.count > 256 { throw .tooLong(maximum: 256, at: "metadata.user_id") }
        default: throw .notA("string", at: "metadata.user_id")
        }
    }

    func validateThinking(
        _ value: JSONValue?, maxTokens: Int?, dialect: RequestDialect
    ) throws(Refusal) -> MessagesRequest.Thinking {
        guard let value, !value.isNull else { return .disabled }
        guard case .object(let thinking) = value else { throw .notA("dictionary or object to extract fields from", at: "thinking") }
        guard let type = thinking["type"]?.stringValue else { throw .noTag(at: "thinking") }
        func omitted() throws(Refusal) -> Bool {
            switch thinking["display"] {
            case nil, .null?, "summarized"?: return false
            case "omitted"?: return true
            // Claude Code's `--verbose` stream-json asks for updates, with its beta.
            case "updates"? where dialect.enables(.thinkingDisplayUpdates): return false
            case .string? where dialect.isNewerThanKnown: return false
            default: throw .notOneOf(["summarized", "omitted"], at: "thinking.\(type).display")
            }
        }
        switch type {
        case "disabled", "between_tools":
            return .disabled
        case "adaptive":
            // `thinking.adaptive.effort` is refused (CAP#52557844740): effort lives in `output_config`.
            for key in thinking.keys where !["type", "display"].contains(key) && !dialect.isNewerThanKnown {
                throw .extraInput("thinking.adaptive.\(key)")
            }
            return .adaptive(omitted: try omitted())
        case "enabled":
            guard let budgetValue = thinking["budget_tokens"] else { throw .missing("thinking.enabled.budget_tokens") }
            guard let n = budgetValue.numberValue, n.isInteger, let budget = n.intValue else {
                throw .notA("integer", at: "thinking.enabled.budget_tokens")
            }
            guard budget >= 1024 else { throw .below(1024, at: "thinking.enabled.budget_tokens") }
            if let maxTokens, budget >= maxTokens { throw .budgetNotBelowMaxTokens }
            return .enabled(budgetTokens: budget, omitted: try omitted())
        default:
            // A thinking mode newer than this build: answer as adaptive rather than refuse.
            if dialect.isNewerThanKnown { return .adaptive(omitted: false) }
            throw .unknownTag(type, expected: ["enabled", "disabled", "adaptive"], at: "thinking")
        }
    }

    func validateOutputConfig(
        _ value: JSONValue?, dialect: RequestDialect
    ) throws(Refusal) -> (schema: JSONValue?, effort: String?) {
        guard let value, !value.isNull else { return (nil, nil) }
        guard case .object(let config) = value else {
            throw .notA("dictionary or object to extract fields from", at: "output_config")
        }
        var effort: String?
        switch config["effort"] {
        case nil, .null?: break
        case .string(let level)? where Self.efforts.contains(level) || dialect.isNewerThanKnown: effort = level
        default: throw .notOneOf(Self.efforts, at: "output_config.effort")
        }
        var schema: JSONValue?
        if let format = config["format"], !format.isNull {
            schema = try validateFormat(format, at: "output_config.format", dialect: dialect)
        }
        return (schema, effort)
    }

    /// A structured-output format (PY `types/json_output_format_param.py`): `{type: "json_schema", schema}`.
    func validateFormat(_ format: JSONValue, at path: String, dialect: RequestDialect) throws(Refusal) -> JSONValue? {
        guard case .object(let object) = format else { throw .notA("dictionary or object to extract fields from", at: path) }
        guard let type = object["type"]?.stringValue else { throw .noTag(at: path) }
        guard type == "json_schema" else {
            if dialect.isNewerThanKnown { return nil }
            throw .unknownTag(type, expected: ["json_schema"], at: path)
        }
        guard let schema = object["schema"] else { throw .missing("\(path).json_schema.schema") }
        guard case .object = schema else { throw .notA("dictionary", at: "\(path).json_schema.schema") }
        return schema
    }

    func validateTools(_ value: JSONValue?) throws(Refusal) -> [MessagesRequest.Tool] {
        guard let value, !value.isNull else { return [] }
        guard case .array(let items) = value else { throw .notA("list", at: "tools") }
        var tools: [MessagesRequest.Tool] = []
        var names = Set<String>()
        for (i, item) in items.enumerated() {
            guard case .object(let tool) = item else { throw .notA("dictionary or object to extract fields from", at: "tools.\(i)") }
            let type = tool["type"]?.stringValue ?? "custom"
            guard let name = tool["name"]?.stringValue else { throw .missing("tools.\(i).\(type).name") }
            let deferred = tool["defer_loading"]?.boolValue ?? false
            if type == "custom" {
                guard Self.isValidToolName(name) else { throw .pattern("^[a-zA-Z0-9_-]{1,64}$", at: "tools.\(i).custom.name") }
                guard let schema = tool["input_schema"] else { throw .missing("tools.\(i).custom.input_schema") }
                guard case .object(let schemaObject) = schema else { throw .notA("dictionary", at: "tools.\(i).custom.input_schema") }
                guard schemaObject["type"] == "object" else { throw .notOneOf(["object"], at: "tools.\(i).custom.input_schema.type") }
                if let d = tool["description"], d.stringValue == nil { throw .notA("string", at: "tools.\(i).custom.description") }
                tools.append(
                    .init(name: name, description: tool["description"]?.stringValue, inputSchema: schema, deferred: deferred))
            } else {
                tools.append(.init(name: name, description: nil, inputSchema: nil, deferred: deferred))
            }
            guard names.insert(name).inserted else { throw .duplicateToolNames }
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

    func validateToolChoice(
        _ value: JSONValue?, tools: [MessagesRequest.Tool], dialect: RequestDialect
    ) throws(Refusal) -> MessagesRequest.ToolChoice {
        guard let value, !value.isNull else { return tools.isEmpty ? .none : .auto }
        guard case .object(let choice) = value else { throw .notA("dictionary or object to extract fields from", at: "tool_choice") }
        let type = choice["type"]?.stringValue ?? ""
        let parsed: MessagesRequest.ToolChoice
        switch type {
        case "auto": parsed = .auto
        case "any": parsed = .any
        case "none": parsed = .none
        case "tool":
            guard let name = choice["name"]?.stringValue else { throw .missing("tool_choice.tool.name") }
            parsed = .tool(name)
        default:
            if dialect.isNewerThanKnown { return tools.isEmpty ? .none : .auto }
            throw .unknownTag(type, expected: ["auto", "any", "tool", "none"], at: "tool_choice")
        }
        if let d = choice["disable_parallel_tool_use"], d.boolValue == nil {
            throw .notA("boolean", at: "tool_choice.\(type).disable_parallel_tool_use")
        }
        switch parsed {
        case .any, .tool:
            if tools.isEmpty { throw .toolChoiceWithoutTools }
            if case .tool(let name) = parsed, !tools.contains(where: { $0.name == name }) { throw .toolChoiceNamesNoTool(name) }
        default: break
        }
        return parsed
    }
}
