import Crypto
public import MessagesAPI

#if canImport(FoundationEssentials)
import FoundationEssentials  // Data's base64 without the rest of Foundation
#else
import Foundation
#endif

/// The part of a synthesized turn the API's own tools play: `web_search`, `web_fetch` and `code_execution`
/// (every dated version SDK 2.10 lists) run inside the turn, as `server_tool_use` blocks each followed by its
/// result block, before the answer's text; a search is cited by the text that follows it.
///
/// Everything is derived from the request: queries from the person's words, stable fake URLs under
/// `example.com`, titles, `encrypted_content`, fetched pages and stdout. A tool runs when the turn's tool
/// choice forces it (`any`, or its name) or the person's words point at it; `max_uses` caps the calls, and the
/// call past it gets the API's `max_uses_exceeded` error result.
public enum ServerToolTurn {
    /// A server tool the request declares.
    struct Declared {
        enum Kind { case webSearch, webFetch, codeExecution, bashCodeExecution }
        var kind: Kind
        var name: String
        var maxUses: Int?
    }

    /// Plays the declared server tools into `message`, if any runs; a message that calls a client tool, or
    /// was cut short, is left as it is.
    /// - Parameters:
    ///   - message: The synthesized answer, before its usage is final.
    ///   - request: The validated request.
    ///   - fingerprint: Seeds ids, URLs and opaque strings.
    public static func apply(to message: inout Message, request: MessagesRequest, fingerprint: Fingerprint) {
        // Typed tools have no input schema: a request with none (nearly all) costs this one scan.
        guard request.tools.contains(where: { $0.inputSchema == nil }), message.stopReason == "end_turn",
            !request.endsWithToolResult
        else { return }
        let declared = (request.body["tools"]?.arrayValue ?? []).compactMap(declaration)
        let topic = request.lastUserText
        let running = declared.filter { runs($0, choice: request.toolChoice, topic: topic) }
        guard !running.isEmpty else { return }

        var blocks: [ContentBlock] = []
        var searches = 0
        var fetches = 0
        var outputTokens = 0
        var citations: [JSONValue] = []
        for tool in running {
            for (n, input) in inputs(for: tool, topic: topic).enumerated() {
                let id = Identifier.make(prefix: "srvtoolu_", seed: fingerprint.bytes, label: "\(tool.name)\(n)")
                blocks.append(.serverToolUse(.init(id: id, name: callName(tool), input: input, extra: ["caller": ["type": "direct"]])))
                outputTokens += 8 + TokenEstimator.count(JSONWriter.string(input))
                let withinLimit = tool.maxUses.map { n < $0 } ?? true
                let result = result(for: tool, input: input, id: id, fingerprint: fingerprint, ok: withinLimit)
                blocks.append(.other(result))
                guard withinLimit else { continue }
                switch tool.kind {
                case .webSearch:
                    searches += 1
                    if let first = result["content"]?.arrayValue?.first {
                        citations.append([
                            "type": "web_search_result_location", "cited_text": .string(citedText(topic)),
                            "url": first["url"] ?? .null, "title": first["title"] ?? .null,
                            "encrypted_index": .string(opaque(fingerprint, label: "index\(n)", length: 48)),
                        ])
                    }
                case .webFetch: fetches += 1
                case .codeExecution, .bashCodeExecution: break
                }
            }
        }
        if !citations.isEmpty {
            let cited = "According to the sources found, \(citedText(topic))"
            blocks.append(.text(.init(text: cited, citations: citations)))
            outputTokens += TokenEstimator.count(cited)
        }
        // The calls spend output tokens too: a turn whose `max_tokens` has no room for them answers without them.
        if let maxTokens = request.maxTokens, outputTokens > maxTokens - message.usage.outputTokens { return }
        // Thinking stays first; the tools run before the answer's own text.
        let thinkingCount = message.content.prefix { if case .text = $0 { false } else { true } }.count
        message.content.insert(contentsOf: blocks, at: thinkingCount)
        message.usage.outputTokens += outputTokens
        if declared.contains(where: { $0.kind == .webSearch || $0.kind == .webFetch }) {
            message.usage.serverToolUse = ["web_search_requests": .int(searches), "web_fetch_requests": .int(fetches)]
        }
    }

    static func declaration(_ tool: JSONValue) -> Declared? {
        guard let type = tool["type"]?.stringValue, let name = tool["name"]?.stringValue else { return nil }
        let kind: Declared.Kind
        if type.hasPrefix("web_search_") {
            kind = .webSearch
        } else if type.hasPrefix("web_fetch_") {
            kind = .webFetch
        } else if type == "code_execution_20250522" {
            kind = .codeExecution
        } else if type.hasPrefix("code_execution_") {
            // From 20250825 on, code runs as bash commands with results of their own type.
            kind = .bashCodeExecution
        } else {
            return nil
        }
        return Declared(kind: kind, name: name, maxUses: tool["max_uses"]?.intValue.map { max(0, $0) })
    }

    static func runs(_ tool: Declared, choice: MessagesRequest.ToolChoice, topic: String) -> Bool {
        switch choice {
        case .none: return false
        case .any: return true
        case .tool(let name): return name == tool.name
        case .auto:
            let words = topic.lowercased()
            let cues: [String] =
                switch tool.kind {
                case .webSearch: ["search", "look up", "latest", "news", "web"]
                case .webFetch: ["http://", "https://", "fetch"]
                case .codeExecution, .bashCodeExecution: ["run ", "execute", "calculate", "compute", "python", "code"]
                }
            return cues.contains { words.contains($0) }
        }
    }

