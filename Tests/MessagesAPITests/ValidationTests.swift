import Testing

@testable import MessagesAPI

@Suite("Request validation")
struct ValidationTests {
    let validator = RequestValidator()

    static let base = #"{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hi"}]}"#

    /// Applies `edit` to the base request and validates it, shape then model.
    func check(_ edit: (inout JSONObject) -> Void, endpoint: RequestValidator.Endpoint = .messages) throws(APIError) {
        var body = try! RequestValidator.parseBody(Array(Self.base.utf8))
        edit(&body)
        let request = try validator.validateShape(body, endpoint: endpoint)
        _ = try validator.validateModel(request)
    }

    func expectError(
        _ status: Int, _ message: String, _ edit: (inout JSONObject) -> Void,
        endpoint: RequestValidator.Endpoint = .messages, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            try check(edit, endpoint: endpoint)
            Issue.record("expected \(status) \(message)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.status == status, sourceLocation: sourceLocation)
            #expect(error.message == message, sourceLocation: sourceLocation)
            #expect(error.type == (status == 404 ? "not_found_error" : "invalid_request_error"), sourceLocation: sourceLocation)
        }
    }

    @Test func acceptsAGoodRequest() throws {
        try check { _ in }
    }

    @Test func acceptsEveryInputBlockAndBothSystemForms() throws {
        try check { body in
            body["system"] = [["type": "text", "text": "Be brief.", "cache_control": ["type": "ephemeral"]]]
            body["metadata"] = ["user_id": "u-1"]
            body["messages"] = [
                [
                    "role": "user",
                    "content": [
                        ["type": "text", "text": "Look"],
                        ["type": "image", "source": ["type": "base64", "media_type": "image/png", "data": "iVBOR"]],
                        ["type": "image", "source": ["type": "url", "url": "https://example.com/a.png"]],
                        ["type": "document", "source": ["type": "text", "media_type": "text/plain", "data": "doc"]],
                        ["type": "search_result", "source": "s", "title": "t", "content": [["type": "text", "text": "r"]]],
                    ],
                ],
                [
                    "role": "assistant",
                    "content": [
                        ["type": "thinking", "thinking": "hm", "signature": "EqQB"],
                        ["type": "redacted_thinking", "data": "EmwK"],
                        ["type": "tool_use", "id": "toolu_1", "name": "t", "input": ["a": 1]],
                    ],
                ],
                [
                    "role": "user",
                    "content": [
                        ["type": "tool_result", "tool_use_id": "toolu_1", "content": [["type": "text", "text": "42"]]]
                    ],
                ],
            ]
            body["tools"] = [["name": "t", "input_schema": ["type": "object"]]]
        }
        try check { $0["system"] = "You are terse." }
    }

    @Test func acceptsThinkingForms() throws {
        try check {
            $0["max_tokens"] = 2048
            $0["thinking"] = ["type": "enabled", "budget_tokens": 1024, "display": "omitted"]
        }
        try check { $0["thinking"] = ["type": "adaptive"] }
        try check { $0["thinking"] = ["type": "disabled"] }
    }

    @Test func requiredFields() {
        expectError(400, "model: Field required") { $0["model"] = nil }
        expectError(400, "max_tokens: Field required") { $0["max_tokens"] = nil }
        expectError(400, "messages: Field required") { $0["messages"] = nil }
    }

    @Test func fieldTypes() {
        expectError(400, "model: Input should be a valid string") { $0["model"] = 5 }
        expectError(400, "max_tokens: Input should be a valid integer") { $0["max_tokens"] = "5" }
        expectError(400, "max_tokens: Input should be a valid integer") { $0["max_tokens"] = 1.5 }
        expectError(400, "max_tokens: Input should be greater than or equal to 0") { $0["max_tokens"] = -1 }
        expectError(400, "messages: Input should be a valid list") { $0["messages"] = "hi" }
        expectError(400, "stream: Input should be a valid boolean") { $0["stream"] = "yes" }
        expectError(400, "temperature: Input should be less than or equal to 1") { $0["temperature"] = 1.5 }
        expectError(400, "top_k: Input should be a valid integer") { $0["top_k"] = 1.5 }
        expectError(400, "foo: Extra inputs are not permitted") { $0["foo"] = 1 }
        expectError(400, "metadata.user_id: Input should be a valid string") { $0["metadata"] = ["user_id": 3] }
    }

