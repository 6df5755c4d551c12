import TapedeckCLI
import TapedeckServer
import Testing

@Suite("serve: --clock and --rate-limit")
struct ServeRealismOptionsTests {
    func resolve(_ arguments: [String], _ environment: [String: String] = [:]) throws -> TapedeckConfiguration {
        try Serve.parse(arguments).options.resolve(environment: environment)
    }

    @Test func defaultsAreAWallClockAndAGenerousUnenforcedBudget() throws {
        let c = try resolve([])
        #expect(c.clock == .wall && c.rateLimit == .generous && c.rateLimit?.isEnforced == false)
    }

    @Test func flagsAndVariablesSetThem() throws {
        let c = try resolve(["--clock", "manual", "--rate-limit", "rpm=5,otpm=100"])
        #expect(c.clock == .manual)
        #expect(c.rateLimit?.requestsPerMinute == 5 && c.rateLimit?.outputTokensPerMinute == 100 && c.rateLimit?.isEnforced == true)
        let e = try resolve([], ["TAPEDECK_CLOCK": "manual", "TAPEDECK_RATE_LIMIT": "off"])
        #expect(e.clock == .manual && e.rateLimit == nil)
    }

    @Test func mistakesSayWhatToDo() {
        #expect(throws: ServeOptions.Problem.self) { try resolve(["--rate-limit", "rpm=fast"]) }
        #expect(throws: (any Error).self) { try resolve(["--clock", "sundial"]) }
    }
}
