import Cassette
import HTTPTypes
import MessagesAPI

/// How this server matches requests, built once from its configuration: the matcher `--match-ignore`,
/// `--match-normalize` and `--match-profile` describe, and, unless a profile was chosen, the same with the Claude
/// Code profile added for requests whose `user-agent` is `claude-cli/…`.
struct Matching: Sendable {
    let configured: RequestMatcher
    /// For Claude Code's requests; `nil` when `--match-profile` names a profile (it then applies to every request).
    let claudeCode: RequestMatcher?

    static let claudeCodeAgent = "claude-cli/"

    /// Compiles the configuration's rules; a bad one is refused with the flag's name.
    init(_ configuration: TapedeckConfiguration) throws(ConfigurationError) {
        let normalizer: MatchNormalizer
        do {
            normalizer = try MatchNormalizer(rules: configuration.matchNormalize, profile: configuration.matchProfile)
        } catch {
            throw ConfigurationError(.invalidMatchNormalizer, error.description)
        }
        configured = RequestMatcher(ignoredPaths: configuration.ignoredPaths, normalizer: normalizer)
        claudeCode =
            configuration.matchProfile == nil
            ? RequestMatcher(ignoredPaths: configuration.ignoredPaths, normalizer: normalizer.adding(.claudeCode)) : nil
    }

    /// The matcher for a request with these headers.
    func matcher(for headers: HTTPFields) -> RequestMatcher {
        guard let claudeCode, isClaudeCode(headers) else { return configured }
        return claudeCode
    }

    /// Whether a request with these headers is matched with the Claude Code profile added.
    func isClaudeCode(_ headers: HTTPFields) -> Bool {
        claudeCode != nil && headers[.userAgent]?.hasPrefix(Self.claudeCodeAgent) == true
    }
}
