import Foundation
public import MessagesAPI

/// A built-in set of normalization rules for one client whose requests carry values that change between runs.
public enum MatchProfile: String, Sendable, CaseIterable {
    /// Claude Code (`user-agent: claude-cli/…`): billing header, session ids, dates, working directories and temp paths.
    case claudeCode = "claude-code"
    /// No profile: requests are matched as sent (turns off the automatic Claude Code profile).
    case plain = "none"
}

/// Rewrites a request body before it is fingerprinted and before it is compared with stored requests for a miss
/// diagnostic, so values that change between runs (session ids, dates, temporary paths) do not make a miss. Never
/// applied to what a cassette stores: that is the request as sent (minus redactions).
///
/// Built once per server: user rules are compiled when it is made. A normalizer with nothing to do returns the body
/// untouched, so matching without a profile or rules costs nothing extra.
public struct MatchNormalizer: Sendable {
    /// One `--match-normalize 'REGEX=>REPLACEMENT'` rule.
    public struct Rule: Sendable {
        /// The rule as written.
        public let source: String
        // NSRegularExpression, not Swift's Regex: it is Sendable, so it is compiled once per server rather than per
        // call (as `Redactor` must), and its templates take `$1` references to groups.
        let expression: NSRegularExpression
        let template: String
    }

    /// Why a rule was refused, naming the flag and the rule.
    public struct RuleError: Error, CustomStringConvertible {
        public let description: String
    }

    public let rules: [Rule]
    /// The built-in profile applied after the rules, if any.
    public let profile: MatchProfile?

    /// A normalizer that changes nothing.
    public static let identity = MatchNormalizer(compiled: [], profile: nil)

    private init(compiled: [Rule], profile: MatchProfile?) {
        self.rules = compiled
        self.profile = profile == .plain ? nil : profile
    }

    /// - Parameters:
    ///   - rules: `REGEX=>REPLACEMENT` rules, applied in order to every string value; the replacement may use `$1`.
    ///   - profile: A built-in profile applied after them.
    public init(rules: [String], profile: MatchProfile? = nil) throws(RuleError) {
        var compiled: [Rule] = []
        for rule in rules {
            guard let arrow = rule.range(of: "=>") else {
                throw RuleError(description: "--match-normalize '\(rule)' needs the form 'REGEX=>REPLACEMENT'.")
            }
            let pattern = String(rule[..<arrow.lowerBound])
            guard !pattern.isEmpty else {
                throw RuleError(description: "--match-normalize '\(rule)' has an empty regular expression before '=>'.")
            }
            do {
                let expression = try NSRegularExpression(pattern: pattern)
                compiled.append(Rule(source: rule, expression: expression, template: String(rule[arrow.upperBound...])))
            } catch {
                throw RuleError(description: "--match-normalize '\(rule)': '\(pattern)' is not a valid regular expression.")
            }
        }
        self.init(compiled: compiled, profile: profile)
    }

    /// This normalizer with `profile` applied after its rules.
    public func adding(_ profile: MatchProfile) -> MatchNormalizer { MatchNormalizer(compiled: rules, profile: profile) }

    /// Whether it leaves every body as it is.
    public var isIdentity: Bool { rules.isEmpty && profile == nil }

    /// `body` as matching sees it: the rules applied to every string value (keys stay), then the profile.
    public func normalize(_ body: JSONValue) -> JSONValue {
        guard !isIdentity else { return body }
        var result = body
        if !rules.isEmpty { result = result.mappingStrings(apply) }
        if profile == .claudeCode { result = ClaudeCodeProfile.normalize(result) }
        return result
    }

    /// `text` with every rule applied in order.
    func apply(_ text: String) -> String {
        var result = text
        for rule in rules {
            let range = NSRange(result.startIndex..., in: result)
            // Most strings match no rule: skip the copy a replacement makes.
            guard rule.expression.firstMatch(in: result, range: range) != nil else { continue }
            result = rule.expression.stringByReplacingMatches(in: result, range: range, withTemplate: rule.template)
        }
        return result
    }
}

/// How requests are compared with recordings: the paths left out, then the normalizer. One value per server (or
/// per kind of client), used for the fingerprint of a request and for both sides of a miss diagnostic.
public struct RequestMatcher: Sendable {
    public var ignoredPaths: [JSONPath]
    public var normalizer: MatchNormalizer

    /// The defaults: `stream` and `metadata.user_id` left out, nothing normalized.
    public static let standard = RequestMatcher(ignoredPaths: Fingerprint.defaultIgnoredPaths, normalizer: .identity)

    public init(ignoredPaths: [JSONPath], normalizer: MatchNormalizer = .identity) {
        self.ignoredPaths = ignoredPaths
        self.normalizer = normalizer
    }

    /// `body` as it is compared: ignored paths removed (first, so nothing is normalized only to be dropped), then
    /// normalized.
    public func comparable(_ body: JSONValue) -> JSONValue {
        normalizer.normalize(body.removing(ignoredPaths))
    }

    /// The fingerprint of a request as this matcher sees it.
    public func fingerprint(method: String, path: String, body: JSONValue?) -> Fingerprint {
        Fingerprint(method: method, path: path, body: body.map(comparable), ignoring: [])
    }
}

extension JSONValue {
    /// A copy with `transform` applied to every string value (object keys are left as they are).
    func mappingStrings(_ transform: (String) -> String) -> JSONValue {
        switch self {
        case .string(let s): .string(transform(s))
        case .array(let items): .array(items.map { $0.mappingStrings(transform) })
        case .object(let object): .object(JSONObject(object.entries.map { ($0.key, $0.value.mappingStrings(transform)) }))
        default: self
        }
    }
}
