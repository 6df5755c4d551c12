import Cassette
import MessagesAPI
import TapedeckTestSupport
import Testing

@Suite("Normalization for matching")
struct MatchNormalizerTests {
    static let claudeCode = RequestMatcher(
        ignoredPaths: Fingerprint.defaultIgnoredPaths, normalizer: .identity.adding(.claudeCode))

    func parsed(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    func fingerprint(_ body: String, _ matcher: RequestMatcher) throws -> Fingerprint {
        matcher.fingerprint(method: "POST", path: "/v1/messages", body: try parsed(body))
    }

    @Test(arguments: [false, true])
    func twoClaudeCodeRunsMatchUnderTheProfileOnly(systemEntry: Bool) throws {
        let first = ClaudeCodeRun.first.body(systemEntry: systemEntry)
        let second = ClaudeCodeRun.second.body(systemEntry: systemEntry)
        #expect(try fingerprint(first, Self.claudeCode) == fingerprint(second, Self.claudeCode))
        #expect(try fingerprint(first, .standard) != fingerprint(second, .standard))
        // The conversation itself still counts.
        var other = ClaudeCodeRun.second
        other.prompt = "Say goodbye in one word."
        #expect(try fingerprint(first, Self.claudeCode) != fingerprint(other.body(systemEntry: systemEntry), Self.claudeCode))
    }

    @Test func bothFormsOfTheUserIDAreIgnoredByDefault() throws {
        var legacy = ClaudeCodeRun.first
        legacy.legacyUserID = true
        let legacyJSON = try parsed(legacy.body())
        let json = try parsed(ClaudeCodeRun.first.body())
        #expect(legacyJSON["metadata"]?["user_id"]?.stringValue?.hasPrefix("user_") == true)
        #expect(json["metadata"]?["user_id"]?.stringValue?.hasPrefix(#"{"device_id""#) == true)
        // Only the user id differs between these two.
        #expect(try fingerprint(legacy.body(), .standard) == fingerprint(ClaudeCodeRun.first.body(), .standard))
        #expect(RequestMatcher.standard.comparable(legacyJSON)["metadata"] == nil)
    }

    /// Each rule of the profile, on the kind of text it is for (`scaffolding`: a system prompt or reminder).
    @Test(arguments: [
        ("x-anthropic-billing-header: cc_version=2.1.332.1c9; cc_entrypoint=sdk-cli", false, "x-anthropic-billing-header: <normalized>"),
        ("session 3f6c1d2e-8a4b-4c9d-9e7f-1A2B3C4D5E6F.", false, "session <uuid>."),
        ("not a uuid: 3f6c1d2e-8a4b-4c9d-9e7f-1a2b3c4d5e6fa", false, "not a uuid: 3f6c1d2e-8a4b-4c9d-9e7f-1a2b3c4d5e6fa"),
        ("read /tmp/tmp.Xq3vB7kP2a/src/a.py now", false, "read <tmp>/src/a.py now"),
        ("in /tmp/pytest-of-root/pytest-12/test_cli0/out.txt", false, "in <tmp>/test_cli0/out.txt"),
        ("at /private/var/folders/x1/abc_123/T/tmpq2w3e4/f", false, "at <tmp>/f"),
        ("`/var/folders/x1/abc_123/T/`", false, "`<tmp>/`"),
        ("see /home/alice/.claude and /Users/bob/src, /root/x, /root", false, "see ~/.claude and ~/src, ~/x, ~"),
        ("relative tmp/x and /tmpfile and /rooted stay", false, "relative tmp/x and /tmpfile and /rooted stay"),
        (
            "<system-reminder>Today's date is 2026-12-01.</system-reminder>", false,
            "<system-reminder>Today's date is <date>.</system-reminder>"
        ),
        ("started 2026-12-01T09:41:07.512Z, ended 2026-12-01 10:00:00+01:00", true, "started <date>, ended <date>"),
        ("a prompt about 2026-12-01", false, "a prompt about 2026-12-01"),
        ("model claude-opus-4-20250514", true, "model claude-opus-4-20250514"),
        ("Recent commits:\n9fceb02 Initial commit\ndeadbeef", true, "Recent commits:\n<hash> Initial commit\ndeadbeef"),
        ("abc1234 in a prompt", false, "abc1234 in a prompt"),
        (" - OS Version: Linux 6.8.0-1019-gcp\n - Shell: bash", true, " - OS Version: <os>\n - Shell: bash"),
        ("naïve café /tmp/tmp.é1/x ✓", false, "naïve café <tmp>/x ✓"),
    ])
    func profileRule(text: String, scaffolding: Bool, expected: String) throws {
        let body: JSONValue =
            scaffolding
            ? ["system": .string(text)] : ["messages": [["role": "user", "content": .string(text)]]]
        let normalized = MatchNormalizer.identity.adding(.claudeCode).normalize(body)
        let result = scaffolding ? normalized["system"] : normalized["messages"]?.arrayValue?.first?["content"]
        #expect(result?.stringValue == expected)
    }

    @Test(arguments: [false, true])
    func theWorkingDirectoryIsReplacedWhereverItAppears(systemEntry: Bool) throws {
        var run = ClaudeCodeRun.first
        run.directory = "/srv/build/checkout-7f/project"
        run.prompt = "Read /srv/build/checkout-7f/project/README.md"
        let normalized = Self.claudeCode.comparable(try parsed(run.body(systemEntry: systemEntry)))
        let text = JSONWriter.string(normalized)
        #expect(!text.contains("/srv/build"))
        #expect(!text.contains("-srv-build-checkout-7f-project"))
        #expect(text.contains("Primary working directory: <cwd>"))
        #expect(text.contains("Read <cwd>/README.md"))
        #expect(text.contains("~/.claude/projects/<cwd-slug>/<uuid>.jsonl"))
        #expect(text.contains("Scratchpad directory: <scratchpad>"))
        #expect(text.contains("persistent memory at `~/.claude/projects/<cwd-slug>/memory/`"))
    }

    @Test func userRulesRewriteStringsWithGroups() throws {
        let normalizer = try MatchNormalizer(rules: [#"build-([a-z]+)-[0-9]+=>build-$1-N"#, "secret=>hidden"])
        let body: JSONValue = ["messages": [["role": "user", "content": "build-linux-4411 has a secret"]], "build-x-1": 3]
        let normalized = normalizer.normalize(body)
        #expect(normalized["messages"]?.arrayValue?.first?["content"] == "build-linux-N has a hidden")
        // Keys and other values stay as they are.
        #expect(normalized["build-x-1"] == 3)
        #expect(normalizer.normalize(["n": "nothing to do"]) == ["n": "nothing to do"])
    }

    @Test func rulesRunBeforeTheProfile() throws {
        let normalizer = try MatchNormalizer(rules: ["job-[0-9]+=>job"], profile: .claudeCode)
        let body: JSONValue = ["messages": [["role": "user", "content": "job-17 in /tmp/tmp.abc"]]]
        #expect(normalizer.normalize(body)["messages"]?.arrayValue?.first?["content"] == "job in <tmp>")
        #expect(try MatchNormalizer(rules: [], profile: .plain).isIdentity)
    }

    @Test(arguments: [
        ("no-arrow", "needs the form 'REGEX=>REPLACEMENT'"),
        ("=>x", "empty regular expression"),
        ("([a-z=>x", "is not a valid regular expression"),
    ])
    func badRulesAreRefusedNamingTheFlag(rule: String, words: String) {
        let error = #expect(throws: MatchNormalizer.RuleError.self) { try MatchNormalizer(rules: [rule]) }
        #expect(error?.description.hasPrefix("--match-normalize '\(rule)'") == true)
        #expect(error?.description.contains(words) == true)
    }

    @Test func importedLinesWithoutAFingerprintCanBeMatchedTheSameWay() throws {
        let line = #"{"method":"POST","path":"/v1/messages","request":{"body":\#(ClaudeCodeRun.first.body())},"response":{"body":{}}}"#
        let imported = try InteractionCodec.decode(line, line: 1, matcher: Self.claudeCode)
        #expect(try imported.fingerprint == fingerprint(ClaudeCodeRun.second.body(), Self.claudeCode).hex)
        #expect(try InteractionCodec.decode(line, line: 1).fingerprint != imported.fingerprint)
        #expect(imported.requestBody == Array(ClaudeCodeRun.first.body().utf8), "the request is kept as written")
    }

    @Test func theIdentityReturnsTheBodyUntouched() throws {
        let body = try parsed(ClaudeCodeRun.first.body())
        #expect(MatchNormalizer.identity.isIdentity)
        #expect(MatchNormalizer.identity.normalize(body) == body)
        #expect(RequestMatcher.standard.comparable(body) == body.removing(Fingerprint.defaultIgnoredPaths))
    }
}
