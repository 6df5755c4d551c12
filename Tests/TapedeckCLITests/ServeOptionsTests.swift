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
        (["--speed", "0"], "--speed must be a positive number"),
        (["--port", "70000"], "out of range"),
        (["--log-level", "loud"], "Unknown --log-level 'loud'"),
        (["--idle-timeout", "0"], "--idle-timeout must be at least 1 second"),
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
        for flag in ["--mode", "--cassette", "--upstream", "--host", "--port", "--on-miss", "--pace", "--speed",
            "--match-ignore", "--redact-header", "--redact", "--max-body", "--idle-timeout", "--log-level", "--allow-upstream-in-ci"]
        {
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
        let c = try resolve(["--fault", "overloaded;retry_after_ms=10", "--fault-rate", "0.2", "--fault-seed", "7",
            "--max-connections", "8", "--journal-size", "50", "--cassette-dir", "tests/cassettes"])
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