    @Test func models() {
        expectError(404, "model: claude-nope-1") { $0["model"] = "claude-nope-1" }
        expectError(
            400,
            "max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5-20250929"
        ) { $0["max_tokens"] = 100_000 }
    }

    @Test func messagesAndRoles() {
        expectError(400, "messages: at least one message is required") { $0["messages"] = [] }
        expectError(400, "messages.0.role: Input should be 'user' or 'assistant'") {
            $0["messages"] = [["role": "robot", "content": "x"]]
        }
        expectError(400, "messages.0.content: Field required") { $0["messages"] = [["role": "user"]] }
        expectError(400, "messages: text content blocks must be non-empty") {
            $0["messages"] = [["role": "user", "content": [["type": "text", "text": ""]]]]
        }
        expectError(400, "messages.0: all messages must have non-empty content except for the optional final assistant message") {
            $0["messages"] = [["role": "user", "content": ""]]
        }
        expectError(400, "messages: first message must use the \"user\" role") {
            $0["model"] = "claude-3-7-sonnet-20250219"
            $0["messages"] = [["role": "assistant", "content": "x"], ["role": "user", "content": "y"]]
        }
        expectError(400, "This model does not support assistant message prefill. The conversation must end with a user message.") {
            $0["model"] = "claude-opus-4-7"
            $0["messages"] = [["role": "user", "content": "x"], ["role": "assistant", "content": "y"]]
        }
        expectError(
            400,
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_9. Each `tool_use` block must have a corresponding `tool_result` block in the next message."
        ) {
            $0["messages"] = [
                ["role": "user", "content": "x"],
                ["role": "assistant", "content": [["type": "tool_use", "id": "toolu_9", "name": "t", "input": [:]]]],
                ["role": "user", "content": "y"],
            ]
        }
        expectError(
            400,
            "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
        ) {
            $0["messages"] = [
                ["role": "user", "content": [["type": "image", "source": ["type": "base64", "media_type": "image/bmp", "data": "x"]]]]
            ]
        }
    }

    @Test func stopSequences() {
        expectError(400, "stop_sequences: Input should be a valid list") { $0["stop_sequences"] = "x" }
        expectError(400, "stop_sequences.1: Input should be a valid string") { $0["stop_sequences"] = ["a", 1] }
        expectError(400, "stop_sequences: each stop sequence must contain non-whitespace") { $0["stop_sequences"] = [" "] }
    }

    @Test func thinkingRules() {
        expectError(400, "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024") {
            $0["thinking"] = ["type": "enabled", "budget_tokens": 100]
        }
        expectError(400, "thinking.enabled.budget_tokens: Field required") { $0["thinking"] = ["type": "enabled"] }
        expectError(
            400,
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
        ) { $0["thinking"] = ["type": "enabled", "budget_tokens": 2048] }
        expectError(400, "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode") {
            $0["max_tokens"] = 4096
            $0["thinking"] = ["type": "enabled", "budget_tokens": 1024]
            $0["temperature"] = 0.5
        }
        expectError(400, "Thinking may not be enabled when tool_choice forces tool use.") {
            $0["max_tokens"] = 4096
            $0["thinking"] = ["type": "adaptive"]
            $0["tools"] = [["name": "t", "input_schema": ["type": "object"]]]
            $0["tool_choice"] = ["type": "any"]
        }
        expectError(400, "thinking.adaptive.effort: Extra inputs are not permitted") {
            $0["thinking"] = ["type": "adaptive", "effort": "high"]
        }
    }