    /// The name the call goes by: bash-era code execution calls `bash_code_execution`.
    static func callName(_ tool: Declared) -> String {
        tool.kind == .bashCodeExecution ? "bash_code_execution" : tool.name
    }

    /// Each call's input: two searches (the question, then a narrower one), a fetch per URL named (at least
    /// one), one program run.
    static func inputs(for tool: Declared, topic: String) -> [JSONValue] {
        let query = String(words(topic).prefix(8).joined(separator: " "))
        switch tool.kind {
        case .webSearch:
            return [
                ["query": .string(query.isEmpty ? "tapes" : query)], ["query": .string((query.isEmpty ? "tapes" : query) + " overview")],
            ]
        case .webFetch:
            let urls = topic.split(whereSeparator: \.isWhitespace).map(String.init)
                .filter { $0.hasPrefix("http://") || $0.hasPrefix("https://") }.prefix(2)
            return (urls.isEmpty ? ["https://example.com/\(slug(query))"] : Array(urls)).map { ["url": .string($0)] }
        case .codeExecution:
            return [["code": .string("print(\(JSONWriter.string(.string(query))))")]]
        case .bashCodeExecution:
            return [["command": .string("python3 -c 'print(\(JSONWriter.string(.string(query.replacingQuotes))))'")]]
        }
    }

    static func result(for tool: Declared, input: JSONValue, id: String, fingerprint: Fingerprint, ok: Bool) -> JSONObject {
        let query = input["query"]?.stringValue ?? input["url"]?.stringValue ?? ""
        switch tool.kind {
        case .webSearch:
            guard ok else {
                return [
                    "type": "web_search_tool_result", "tool_use_id": .string(id),
                    "content": ["type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"],
                ]
            }
            let results: [JSONValue] = (0..<3).map { i in
                let title = "\(titleCase(query)): \(["a guide", "notes", "an overview"][i])"
                return [
                    "type": "web_search_result", "title": .string(title),
                    "url": .string("https://\(["docs", "notes", "wiki"][i]).example.com/\(slug(query))"),
                    "encrypted_content": .string(opaque(fingerprint, label: "\(query)\(i)", length: 96)),
                    "page_age": .string(["2 days ago", "1 week ago", "March 3, 2026"][i]),
                ]
            }
            return ["type": "web_search_tool_result", "tool_use_id": .string(id), "content": .array(results)]
        case .webFetch:
            guard ok else {
                return [
                    "type": "web_fetch_tool_result", "tool_use_id": .string(id),
                    "content": ["type": "web_fetch_tool_result_error", "error_code": "max_uses_exceeded"],
                ]
            }
            let page = "This page describes \(query). It is a stand-in page served by Tapedeck."
            return [
                "type": "web_fetch_tool_result", "tool_use_id": .string(id),
                "content": [
                    "type": "web_fetch_result", "url": .string(query), "retrieved_at": "2026-01-01T00:00:00Z",
                    "content": [
                        "type": "document", "title": .string(titleCase(slug(query).replacingDashes)),
                        "source": ["type": "text", "media_type": "text/plain", "data": .string(page)],
                    ],
                ],
            ]
        case .codeExecution, .bashCodeExecution:
            let bash = tool.kind == .bashCodeExecution
            let type = bash ? "bash_code_execution" : "code_execution"
            guard ok else {
                return [
                    "type": .string("\(type)_tool_result"), "tool_use_id": .string(id),
                    "content": ["type": .string("\(type)_tool_result_error"), "error_code": "too_many_requests"],
                ]
            }
            let printed = words(JSONWriter.string(input)).prefix(8).joined(separator: " ")
            return [
                "type": .string("\(type)_tool_result"), "tool_use_id": .string(id),
                "content": [
                    "type": .string("\(type)_result"), "stdout": .string(printed + "\n"), "stderr": "", "return_code": 0,
                    "content": [],
                ],
            ]
        }
    }

    /// What the cited sentence quotes: the person's words, briefly.
    static func citedText(_ topic: String) -> String {
        let kept = words(topic).prefix(10).joined(separator: " ")
        return (kept.isEmpty ? "tapes" : kept) + " is covered in detail."
    }

    static func words(_ text: String) -> [String] {
        text.split { !($0.isLetter || $0.isNumber) }.map(String.init).filter { !$0.hasPrefix("http") }
    }

    static func slug(_ text: String) -> String {
        let slug = words(text.lowercased()).prefix(6).joined(separator: "-")
        return slug.isEmpty ? "page" : slug
    }

    static func titleCase(_ text: String) -> String {
        text.split(separator: " ").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " ")
    }

    /// Opaque base64, as the API's `encrypted_*` fields are, derived from the fingerprint.
    static func opaque(_ fingerprint: Fingerprint, label: String, length: Int) -> String {
        Synthesizer.opaque(fingerprint, label: label, length: length)
    }
}

extension String {
    fileprivate var replacingQuotes: String { replacing("'", with: "") }
    fileprivate var replacingDashes: String { replacing("-", with: " ") }
}
