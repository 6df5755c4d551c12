import Foundation
import TapedeckTestSupport
import Testing

@testable import TapedeckTesting

@Suite("withTapedeck")
struct WithTapedeckTests {
    @Test func replaysARecordingThroughHTTP() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = try demoCassette(in: directory)
            let recording = try #require(try await firstRecording(in: cassette))
            let reply = try await withTapedeck(cassette: cassette, mode: .replay) { baseURL in
                #expect(baseURL.host == "127.0.0.1")
                #expect(baseURL.port != 4010)
                return try await post(baseURL, recording.path, body: recording.requestBody)
            }
            #expect(reply.status == recording.status)
            #expect(reply.header("tapedeck-source") == "recorded")
            #expect(reply.body == recording.responseBody)
        }
    }

    @Test func aCassetteCanBeAFileURL() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = URL(fileURLWithPath: try demoCassette(in: directory))
            let recording = try #require(try await firstRecording(in: cassette.path))
            let reply = try await withTapedeck(cassette: cassette, mode: .replay) { baseURL in
                try await post(baseURL, recording.path, body: recording.requestBody)
            }
            #expect(reply.body == recording.responseBody)
            let remote = try #require(URL(string: "https://example.com/c.sqlite"))
            let error = await #expect(throws: TapedeckTestingError.self) {
                try await withTapedeck(cassette: remote, mode: .replay) { _ in Issue.record("the body ran") }
            }
            #expect(error?.description.contains("not a file URL") == true)
        }
    }

    @Test func aMissIsThe404AndFailsTheScopeWithItsExplanation() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = try demoCassette(in: directory)
            let seen = Shared<Reply?>(nil)
            // The body swallows the 404 and returns: the scope still throws.
            let error = await #expect(throws: TapedeckTestingError.self) {
                try await withTapedeck(cassette: cassette, mode: .replay) { baseURL in
                    let reply = try await post(baseURL, "/v1/messages", body: scenarioRequest("never recorded", stream: false))
                    seen.update { $0 = reply }
                }
            }
            let reply = try #require(seen.current)
            #expect(reply.status == 404)
            #expect(String(decoding: reply.body, as: UTF8.self).contains("not_found_error"))
            #expect(error?.code == .unansweredRequests)
            #expect(error?.description.contains("1 request(s) matched nothing in \(cassette)") == true)
            #expect(error?.description.contains("POST /v1/messages: no recorded interaction matches; closest differs at") == true)
        }
    }

    @Test func synthesisAnswersAMissWithoutFailingTheScope() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = try demoCassette(in: directory)
            let reply = try await withTapedeck(cassette: cassette, mode: .replay, configure: { $0.onMiss = .synthesize }) { baseURL in
                try await post(baseURL, "/v1/messages", body: scenarioRequest("never recorded", stream: false))
            }
            #expect(reply.status == 200)
            #expect(reply.header("tapedeck-source") == "synthesized")
        }
    }

    @Test func recordsFromTheUpstreamThenReplaysOffline() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = directory.file("Cassettes/recorded.sqlite")  // record makes the folder
            let request = scenarioRequest("text", stream: true)
            let recorded = try await FakeUpstream.withRunning { fake, upstream in
                // The environment is given, not read: under CI=true (as CI runs) record mode would be refused.
                let configuration = try TapedeckConfiguration.testing(
                    cassette: cassette, mode: .record, upstream: upstream, relativeTo: #filePath, environment: [:]
                ) { _ in }
                let reply = try await withTapedeck(configuration) { baseURL in
                    try await post(baseURL, "/v1/messages", body: request)
                }
                #expect(fake.requests.count == 1)
                return reply
            }
            #expect(recorded.status == 200)
            #expect(recorded.header("tapedeck-source") == "proxied")
            // The upstream is gone: this answer can only come from the cassette.
            let replayed = try await withTapedeck(cassette: cassette, mode: .replay) { baseURL in
                try await post(baseURL, "/v1/messages", body: request)
            }
            #expect(replayed.status == 200)
            #expect(replayed.header("tapedeck-source") == "recorded")
            #expect(replayed.body == recorded.body)
            #expect(!replayed.body.isEmpty)
        }
    }

    @Test func theServerIsStoppedAfterTheScope() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = try demoCassette(in: directory)
            let baseURL = try await withTapedeck(cassette: cassette, mode: .replay) { baseURL in
                let status = try await health(baseURL)
                #expect(status == 200)
                return baseURL
            }
            await #expect(throws: (any Error).self) { try await health(baseURL) }
        }
    }

    @Test func anErrorFromTheBodyPropagatesAndStopsTheServer() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = try demoCassette(in: directory)
            let seen = Shared<URL?>(nil)
            await #expect(throws: Planted()) {
                try await withTapedeck(cassette: cassette, mode: .replay) { baseURL in
                    seen.update { $0 = baseURL }
                    let status = try await health(baseURL)
                    #expect(status == 200)
                    throw Planted()
                }
            }
            let baseURL = try #require(seen.current)
            await #expect(throws: (any Error).self) { try await health(baseURL) }
        }
    }

    @Test func cancellingTheTaskStopsTheServer() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = try demoCassette(in: directory)
            let seen = Shared<URL?>(nil)
            let running = Gate()
            let task = Task {
                try await withTapedeck(cassette: cassette, mode: .replay) { baseURL in
                    seen.update { $0 = baseURL }
                    running.open()
                    // Ends only by cancellation.
                    try await Task.sleep(for: .seconds(3600))
                }
            }
            await running.wait()
            let baseURL = try #require(seen.current)
            let status = try await health(baseURL)
            #expect(status == 200)
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            await #expect(throws: (any Error).self) { try await health(baseURL) }
        }
    }

    @Test func aMissingCassetteIsAClearError() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = directory.file("typo.sqlite")
            let error = await #expect(throws: TapedeckTestingError.self) {
                try await withTapedeck(cassette: cassette, mode: .replay) { _ in Issue.record("the body ran") }
            }
            #expect(error?.code == .missingCassette)
            #expect(error?.description.contains(cassette) == true)
            #expect(!FileManager.default.fileExists(atPath: cassette))
        }
    }

    @Test func aFileThatIsNotACassetteIsTheServersError() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = directory.file("notes.sqlite")
            try Data("not a database, just notes".utf8).write(to: URL(fileURLWithPath: cassette))
            let error = await #expect(throws: ConfigurationError.self) {
                try await withTapedeck(cassette: cassette, mode: .replay) { _ in Issue.record("the body ran") }
            }
            #expect(error?.code == .unusableCassette)
        }
    }

    @Test func aPortInUseIsThrownNotAwaitedForever() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = try demoCassette(in: directory)
            try await withTapedeck(cassette: cassette, mode: .replay) { baseURL in
                let port = try #require(baseURL.port)
                var configuration = try TapedeckConfiguration.testing(
                    cassette: cassette, mode: .replay, upstream: nil, relativeTo: #filePath, environment: [:]
                ) { $0.port = port }
                configuration.logLevel = .critical
                await #expect(throws: (any Error).self) {
                    try await withTapedeck(configuration) { _ in Issue.record("the body ran") }
                }
            }
        }
    }

    @Test func concurrentScopesGetDistinctPorts() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = try demoCassette(in: directory)
            let started = Shared(0)
            let bothRunning = Gate()
            let ports = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        try await withTapedeck(cassette: cassette, mode: .replay) { baseURL in
                            if started.update({ count in
                                count += 1
                                return count == 2
                            }) {
                                bothRunning.open()
                            }
                            // Both servers are up at once here, each answering on its own port.
                            await bothRunning.wait()
                            let status = try await health(baseURL)
                            #expect(status == 200)
                            return try #require(baseURL.port)
                        }
                    }
                }
                return try await group.reduce(into: Set<Int>()) { $0.insert($1) }
            }
            #expect(ports.count == 2)
        }
    }
}

