public import MessagesAPI

/// Which tool a synthesized `tool_choice: auto` turn calls: the one the person's words point at, or none.
///
/// A coin flip would make an agent's first turn call a tool at random and give a chat-only prompt a tool call
/// it never asked for; reading the prompt makes the choice predictable from the test itself ("what's the
/// weather in Paris?" with a `get_weather` tool calls it, "say hello" does not).
public enum ToolPicker {
    /// The tool `text` names, or whose description `text` echoes, first in the request's order; `nil` if none.
    ///
    /// A tool is named when its name appears as a word (`get_weather`, `Read`), or one of its name's distinctive
    /// parts does (`weather` for `get_weather`, `search` for `WebSearch`). A short description (at most twelve
    /// distinctive words: five letters or more, not common English) is echoed when one of them appears, or two
    /// for more than four. A long description (an agent's manual for the tool, like Claude Code's) shares a
    /// couple of words with almost any prompt ("short", "sentence"), so only the tool's name counts there.
    public static func tool(namedIn text: String, among tools: [MessagesRequest.Tool]) -> MessagesRequest.Tool? {
        guard !text.isEmpty, !tools.isEmpty else { return nil }
        let words = Set(Self.words(of: text))
        if let named = tools.first(where: { isNamed($0.name, words: words) }) { return named }
        var best: (tool: MessagesRequest.Tool, score: Int)?
        for tool in tools {
            let keywords = Set(Self.words(of: tool.description ?? "").filter { $0.count >= 5 && !common.contains($0) })
            guard !keywords.isEmpty, keywords.count <= 12 else { continue }
            let score = keywords.intersection(words).count
            guard score >= (keywords.count <= 4 ? 1 : 2) else { continue }
            if score > best?.score ?? 0 { best = (tool, score) }
        }
        return best?.tool
    }

    static func isNamed(_ name: String, words: Set<String>) -> Bool {
        if words.contains(name.lowercased()) { return true }
        return Self.words(of: name).contains { $0.count >= 4 && !common.contains($0) && words.contains($0) }
    }

    /// Lowercase words of letters and digits: `_`, `-`, punctuation and a lower-to-upper case step separate
    /// words (`get_weather`, `WebSearch` and "web search" all give two).
    static func words(of text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previousWasLower = false
        for ch in text {
            guard ch.isLetter || ch.isNumber else {
                if !current.isEmpty { words.append(current.lowercased()) }
                current = ""
                previousWasLower = false
                continue
            }
            if ch.isUppercase, previousWasLower, !current.isEmpty {
                words.append(current.lowercased())
                current = ""
            }
            current.append(ch)
            previousWasLower = ch.isLowercase
        }
        if !current.isEmpty { words.append(current.lowercased()) }
        return words
    }

    /// Words too common in prompts and tool descriptions to say which tool is meant.
    static let common: Set<String> = [
        "about", "above", "after", "again", "allow", "allows", "along", "always", "another", "answer", "based",
        "before", "being", "below", "between", "call", "calls", "could", "current", "currently", "default", "every",
        "example", "first", "following", "given", "guide", "input", "instead", "items", "later", "least", "might",
        "never", "other", "output", "people", "please", "provide", "provided", "query", "question", "request",
        "result", "results", "return", "returns", "should", "since", "something", "specific", "specified", "string",
        "their", "there", "these", "thing", "things", "think", "those", "through", "under", "until", "useful",
        "value", "values", "where", "which", "while", "within", "without", "would", "write", "users",
        // Parts of agents' tool names that say nothing of the tool (AskUserQuestion, ExitPlanMode, ListAgents).
        "tool", "tools", "user", "mode", "list", "exit", "plan", "todo",
    ]
}
