public import MessagesAPI

/// The one token estimator Tapedeck uses for `usage.input_tokens`, `count_tokens` and output accounting, so
/// `count_tokens(request) == usage.input_tokens` always holds.
///
/// Rule: a run of letters or digits costs one token per six characters (rounded up); every other visible
/// character (punctuation, symbols, each CJK or emoji scalar) costs one; whitespace is free.
public enum TokenEstimator {
    public static func count(_ text: String) -> Int {
        var tokens = 0
        var run = 0
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                tokens += (run + 5) / 6
                run = 0
            } else if isWordScalar(scalar) {
                run += 1
            } else {
                tokens += (run + 5) / 6 + 1
                run = 0
            }
        }
        return tokens + (run + 5) / 6
    }

    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
        }
        // Letters of alphabetic scripts group like ASCII; ideographs and symbols count one each.
        return scalar.properties.isAlphabetic && !scalar.properties.isIdeographic
    }

    /// Tokens for the prompt of a request: system, messages, tools, with small fixed overheads per part.
    public static func inputTokens(for request: MessagesRequest) -> Int {
        var total = 3
        if !request.system.isEmpty { total += 3 + count(request.system) }
        for message in request.messages {
            total += 4
            for block in message.blocks { total += tokens(inBlock: block) }
        }
        if !request.tools.isEmpty {
            total += 280
            for tool in request.tools {
                total += 6 + count(tool.name) + count(tool.description ?? "")
                if let schema = tool.inputSchema { total += count(JSONWriter.string(schema)) }
            }
        }
        if request.thinking != .disabled { total += 10 }
        return total
    }

    static func tokens(inBlock block: JSONObject) -> Int {
        switch block["type"]?.stringValue {
        case "text": return count(block["text"]?.stringValue ?? "")
        case "thinking": return count(block["thinking"]?.stringValue ?? "")
        case "redacted_thinking": return 40
        case "tool_use":
            return 8 + count(block["name"]?.stringValue ?? "") + count(JSONWriter.string(block["input"] ?? .null))
        case "tool_result":
            var total = 6
            switch block["content"] {
            case .string(let s)?: total += count(s)
            case .array(let items)?:
                for item in items { if let object = item.objectValue { total += tokens(inBlock: object) } }
            default: break
            }
            return total
        case "image":
            // A flat cost, as a mid-sized image has on the real API; base64 length is not what is billed.
            return 1_568
        case "document":
            if let data = block["source"]?["data"]?.stringValue, block["source"]?["type"] == "text" {
                return 10 + count(data)
            }
            return 2_000
        default:
            return count(JSONWriter.string(.object(block)))
        }
    }
}
