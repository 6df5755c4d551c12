import Foundation
public import MessagesAPI

/// Replaces secrets in bodies before they are stored, and in incoming requests before they are matched,
/// so a redacted cassette still replays.
public struct Redactor: Sendable {
    /// What every match becomes.
    public static let placeholder = "[REDACTED]"

    /// Request headers never stored, whatever the configuration says.
    public static let secretHeaders: Set<String> = ["authorization", "x-api-key", "cookie", "proxy-authorization", "set-cookie"]

    /// Query parameters whose values are never stored: keys put in a URL reach the cassette otherwise.
    public static let secretQueryParameters: Set<String> = [
        "api_key", "apikey", "api-key", "key", "token", "access_token", "x-api-key", "auth", "authorization",
        "password", "secret", "client_secret",
    ]

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

    /// A query string as stored: secret parameters' values replaced, then the patterns applied. Order, names
    /// and every other value stay as sent, so the stored query still reads as the request's.
    public func redact(query: String) -> String {
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let eq = pair.firstIndex(of: "=") else { return String(pair) }
            let name = String(pair[..<eq]).removingPercentEncoding?.lowercased() ?? String(pair[..<eq]).lowercased()
            guard Self.secretQueryParameters.contains(name) else { return String(pair) }
            return pair[..<eq] + "=%5BREDACTED%5D"
        }
        return redact(pairs.joined(separator: "&"))
    }

    /// Raw bytes with matches replaced when they are UTF-8 text; other bytes are returned unchanged.
    public func redact(bytes: [UInt8]) -> [UInt8] {
        guard !patterns.isEmpty, let text = String(validating: bytes, as: UTF8.self) else { return bytes }
        return Array(redact(text).utf8)
    }
}
