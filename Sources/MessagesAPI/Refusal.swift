/// Everything Tapedeck refuses in a Messages API request body: one case per rule, each with the API's own text
/// and the source that shows the real API refuses it. This is the only place validation texts are written, and
/// a rule belongs here only when the real API is known to refuse it; what is merely new (a beta field with its
/// beta on, a request naming a beta this build does not know) is accepted.
///
/// Sources are tagged as in `messages-api.md`: CAP#id (real wire bytes quoted in a public fixture), ISS (a public
/// issue quoting the API), PY (the anthropic 2.10.0 wheel's types, which mirror the API's pydantic models).
public enum Refusal: Error, Sendable, Hashable {
    // The API validates bodies with pydantic and answers in its words, prefixed with the JSON path.
    /// `<path>: Field required`
    case missing(_ path: String)
    /// `<path>: Extra inputs are not permitted`: an unknown field, or a beta field without its beta.
    case extraInput(_ path: String)
    /// `<path>: Input should be a valid <kind>`
    case notA(_ kind: String, at: String)
    /// `<path>: Input should be 'a', 'b' or 'c'`
    case notOneOf(_ values: [String], at: String)
    /// `<path>: Input tag 'x' found using 'type' does not match any of the expected tags: 'a', 'b'`
    case unknownTag(_ tag: String, expected: [String], at: String)
    /// `<path>: Unable to extract tag using discriminator 'type'`
    case noTag(at: String)
    /// `<path>: String should have at least <n> character(s)`
    case tooShort(minimum: Int, at: String)
    /// `<path>: String should have at most <n> characters`
    case tooLong(maximum: Int, at: String)
    /// `<path>: List should have at most <n> items after validation, not <count>`
    case tooManyItems(maximum: Int, count: Int, at: String)
    /// `<path>: Input should be greater than or equal to <n>`
    case below(_ minimum: Int, at: String)
    /// `<path>: Input should be less than or equal to <n>`
    case above(_ maximum: Int, at: String)
    /// `<path>: String should match pattern '<pattern>'`
    case pattern(_ pattern: String, at: String)

    // The body itself.
    case unparsable(detail: String)
    case notAnObject

    // The API's own rules, in its own words.
    case noMessages
    case emptyContent(message: Int)
    /// `<where>: text content blocks must be non-empty` (`messages` or `system`).
    case emptyText(in: String)
    case unansweredToolUse(message: Int, ids: [String])
    case blankStopSequence
    case temperatureWithThinking
    case thinkingWithForcedTool
    case budgetNotBelowMaxTokens
    case duplicateToolNames
    case toolChoiceWithoutTools
    case toolChoiceNamesNoTool(_ name: String)
    case maxTokensAboveModel(_ maxTokens: Int, cap: Int, model: String)
    case assistantFirst
    case prefillUnsupported
    case thinkingUnsupported(model: String)
    case unknownModel(_ name: String)

    public var status: Int {
        if case .unknownModel = self { return 404 }
        return 400
    }