    @Test func toolsAndToolChoice() {
        expectError(400, "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'") {
            $0["tools"] = [["name": "bad name", "input_schema": ["type": "object"]]]
        }
        expectError(400, "tools.0.custom.input_schema: Field required") { $0["tools"] = [["name": "t"]] }
        expectError(400, "tools.0.custom.input_schema.type: Input should be 'object'") {
            $0["tools"] = [["name": "t", "input_schema": ["type": "string"]]]
        }
        expectError(400, "tools: Tool names must be unique.") {
            $0["tools"] = [["name": "t", "input_schema": ["type": "object"]], ["name": "t", "input_schema": ["type": "object"]]]
        }
        expectError(400, "tool_choice may only be specified while providing tools.") { $0["tool_choice"] = ["type": "any"] }
        expectError(400, "tool_choice: Tool 'u' not found in tools") {
            $0["tools"] = [["name": "t", "input_schema": ["type": "object"]]]
            $0["tool_choice"] = ["type": "tool", "name": "u"]
        }
    }

    @Test func countTokensRejectsGenerationFields() {
        expectError(400, "max_tokens: Extra inputs are not permitted", { _ in }, endpoint: .countTokens)
        expectError(
            400, "stream: Extra inputs are not permitted",
            {
                $0["max_tokens"] = nil
                $0["stream"] = true
            }, endpoint: .countTokens)
    }

    /// Validates the base request edited by `edit` under `dialect`, shape only.
    func shape(_ dialect: RequestDialect, _ edit: (inout JSONObject) -> Void, endpoint: RequestValidator.Endpoint = .messages)
        throws(APIError) -> MessagesRequest
    {
        var body = try! RequestValidator.parseBody(Array(Self.base.utf8))
        edit(&body)
        return try validator.validateShape(body, endpoint: endpoint, dialect: dialect)
    }

    @Test func betaFieldsNeedTheirBeta() throws {
        let thread: (inout JSONObject) -> Void = { $0["thread"] = ["type": "create"] }
        #expect(throws: APIError.invalidRequest("thread: Extra inputs are not permitted")) { try shape(.plain, thread) }
        _ = try shape(RequestDialect(betas: ["message-threads-2026-08-12"]), thread)
        let edits: (inout JSONObject) -> Void = {
            $0["context_management"] = ["edits": [["type": "clear_thinking_20251015", "keep": "all"]]]
        }
        #expect(throws: APIError.invalidRequest("context_management: Extra inputs are not permitted")) { try shape(.plain, edits) }
        _ = try shape(RequestDialect(anthropicBeta: ["claude-code-20250219,context-management-2025-06-27"], version: "2023-06-01"), edits)
        _ = try shape(
            RequestDialect(betas: ["mcp-client-2025-11-20"]),
            {
                $0["max_tokens"] = nil
                $0["mcp_servers"] = []
            }, endpoint: .countTokens)
    }

    @Test func betasAndVersionsAreReadWithoutTheSpaceAroundThem() {
        let dialect = RequestDialect(
            anthropicBeta: [" files-api-2025-04-14 ,\tEffort-2025-11-24", "\u{2003}interleaved-thinking-2025-05-14\u{00A0}", "é"],
            version: " 2023-06-01\n")
        #expect(dialect.betas == ["files-api-2025-04-14", "effort-2025-11-24", "interleaved-thinking-2025-05-14", "é"])
        #expect(RequestDialect.trim("2023-06-01") == "2023-06-01" && RequestDialect.trim("\u{3000}x y\u{3000}") == "x y")
        #expect(RequestDialect(betas: [], version: "\t2023-06-01 ").isNewerThanKnown == false)
    }

