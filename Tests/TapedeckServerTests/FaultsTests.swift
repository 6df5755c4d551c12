import MessagesAPI
import Testing

@testable import TapedeckServer

@Suite("Faults: parsing and seeded schedules")
struct FaultsTests {
    @Test func parsesKindsParametersAndTimingTogether() throws {
        let faults = try Faults(
            parsing: " rate_limit;retry_after_ms=10;should_retry=false;message=Slow%20down%2C%20please , tps=40,slow_first_byte=400")
        let error = try #require(faults.error)
        #expect(error.status == 429 && error.type == "rate_limit_error")
        #expect(error.retryAfterMilliseconds == "10" && error.retryAfter == nil && error.shouldRetry == false)
        #expect(error.message == "Slow down, please")
        #expect(faults.tokensPerSecond == 40 && faults.slowFirstByte == 400)
        #expect(
            faults.description
                == "rate_limit;retry_after_ms=10;should_retry=false;message=Slow%20down%2C%20please, tps=40, slow_first_byte=400")
    }

    @Test func streamKindsTakeTheirDefaults() throws {
        #expect(
            try Faults(parsing: "midstream_error;after=3").breakOff
                == .midstreamError(after: 3, type: "overloaded_error", message: "Overloaded"))
        #expect(try Faults(parsing: "disconnect;bytes=12").breakOff == .disconnect(afterEvents: nil, afterBytes: 12))
        #expect(try Faults(parsing: "disconnect").breakOff == .disconnect(afterEvents: 0, afterBytes: nil))
        #expect(try Faults(parsing: "stall=250;after=2").stall.map { [$0.milliseconds, $0.after] } == [250, 2])
        #expect(try Faults(parsing: "rate_limit").error?.retryAfter == "1", "a 429 carries retry-after unless told otherwise")
    }

    @Test(arguments: [
        ("explode", "unknown fault kind 'explode'"),
        ("overloaded;colour=red", "unknown parameter 'colour' for 'overloaded'"),
        ("overloaded;retry_after=soon", "overloaded retry_after must be a non-negative number, not 'soon'"),
        ("overloaded;should_retry=maybe", "should_retry must be true or false"),
        ("tps=0", "tps needs a rate from 0.01 to 1000000"),
        ("tps=1e-30", "tps needs a rate from 0.01 to 1000000"),
        ("tps=5e-324", "tps needs a rate from 0.01 to 1000000"),
        ("tps=1e308", "tps needs a rate from 0.01 to 1000000"),
        (";", "no fault given"),
        (";;", "no fault given"),
        (",;,", "no fault given"),
        (" ; , ;", "no fault given"),
        ("latency", "latency needs a value in milliseconds"),
        ("overloaded, api_error", "only one error kind per request"),
        ("disconnect;after=1;bytes=2", "not both"),
        ("overloaded=3", "'overloaded' takes no value"),
        ("", "no fault given"),
    ])
    func refusesWhatItCannotDo(text: String, reason: String) {
        #expect {
            try Faults(parsing: text)
        } throws: { error in
            guard let error = error as? APIError else { return false }
            return error.status == 400 && error.type == "invalid_request_error" && error.message.contains(reason)
        }
    }

    @Test func aSeededRatePicksTheSameRequestsWhateverTheOrder() throws {
        let plan = FaultPlan(faults: try Faults(parsing: "overloaded"), rate: 0.3, seed: 7)
        let fingerprints = (0..<200).map { Fingerprint(method: "POST", path: "/v1/messages", body: .string("request \($0)"), ignoring: []) }
        func picked(_ order: [Fingerprint]) -> Set<String> {
            let schedule = FaultSchedule(plan: plan)
            return Set(order.filter { schedule.draw(for: $0) != nil }.map(\.hex))
        }
        let forward = picked(fingerprints)
        #expect(forward == picked(fingerprints.reversed()))
        #expect((40...80).contains(forward.count), "about 30% of 200: \(forward.count)")
        var other = plan
        other.seed = 8
        let schedule = FaultSchedule(plan: other)
        #expect(Set(fingerprints.filter { schedule.draw(for: $0) != nil }.map(\.hex)) != forward)
    }

    @Test func aRetryOfAPickedRequestGetsAFreshDraw() throws {
        let schedule = FaultSchedule(plan: FaultPlan(faults: try Faults(parsing: "overloaded"), rate: 0.5, seed: 1))
        let fingerprint = Fingerprint(method: "POST", path: "/v1/messages", body: .string("same"), ignoring: [])
        let draws = (0..<64).map { _ in schedule.draw(for: fingerprint) != nil }
        #expect(draws.contains(true) && draws.contains(false))
    }

    @Test func aCountRunsOut() throws {
        let schedule = FaultSchedule(plan: FaultPlan(faults: try Faults(parsing: "api_error"), count: 2))
        let fingerprint = Fingerprint(method: "GET", path: "/v1/models", body: nil, ignoring: [])
        #expect((0..<4).map { _ in schedule.draw(for: fingerprint) != nil } == [true, true, false, false])
    }

    @Test(arguments: [
        "..", "../x", "a/b", "/etc/passwd", ".hidden", "default", "", "%2e%2e", String(repeating: "a", count: 201), "a\u{0}b",
    ])
    func cassetteNamesCannotLeaveTheDirectory(name: String) {
        #expect(throws: APIError.self) { try Shelf.validate(name) }
    }

    @Test func ordinaryCassetteNamesAreFine() throws {
        for name in ["test_login", "suite.case-1", "A1"] { try Shelf.validate(name) }
    }

    @Test func theJournalRingKeepsTheNewest() {
        var ring = Ring<Int>()
        for i in 1...7 { ring.append(i, capacity: 3) }
        #expect(ring.items == [5, 6, 7])
    }
}