    /// The error message, as the API words it.
    public var message: String {
        switch self {
        case .missing(let path): "\(path): Field required"
        case .extraInput(let path): "\(path): Extra inputs are not permitted"
        case .notA(let kind, let path): "\(path): Input should be a valid \(kind)"
        case .notOneOf(let values, let path): "\(path): Input should be \(Self.alternatives(values))"
        case .unknownTag(let tag, let expected, let path):
            "\(path): Input tag '\(tag)' found using 'type' does not match any of the expected tags: "
                + expected.map { "'\($0)'" }.joined(separator: ", ")
        case .noTag(let path): "\(path): Unable to extract tag using discriminator 'type'"
        case .tooShort(let n, let path): "\(path): String should have at least \(n) character\(n == 1 ? "" : "s")"
        case .tooLong(let n, let path): "\(path): String should have at most \(n) characters"
        case .tooManyItems(let n, let count, let path): "\(path): List should have at most \(n) items after validation, not \(count)"
        case .below(let n, let path): "\(path): Input should be greater than or equal to \(n)"
        case .above(let n, let path): "\(path): Input should be less than or equal to \(n)"
        case .pattern(let pattern, let path): "\(path): String should match pattern '\(pattern)'"
        case .unparsable(let detail): "There was an error parsing the body of your request: \(detail)"
        case .notAnObject: "Input should be a valid dictionary or object to extract fields from"
        case .noMessages: "messages: at least one message is required"
        case .emptyContent(let i):
            "messages.\(i): all messages must have non-empty content except for the optional final assistant message"
        case .emptyText(let place): "\(place): text content blocks must be non-empty"
        case .unansweredToolUse(let i, let ids):
            "messages.\(i): `tool_use` ids were found without `tool_result` blocks immediately after: \(ids.joined(separator: ", ")). Each `tool_use` block must have a corresponding `tool_result` block in the next message."
        case .blankStopSequence: "stop_sequences: each stop sequence must contain non-whitespace"
        case .temperatureWithThinking: "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode"
        case .thinkingWithForcedTool: "Thinking may not be enabled when tool_choice forces tool use."
        case .budgetNotBelowMaxTokens:
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
        case .duplicateToolNames: "tools: Tool names must be unique."
        case .toolChoiceWithoutTools: "tool_choice may only be specified while providing tools."
        case .toolChoiceNamesNoTool(let name): "tool_choice: Tool '\(name)' not found in tools"
        case .maxTokensAboveModel(let n, let cap, let model):
            "max_tokens: \(n) > \(cap), which is the maximum allowed number of output tokens for \(model)"
        case .assistantFirst: "messages: first message must use the \"user\" role"
        case .prefillUnsupported:
            "This model does not support assistant message prefill. The conversation must end with a user message."
        case .thinkingUnsupported(let model): "thinking: \(model) does not support extended thinking"
        case .unknownModel(let name): "model: \(name)"
        }
    }

    /// Why Tapedeck may refuse this: where the real API is seen refusing it.
    public var source: String {
        switch self {
        case .missing: "ISS github.com/tickernelz/opencode-mem/issues/50 (max_tokens: Field required)"
        case .extraInput:
            "CAP#66518704925 (max_tokens on count_tokens, verified against the live API); CAP#52557844740 (beta field without its beta)"
        case .notA, .notOneOf, .unknownTag, .noTag, .tooShort, .tooLong, .tooManyItems, .below, .above, .pattern:
            "PY types/*_param.py (the field's type, Literal or constraint); pydantic's message texts; CAP#5645962990 (tool name pattern)"
        case .unparsable, .notAnObject: "DOC-ERR invalid_request_error for a body that is not a JSON object"
        case .noMessages: "CAP#1618505617"
        case .emptyContent, .emptyText: "CAP#58870677777"
        case .unansweredToolUse: "CAP#10514787016"
        case .blankStopSequence: "ISS (stop_sequences of whitespace refused; wording from the API)"
        case .temperatureWithThinking: "CAP#53336500892, CAP#61301819538"
        case .thinkingWithForcedTool: "ISS github.com/mastra-ai/mastra/issues/7507"
        case .budgetNotBelowMaxTokens: "ISS github.com/ProfSynapse/nexus/issues/17"
        case .duplicateToolNames, .toolChoiceWithoutTools, .toolChoiceNamesNoTool: "EXP (the API's tool rules)"
        case .maxTokensAboveModel: "ISS github.com/anthropics/claude-code/issues/11302"
        case .assistantFirst: "CAP#8978731182"
        case .prefillUnsupported: "CAP#58597933198; PY docstring of `messages`"
        case .thinkingUnsupported: "DOC thinking: models without extended thinking"
        case .unknownModel: "CAP-PAI:test_anthropic_count_tokens_error"
        }
    }

    /// `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`: pydantic's list of literals.
    static func alternatives(_ values: [String]) -> String {
        let quoted = values.map { "'\($0)'" }
        guard let last = quoted.last, quoted.count > 1 else { return quoted.first ?? "" }
        return quoted.dropLast().joined(separator: ", ") + " or " + last
    }
}

extension APIError {
    /// The API's error for a refused request.
    public init(_ refusal: Refusal) {
        self = refusal.status == 404 ? .notFound(refusal.message) : .invalidRequest(refusal.message)
    }
}
