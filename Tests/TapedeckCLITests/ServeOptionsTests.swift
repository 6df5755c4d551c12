import Cassette
import MessagesAPI
import TapedeckCLI
import TapedeckServer
import Testing

@Suite("serve: flags, environment and defaults")
struct ServeOptionsTests {
    func resolve(_ arguments: [String], _ environment: [String: String] = [:]) throws -> TapedeckConfiguration {
        let command = try Serve.parse(arguments)
        return try command.options.resolve(environment: environment)
    }

    @Test func defaultsMatchTheContract() throws {
        let c = try resolve([])
        #expect(c.mode == .replay)
        #expect(c.host == "127.0.0.1")
        #expect(c.port == 4010)
        #expect(c.upstream == "https://api.anthropic.com")
        #expect(c.cassettePath == "cassettes/default.sqlite")
        #expect(c.pace == .instant)
        #expect(c.onMiss == .synthesize)
        #expect(c.maxBodyBytes == 32 * 1024 * 1024)
    }

    @Test func batchDelayComesFromTheFlagOrTheEnvironment() throws {
        #expect(try resolve([]).batchDelay == 0)
        #expect(try resolve(["--batch-delay", "3"], ["TAPEDECK_BATCH_DELAY": "5"]).batchDelay == 3)
        #expect(try resolve([], ["TAPEDECK_BATCH_DELAY": "5"]).batchDelay == 5)
        #expect(throws: (any Error).self) { try resolve(["--batch-delay", "-1"]) }
    }

    @Test func onMissDefaultsToErrorInCI() throws {
        #expect(try resolve([], ["CI": "true"]).onMiss == .error)
        #expect(try resolve(["--on-miss", "synthesize"], ["CI": "true"]).onMiss == .synthesize)
    }

    @Test func flagsBeatEnvironmentWhichBeatsDefaults() throws {
        let environment = ["TAPEDECK_PORT": "5000", "TAPEDECK_CASSETTE": "env.sqlite", "TAPEDECK_PACE": "recorded", "TAPEDECK_SPEED": "4"]
        let fromEnvironment = try resolve([], environment)
        #expect(fromEnvironment.port == 5000)
        #expect(fromEnvironment.cassettePath == "env.sqlite")
        #expect(fromEnvironment.pace == .recorded)
        #expect(fromEnvironment.speed == 4)
        let fromFlags = try resolve(["--port", "6000", "--cassette", "flag.sqlite"], environment)
        #expect(fromFlags.port == 6000)
        #expect(fromFlags.cassettePath == "flag.sqlite")
    }

    @Test func matchIgnoreAddsToTheDefaults() throws {
        let c = try resolve(["--match-ignore", "temperature", "--match-ignore", "messages[0].content"])
        #expect(c.ignoredPaths.map(\.description) == ["stream", "metadata.user_id", "temperature", "messages[0].content"])
        #expect(try resolve([], ["TAPEDECK_MATCH_IGNORE": "a, b.c"]).matchIgnore.map(\.description) == ["a", "b.c"])
    }

    @Test func matchProfileAndNormalizersComeFromFlagsOrTheEnvironment() throws {
        #expect(try resolve([]).matchProfile == nil, "automatic: Claude Code's requests get its profile")
        #expect(try resolve(["--match-profile", "claude-code"]).matchProfile == .claudeCode)
        #expect(try resolve([], ["TAPEDECK_MATCH_PROFILE": "none"]).matchProfile == .plain)
        let rules = ["a{1,2}=>b", "x=>y"]
        #expect(try resolve(["--match-normalize", rules[0], "--match-normalize", rules[1]]).matchNormalize == rules)
        // One rule a line in the environment, since a rule may hold commas.
        #expect(try resolve([], ["TAPEDECK_MATCH_NORMALIZE": "a{1,2}=>b\nx=>y\n"]).matchNormalize == rules)
        #expect(try resolve(["--match-normalize", "q=>r"], ["TAPEDECK_MATCH_NORMALIZE": "x=>y"]).matchNormalize == ["q=>r"])
    }

    @Test func upstreamKeyComesFromTheEnvironment() throws {
        #expect(try resolve([], ["ANTHROPIC_API_KEY": "k1"]).upstreamKey == "k1")
        #expect(try resolve([], ["ANTHROPIC_API_KEY": "k1", "TAPEDECK_UPSTREAM_KEY": "k2"]).upstreamKey == "k2")
    }

    @Test func recordingInCIRequiresExplicitPermission() throws {
        #expect(throws: ServeOptions.Problem.self) { try resolve(["--mode", "record"], ["CI": "true"]) }
        #expect(throws: ServeOptions.Problem.self) { try resolve([], ["CI": "true", "TAPEDECK_MODE": "auto"]) }
        #expect(try resolve(["--mode", "record", "--allow-upstream-in-ci"], ["CI": "true"]).mode == .record)
        #expect(try resolve(["--mode", "record"], [:]).mode == .record)
    }