    @Test func aBetaOrVersionNewerThanThisBuildIsNeverRefusedForWhatIsMerelyUnknown() throws {
        let newer = RequestDialect(betas: ["shiny-thing-2027-01-01"])
        #expect(newer.isNewerThanKnown)
        #expect(RequestDialect(betas: [], version: "2027-03-01").isNewerThanKnown)
        #expect(!RequestDialect(anthropicBeta: [" interleaved-thinking-2025-05-14 , effort "], version: "2023-06-01").betas.isEmpty)
        _ = try shape(newer) {
            $0["shiny"] = ["on": true]
            $0["thinking"] = ["type": "adaptive", "display": "narrated", "budget": 3]
            $0["output_config"] = ["effort": "ultra"]
            $0["messages"] = [["role": "user", "content": [["type": "hologram", "data": "x"]]]]
        }
        // What the API is known to refuse stays refused, whatever the headers say.
        #expect(throws: APIError.invalidRequest("max_tokens: Extra inputs are not permitted")) {
            try shape(newer, { _ in }, endpoint: .countTokens)
        }
        #expect(throws: APIError.invalidRequest("messages: at least one message is required")) {
            try shape(newer) { $0["messages"] = [] }
        }
    }

    @Test func claudeCodesFieldsAreAccepted() throws {
        let dialect = RequestDialect(
            anthropicBeta: [
                "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,advanced-tool-use-2025-11-20,effort-2025-11-24,thinking-display-updates-2026-08-18"
            ], version: "2023-06-01")
        let request = try shape(dialect) {
            $0["thinking"] = ["type": "adaptive", "display": "updates"]
            $0["output_config"] = ["effort": "xhigh"]
            $0["metadata"] = ["user_id": #"{"device_id":"d","account_uuid":"","session_id":"0b1f"}"#]
            $0["tools"] = [["name": "Read", "defer_loading": true, "input_schema": ["type": "object"]]]
            $0["messages"] = [["role": "system", "content": "env"], ["role": "user", "content": "Hi"]]
        }
        #expect(request.effort == "xhigh")
        #expect(request.tools.first?.deferred == true)
        // Tool search answers with tool references inside a tool result: a plain block type since SDK 2.10.
        _ = try shape(.plain) {
            $0["messages"] = [
                ["role": "user", "content": "Find a tool"],
                ["role": "assistant", "content": [["type": "tool_use", "id": "toolu_1", "name": "ToolSearch", "input": [:]]]],
                [
                    "role": "user",
                    "content": [
                        ["type": "tool_result", "tool_use_id": "toolu_1", "content": [["type": "tool_reference", "tool_name": "Read"]]]
                    ],
                ],
            ]
        }
        // Without its beta, `updates` is refused as pydantic would.
        #expect(throws: APIError.invalidRequest("thinking.adaptive.display: Input should be 'summarized' or 'omitted'")) {
            try shape(.plain) { $0["thinking"] = ["type": "adaptive", "display": "updates"] }
        }
    }

    @Test func outputConfig() throws {
        let schema: JSONValue = ["type": "object", "properties": ["a": ["type": "integer"]], "required": ["a"]]
        let request = try shape(.plain) { $0["output_config"] = ["format": ["type": "json_schema", "schema": schema]] }
        #expect(request.outputSchema == schema)
        let beta = try shape(RequestDialect(betas: ["structured-outputs-2025-11-13"])) {
            $0["output_format"] = ["type": "json_schema", "schema": schema]
        }
        #expect(beta.outputSchema == schema)
        expectError(400, "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'") {
            $0["output_config"] = ["effort": "ultra"]
        }
        expectError(400, "output_config.format.json_schema.schema: Field required") {
            $0["output_config"] = ["format": ["type": "json_schema"]]
        }
        expectError(
            400, "output_config.format: Input tag 'xml' found using 'type' does not match any of the expected tags: 'json_schema'"
        ) { $0["output_config"] = ["format": ["type": "xml"]] }
        expectError(400, "output_format: Extra inputs are not permitted") {
            $0["output_format"] = ["type": "json_schema", "schema": schema]
        }
    }

    /// Every refusal says where the real API is seen refusing it, and is worded as the API words it.
    @Test func everyRefusalHasASource() {
        let samples: [Refusal] = [
            .missing("a"), .extraInput("a"), .notA("string", at: "a"), .notOneOf(["x"], at: "a"),
            .unknownTag("t", expected: ["x"], at: "a"), .noTag(at: "a"), .tooShort(minimum: 1, at: "a"),
            .tooLong(maximum: 2, at: "a"), .tooManyItems(maximum: 1, count: 2, at: "a"), .below(0, at: "a"),
            .above(1, at: "a"), .pattern("p", at: "a"), .unparsable(detail: "d"), .notAnObject, .noMessages,
            .emptyContent(message: 0), .emptyText(in: "system"), .unansweredToolUse(message: 0, ids: ["t"]),
            .blankStopSequence, .temperatureWithThinking, .thinkingWithForcedTool, .budgetNotBelowMaxTokens,
            .duplicateToolNames, .toolChoiceWithoutTools, .toolChoiceNamesNoTool("t"),
            .maxTokensAboveModel(2, cap: 1, model: "m"), .assistantFirst, .prefillUnsupported,
            .thinkingUnsupported(model: "m"), .unknownModel("m"),
        ]
        for refusal in samples {
            #expect(!refusal.source.isEmpty && !refusal.message.isEmpty)
            #expect(APIError(refusal).status == refusal.status)
        }
        #expect(Refusal.notOneOf(["a", "b", "c"], at: "x").message == "x: Input should be 'a', 'b' or 'c'")
        #expect(Refusal.unknownModel("m").status == 404)
    }

    @Test(arguments: [
        ("{", "There was an error parsing the body of your request: unexpected end of input at byte 1"),
        ("[1]", "Input should be a valid dictionary or object to extract fields from"),
        ("", "There was an error parsing the body of your request: the body is empty"),
    ])
    func bodiesThatAreNotObjects(_ text: String, _ message: String) {
        #expect(throws: APIError.invalidRequest(message)) { try RequestValidator.parseBody(Array(text.utf8)) }
    }
}

