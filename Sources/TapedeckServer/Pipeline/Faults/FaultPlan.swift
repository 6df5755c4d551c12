import MessagesAPI
import Synchronization
import Synthesis

/// A server-wide fault (`--fault`, `POST /_tapedeck/faults`): for every API request, for the next `count`, or for
/// a deterministic fraction `rate` picked by `seed`.
public struct FaultPlan: Sendable {
    public var faults: Faults
    public var count: Int?
    public var rate: Double?
    public var seed: UInt64

    public init(faults: Faults, count: Int? = nil, rate: Double? = nil, seed: UInt64 = 0) {
        self.faults = faults
        self.count = count
        self.rate = rate
        self.seed = seed
    }

    /// `{"fault": SPEC, "count": N}` or `{"fault": SPEC, "rate": R, "seed": S}`, as `POST /_tapedeck/faults` and a
    /// cassette's settings take it.
    init(json body: JSONObject) throws(APIError) {
        guard let spec = body["fault"]?.stringValue else { throw .invalidRequest("fault: Field required") }
        self.init(faults: try Faults(parsing: spec))
        if let count = body["count"] {
            guard let n = count.intValue, n >= 0 else { throw .invalidRequest("count: Input should be a non-negative integer") }
            self.count = n
        }
        if let rate = body["rate"] {
            guard let r = rate.doubleValue, (0...1).contains(r) else {
                throw .invalidRequest("rate: Input should be between 0 and 1")
            }
            self.rate = r
        }
        if let seed = body["seed"] {
            guard let s = seed.intValue else { throw .invalidRequest("seed: Input should be a valid integer") }
            self.seed = UInt64(bitPattern: Int64(s))
        }
    }

    /// The setting as the admin API shows it; `remaining` is what is left of `count`.
    func json(remaining: Int?) -> JSONValue {
        var object: JSONObject = ["fault": .string(faults.description)]
        if let count { object["count"] = .int(count) }
        if let remaining { object["remaining"] = .int(remaining) }
        if let rate { object["rate"] = .number(JSONNumber(rate)) }
        if rate != nil { object["seed"] = .number(JSONNumber(literal: String(seed))) }
        return .object(object)
    }
}

/// The plan in force and what it has used up. A rate picks requests by a hash of the seed, the request's
/// fingerprint and how often that fingerprint was attempted, so the same seed picks the same requests on every
/// run whatever the order of unrelated requests, and a retry of a picked request gets a fresh draw.
final class FaultSchedule: Sendable {
    private struct State {
        var plan: FaultPlan?
        var remaining: Int?
        var attempts: [String: UInt64] = [:]
    }

    private let state: Mutex<State>

    init(plan: FaultPlan?) {
        state = Mutex(State(plan: plan, remaining: plan?.count))
    }

    /// Replaces the plan (`nil` clears it) and starts its count and draws afresh.
    func set(_ plan: FaultPlan?) {
        state.withLock { $0 = State(plan: plan, remaining: plan?.count) }
    }

    var json: JSONValue {
        state.withLock { state in
            guard let plan = state.plan else { return ["fault": .null] }
            return plan.json(remaining: state.remaining)
        }
    }

    /// The faults for this request, if the plan picks it.
    func draw(for fingerprint: Fingerprint) -> Faults? {
        state.withLock { state in
            guard let plan = state.plan else { return nil }
            if let remaining = state.remaining {
                guard remaining > 0 else { return nil }
                state.remaining = remaining - 1
            }
            guard let rate = plan.rate else { return plan.faults }
            let attempt = state.attempts[fingerprint.hex, default: 0]
            state.attempts[fingerprint.hex] = attempt + 1
            var generator = SeededGenerator(
                seed: fingerprint.seed ^ (plan.seed &* 0x9E37_79B9_7F4A_7C15) ^ (attempt &* 0xBF58_476D_1CE4_E5B9))
            let draw = Double(generator.next() >> 11) / Double(1 << 53)
            return draw < rate ? plan.faults : nil
        }
    }
}
