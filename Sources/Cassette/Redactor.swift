public import MessagesAPI

/// Replaces secrets in bodies before they are stored, and in incoming requests before they are matched,
/// so a redacted cassette still replays.
public struct Redactor: Sendable {
    /// What every match becomes.
    public static let placeholder = "[REDACTED]"

    /// Request headers never stored, whatever the configuration says.
    public static let secretHeaders: Set<String> = ["authorization", "x-api-key", "cookie", "proxy-authorization", "set-cookie"]

    let patterns: [String]
    let headerNames: Set<String>

    /// Why a pattern was refused.
    public struct PatternError: Error, CustomStringConvertible {
        public let description: String
    }

    /// - Parameters:
    ///   - patterns: Regular expressions to replace in bodies.
    ///   - headers: Extra header names (any case) never stored.
    public init(patterns: [String] = [], headers: [String] = []) throws(PatternError) {
        for pattern in patterns {
            do { _ = try Regex(pattern) } catch {
                throw PatternError(description: "--redact '\(pattern)' is not a valid regular expression: \(error)")
            }
        }
        self.patterns = patterns
        self.headerNames = Self.secretHeaders.union(headers.map { $0.lowercased() })
    }

    public var isEmpty: Bool { patterns.isEmpty }

    /// Whether a header must never be stored or logged.
    public func isSecret(header name: String) -> Bool { headerNames.contains(name.lowercased()) }

    /// `text` with every match replaced.
    public func redact(_ text: String) -> String {
        var result = text
        for pattern in patterns {
            // Compiled per call: Regex is not Sendable, and redaction only runs when patterns are configured.
            guard let regex = try? Regex(pattern) else { continue }
            result = result.replacing(regex, with: Self.placeholder)
        }
        return result
    }

    /// A copy of `value` with matches replaced inside every string (keys included), so the JSON stays valid.
    public func redact(_ value: JSONValue) -> JSONValue {
        guard !patterns.isEmpty else { return value }
        switch value {
        case .string(let s): return .string(redact(s))
        case .array(let items): return .array(items.map(redact))
        case .object(let object): return .object(JSONObject(object.entries.map { (redact($0.key), redact($0.value)) }))
        default: return value
        }
    }

    /// Raw bytes with matches replaced when they are UTF-8 text; other bytes are returned unchanged.
    public func redact(bytes: [UInt8]) -> [UInt8] {
        guard !patterns.isEmpty, let text = String(validating: bytes, as: UTF8.self) else { return bytes }
        return Array(redact(text).utf8)
    }
}