    @Test(arguments: [
        (["--mode", "tape"], "Unknown mode 'tape'"),
        (["--on-miss", "maybe"], "Unknown --on-miss 'maybe'"),
        (["--pace", "slow"], "Unknown --pace 'slow'"),
        (["--speed", "0"], "--speed must be from 0.01 to 1000"),
        (["--speed", "1e-30"], "--speed must be from 0.01 to 1000"),
        (["--port", "70000"], "out of range"),
        (["--log-level", "loud"], "Unknown --log-level 'loud'"),
        (["--idle-timeout", "0"], "--idle-timeout must be at least 1 second"),
        (["--match-profile", "codex"], "Unknown --match-profile 'codex': use claude-code or none"),
    ])
    func badValuesSayWhatToDo(_ arguments: [String], _ expected: String) throws {
        #expect {
            try resolve(arguments)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func helpListsEveryFlag() {
        let help = Serve.helpMessage()
        for flag in [
            "--mode", "--cassette", "--upstream", "--host", "--port", "--on-miss", "--pace", "--speed",
            "--match-ignore", "--redact-header", "--redact", "--max-body", "--idle-timeout", "--log-level", "--allow-upstream-in-ci",
        ] {
            #expect(help.contains(flag), "\(flag) missing from help")
        }
        #expect(help.contains("TAPEDECK_MODE"))
    }

    @Test func aHostOffLoopbackNeedsAnAdminToken() throws {
        #expect(throws: ServeOptions.Problem.self) { try resolve(["--host", "0.0.0.0"]) }
        #expect(try resolve(["--host", "0.0.0.0", "--admin-token", "t"]).adminToken == "t")
        #expect(try resolve(["--host", "0.0.0.0"], ["TAPEDECK_ADMIN_TOKEN": "e"]).adminToken == "e")
        #expect(try resolve(["--host", "0.0.0.0", "--insecure-admin"]).adminToken == nil)
        for host in ["127.0.0.1", "localhost", "::1", "127.0.0.2"] { _ = try resolve(["--host", host]) }
    }

    @Test func serverFaultsAndLimitsResolve() throws {
        let c = try resolve([
            "--fault", "overloaded;retry_after_ms=10", "--fault-rate", "0.2", "--fault-seed", "7",
            "--max-connections", "8", "--journal-size", "50", "--cassette-dir", "tests/cassettes",
        ])
        #expect(c.fault?.faults.error?.status == 529 && c.fault?.rate == 0.2 && c.fault?.seed == 7)
        #expect(c.maxConnections == 8 && c.journalSize == 50 && c.resolvedCassetteDirectory == "tests/cassettes")
        #expect(try resolve(["--cassette", "/tmp/x/y.sqlite"]).resolvedCassetteDirectory == "/tmp/x")
        #expect(try resolve([]).resolvedCassetteDirectory == "cassettes")
        #expect(try resolve(["--fault", "overloaded"], ["TAPEDECK_FAULT_COUNT": "3"]).fault?.count == 3)
        #expect(throws: ServeOptions.Problem.self) { try resolve(["--fault", "explode"]) }
        #expect(throws: ServeOptions.Problem.self) { try resolve(["--fault-rate", "0.5"]) }
        #expect(throws: ServeOptions.Problem.self) { try resolve(["--fault", "overloaded", "--fault-rate", "2"]) }
        #expect(throws: ServeOptions.Problem.self) { try resolve(["--max-connections", "0"]) }
    }
}

@Suite("serve: hardening flags")
struct HardeningFlagTests {
    func resolve(_ arguments: [String], _ environment: [String: String] = [:]) throws -> TapedeckConfiguration {
        try Serve.parse(arguments).options.resolve(environment: environment)
    }

    @Test func defaultsAreTheDocumentedOnes() throws {
        let c = try resolve([])
        #expect(c.maxOpenCassettes == 64 && c.maxRecordingBytes == 64 * 1024 * 1024)
        #expect(c.shutdownGrace == 5 && c.upstreamReadTimeout == 600)
    }

    @Test func flagsAndVariablesSetThem() throws {
        let c = try resolve(
            ["--max-open-cassettes", "8", "--max-recording-bytes", "1000", "--shutdown-grace", "0", "--upstream-read-timeout", "2"])
        #expect(c.maxOpenCassettes == 8 && c.maxRecordingBytes == 1000 && c.shutdownGrace == 0 && c.upstreamReadTimeout == 2)
        let e = try resolve(
            [], ["TAPEDECK_MAX_OPEN_CASSETTES": "3", "TAPEDECK_SHUTDOWN_GRACE": "9", "TAPEDECK_UPSTREAM_READ_TIMEOUT": "30"])
        #expect(e.maxOpenCassettes == 3 && e.shutdownGrace == 9 && e.upstreamReadTimeout == 30)
    }

    /// NIO's time amounts trap on overflow: a timeout of 10^14 seconds must be refused, not accepted.
    @Test(arguments: [
        (["--idle-timeout", "99999999999999"], "--idle-timeout must be at most 86400 seconds"),
        (["--upstream-read-timeout", "86401"], "--upstream-read-timeout must be at most 86400 seconds"),
        (["--shutdown-grace=-1"], "--shutdown-grace must be at least 0"),
        (["--max-open-cassettes", "0"], "--max-open-cassettes must be at least 1"),
        (["--fault", ";"], "--fault: no fault given"),
        (["--fault", "tps=1e-30"], "--fault: tps needs a rate from 0.01"),
    ])
    func outOfRangeValuesAreRefusedWithWhatToDo(arguments: [String], message: String) {
        #expect { try resolve(arguments) } throws: { "\($0)".contains(message) }
    }
}