/// The last user turn's text: one reading, two names for its two uses.
@Suite("Last user text")
struct LastUserTextTests {
    static let body =
        #"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":[{"type":"text","text":"Sunny"},{"type":"text","text":"21 C"}]},{"type":"text","text":"and tomorrow?"},{"type":"text","text":"in Oslo"}]}]}"#

    static func request(_ text: String) throws -> MessagesRequest {
        try RequestValidator().validateShape(try RequestValidator.parseBody(Array(text.utf8)), endpoint: .messages)
    }

    @Test func typedTextLeavesToolResultsOutAndJoinsWithNewlines() throws {
        let request = try Self.request(Self.body)
        #expect(request.lastUserText == "and tomorrow?\nin Oslo")
        #expect(request.lastUserTextWithToolResults == "Sunny\n21 C\nand tomorrow?\nin Oslo")
        // The raw-body reading (fixtures, listings) agrees with the validated one.
        #expect(MessagesRequest.lastUserText(in: try JSONParser.parse(Array(Self.body.utf8))) == request.lastUserText)
    }

    @Test(arguments: [
        (#"{"messages":[{"role":"user","content":"Hello"}]}"#, "Hello"),
        (#"{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Yes?"}]}"#, "Hi"),
        (
            #"{"messages":[{"role":"user","content":[{"type":"image","source":{}},{"type":"text","text":"a"},{"type":"text","text":7}]}]}"#,
            "a"
        ),
        (#"{"messages":[{"role":"assistant","content":"only me"}]}"#, ""),
        (#"{"messages":"not a list"}"#, ""),
        (#"[1,2]"#, ""),
    ])
    func rawBodiesOfAnyShape(_ text: String, _ expected: String) throws {
        #expect(MessagesRequest.lastUserText(in: try JSONParser.parse(Array(text.utf8))) == expected)
    }
}
