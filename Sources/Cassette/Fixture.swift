public import MessagesAPI

/// Loose matching for hand-written fixtures: `{"last_user": "text" | {"regex": "…"}, "model": "…", "tools": bool}`.
/// Every condition given must hold. Exact fingerprints always win over loose matchers.
public enum Fixture {
    static let keys: Set<String> = ["last_user", "model", "tools"]

    /// Checks a matcher's shape at import time, so mistakes surface with their line number.
    static func validate(_ matcher: JSONValue, line: Int) throws(InteractionCodec.DecodeError) {
        guard case .object(let object) = matcher, !object.isEmpty else {
            throw .init(line: line, reason: "match: expected an object with last_user, model or tools")
        }
        for key in object.keys where !keys.contains(key) {
            throw .init(line: line, reason: "match.\(key): unknown condition (use last_user, model or tools)")
        }
        if let last = object["last_user"] {
            if let pattern = last["regex"]?.stringValue {
                do { _ = try Regex(pattern) } catch {
                    throw .init(line: line, reason: "match.last_user.regex: not a valid regular expression")
                }
            } else if last.stringValue == nil {
                throw .init(line: line, reason: "match.last_user: expected a string or {\"regex\": …}")
            }
        }
        if let model = object["model"], model.stringValue == nil { throw .init(line: line, reason: "match.model: expected a string") }
        if let tools = object["tools"], tools.boolValue == nil { throw .init(line: line, reason: "match.tools: expected true or false") }
    }

    /// Whether `matcher` accepts a request body.
    public static func matches(_ matcher: JSONValue, body: JSONValue?) -> Bool {
        guard case .object(let conditions) = matcher, let body else { return false }
        if let model = conditions["model"]?.stringValue, body["model"]?.stringValue != model { return false }
        if let wantsTools = conditions["tools"]?.boolValue {
            let hasTools = !(body["tools"]?.arrayValue ?? []).isEmpty
            if hasTools != wantsTools { return false }
        }
        if let last = conditions["last_user"] {
            let text = lastUserText(body)
            if let pattern = last["regex"]?.stringValue {
                guard let regex = try? Regex(pattern), text.contains(regex) else { return false }
            } else if last.stringValue != text {
                return false
            }
        }
        return true
    }

    /// What the person typed in the last user turn of `body`: `MessagesRequest.lastUserText(in:)`, which says how.
    public static func lastUserText(_ body: JSONValue) -> String { MessagesRequest.lastUserText(in: body) }
}