@Suite("withTapedeck's configuration")
struct TestingConfigurationTests {
    @Test func defaultsAreForTests() throws {
        let configuration = try TapedeckConfiguration.testing(
            cassette: "/tmp/absent.sqlite", mode: .auto, upstream: nil, relativeTo: #filePath, environment: [:]
        ) { _ in }
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 0)
        #expect(configuration.onMiss == .error)
        #expect(configuration.mode == .auto)
        #expect(configuration.upstream == TapedeckConfiguration().upstream)
        #expect(configuration.upstreamKey == nil)
    }

    @Test func theEnvironmentPicksModeUpstreamAndKey() throws {
        let environment = [
            "TAPEDECK_MODE": "record", "TAPEDECK_UPSTREAM": "http://127.0.0.1:9", "ANTHROPIC_API_KEY": "sk-from-env",
        ]
        let configuration = try TapedeckConfiguration.testing(
            cassette: "/tmp/absent.sqlite", mode: nil, upstream: nil, relativeTo: #filePath, environment: environment
        ) { _ in }
        #expect(configuration.mode == .record)
        #expect(configuration.upstream == "http://127.0.0.1:9")
        #expect(configuration.upstreamKey == "sk-from-env")
        let explicit = try TapedeckConfiguration.testing(
            cassette: "/tmp/absent.sqlite", mode: .auto, upstream: "http://127.0.0.1:10", relativeTo: #filePath,
            environment: environment
        ) { _ in }
        #expect(explicit.mode == .auto)
        #expect(explicit.upstream == "http://127.0.0.1:10")
    }

    @Test func anUnknownModeIsRefused() {
        let error = #expect(throws: TapedeckTestingError.self) {
            try TapedeckConfiguration.testing(
                cassette: "/tmp/absent.sqlite", mode: nil, upstream: nil, relativeTo: #filePath,
                environment: ["TAPEDECK_MODE": "none"]
            ) { _ in }
        }
        #expect(error?.code == .unknownMode)
    }

    @Test(arguments: [TapedeckConfiguration.Mode.record, .auto])
    func ciRefusesTheUpstreamUnlessAllowed(mode: TapedeckConfiguration.Mode) throws {
        let error = #expect(throws: TapedeckTestingError.self) {
            try TapedeckConfiguration.testing(
                cassette: "/tmp/absent.sqlite", mode: mode, upstream: nil, relativeTo: #filePath,
                environment: ["CI": "true"]
            ) { _ in }
        }
        #expect(error?.code == .upstreamInCI)
        let allowed = try TapedeckConfiguration.testing(
            cassette: "/tmp/absent.sqlite", mode: mode, upstream: nil, relativeTo: #filePath,
            environment: ["CI": "true", "TAPEDECK_ALLOW_UPSTREAM_IN_CI": "true"]
        ) { _ in }
        #expect(allowed.mode == mode)
    }

    @Test func configureHasTheLastWord() throws {
        let configuration = try TapedeckConfiguration.testing(
            cassette: "/tmp/absent.sqlite", mode: .record, upstream: nil, relativeTo: #filePath, environment: [:]
        ) {
            $0.onMiss = .synthesize
            $0.matchIgnore = []
        }
        #expect(configuration.onMiss == .synthesize)
    }

    @Test func aRelativeCassetteIsFoundBesideTheTestFile() {
        let resolved = TapedeckConfiguration.resolve("../../cassettes/demo.sqlite", relativeTo: #filePath)
        #expect(FileManager.default.fileExists(atPath: resolved))
        #expect(TapedeckConfiguration.resolve("/abs/c.sqlite", relativeTo: #filePath) == "/abs/c.sqlite")
    }

    @Test func aWildcardHostIsReachedThroughLoopback() {
        var configuration = TapedeckConfiguration()
        #expect(configuration.connectableHost == "127.0.0.1")
        configuration.host = "0.0.0.0"
        #expect(configuration.connectableHost == "127.0.0.1")
        configuration.host = "::"
        #expect(configuration.connectableHost == "[::1]")
        configuration.host = "::1"
        #expect(configuration.connectableHost == "[::1]")
    }
}
