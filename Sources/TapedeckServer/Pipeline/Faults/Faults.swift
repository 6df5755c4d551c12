public import MessagesAPI

/// What a `tapedeck-fault` header (or `--fault`) asks for: at most one error answer, at most one way to break the
/// stream, and any timing. Written `KIND[;param=value...]` or `KIND=VALUE`, several joined by commas:
/// `overloaded;retry_after_ms=10`, `midstream_error;after=3`, `slow_first_byte=400, tps=40`.
public struct Faults: Sendable, Equatable, CustomStringConvertible {
    /// An error answered in place of the real answer.
    public struct ErrorAnswer: Sendable, Equatable {
        public var kind: String
        public var status: Int
        public var type: String
        public var message: String
        public var retryAfter: String?
        public var retryAfterMilliseconds: String?
        public var shouldRetry: Bool?
    }

    /// How a stream is broken off.
    public enum Break: Sendable, Equatable {
        /// After `after` events, an `event: error` of `type`, then the end.
        case midstreamError(after: Int, type: String, message: String)
        /// The connection closes after `afterEvents` events or `afterBytes` body bytes, with no end.
        case disconnect(afterEvents: Int?, afterBytes: Int?)
    }

    public var error: ErrorAnswer?
    public var breakOff: Break?
    /// A stop reason the answer ends with instead of its own (synthesized and fixture answers).
    public var stop: Stop?
    /// Milliseconds before the response (headers and body).
    public var latency: Int?
    /// Milliseconds between the headers and the first body byte.
    public var slowFirstByte: Int?
    /// A pause of `milliseconds` after `after` events.
    public var stall: (milliseconds: Int, after: Int)?
    /// Output tokens per second.
    public var tokensPerSecond: Double?
    /// The faults as given, normalized: what the journal and the `tapedeck-fault` response header show.
    public var description: String

    public var isEmpty: Bool { description.isEmpty }

    public static func == (lhs: Faults, rhs: Faults) -> Bool { lhs.description == rhs.description }

    /// The error kinds, with the status, type and default message the API uses for each.
    static let errorKinds: [(kind: String, status: Int, type: String, message: String)] = [
        ("rate_limit", 429, "rate_limit_error", "This request would exceed the rate limit for your organization. Please try again later."),
        ("overloaded", 529, "overloaded_error", "Overloaded"),
        ("api_error", 500, "api_error", "Internal server error"),
        ("timeout", 504, "timeout_error", "Request timed out"),
        ("auth", 401, "authentication_error", "invalid x-api-key"),
        (
            "billing", 402, "billing_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."
        ),
        ("permission", 403, "permission_error", "Your API key does not have permission to use the specified resource."),
        ("not_found", 404, "not_found_error", "Not found"),
        ("too_large", 413, "request_too_large", "Request exceeds the maximum allowed number of bytes."),
    ]
    static let streamKinds = ["midstream_error", "disconnect"]
    static let timingKinds = ["slow_first_byte", "latency", "stall", "tps"]
    static var allKinds: [String] { errorKinds.map(\.kind) + streamKinds + timingKinds + Stop.kinds }
    /// Token rates `tps` accepts: slower would wait for days, faster is no pacing at all.
    static let tokenRates: ClosedRange<Double> = 0.01...1_000_000

    /// Parses a header or flag value. Every problem is a 400 that names the offending kind or parameter.
    /// Parses a `tapedeck-fault` header's spec; a mistake is the API's 400, naming the header.
    public init(parsing text: String) throws(APIError) {
        try self.init(parsing: text, from: HeaderPolicy.faultHeader)
    }

    /// Parses a fault spec; a mistake is the API's 400, naming where the spec came from (`place`: `--fault`, ...)
    /// and what is wrong with it.
    public init(parsing text: String, from place: String) throws(APIError) {
        do {
            try self.init(checking: text)
        } catch {
            throw .invalidRequest("\(place): \(error.detail)")
        }
    }

    /// What is wrong with a fault spec, said without naming where it came from.
    struct SyntaxError: Error {
        let detail: String
    }

    private init(checking text: String) throws(SyntaxError) {
        var faults = Faults(description: "")
        var given: [String] = []
        for item in text.split(separator: ",") {
            let item = item.trimmingSpaces
            guard !item.isEmpty else { continue }
            let parts = item.split(separator: ";", omittingEmptySubsequences: true).map(\.trimmingSpaces)
                .filter { !$0.isEmpty }
            // An item of separators only (`;`, ` ; `) names nothing: skipped like an empty item.
            guard let head = parts.first else { continue }
            var kind = head
            var params: [(name: String, value: String)] = []
            if let eq = head.firstIndex(of: "=") {
                kind = String(head[..<eq]).trimmingSpaces
                params.append(("", String(head[head.index(after: eq)...]).trimmingSpaces))
            }
            for part in parts.dropFirst() {
                guard let eq = part.firstIndex(of: "=") else {
                    throw Self.problem("parameter '\(part)' of '\(kind)' needs a value (name=value)")
                }
                params.append((String(part[..<eq]).trimmingSpaces, String(part[part.index(after: eq)...]).trimmingSpaces))
            }
            try faults.add(kind: kind.lowercased(), params: params)
            given.append(item)
        }
        guard !given.isEmpty else { throw Self.problem("no fault given") }
        faults.description = given.joined(separator: ", ")
        self = faults
    }

    private init(description: String) { self.description = description }

    private mutating func add(kind: String, params: [(name: String, value: String)]) throws(SyntaxError) {
        var values = Parameters(kind: kind, params: params)
        if let known = Self.errorKinds.first(where: { $0.kind == kind }) {
            if let error { throw Self.problem("only one error kind per request ('\(error.kind)' and '\(kind)')") }
            var answer = ErrorAnswer(kind: kind, status: known.status, type: known.type, message: known.message)
            if let message = values.take("message") { answer.message = message.removingPercentEncoding }
            answer.retryAfter = try values.number("retry_after").map { Self.format($0) }
            answer.retryAfterMilliseconds = try values.number("retry_after_ms").map { Self.format($0) }
            answer.shouldRetry = try values.bool("should_retry")
            if kind == "rate_limit", answer.retryAfter == nil, answer.retryAfterMilliseconds == nil { answer.retryAfter = "1" }
            try values.finish()
            error = answer
            return
        }
        if Stop.kinds.contains(kind) {
            guard stop == nil else { throw Self.problem("only one stop reason per request") }
            stop = try Stop(kind: kind, values: &values)
            try values.finish()
            return
        }
        switch kind {
        case "midstream_error", "disconnect":
            guard breakOff == nil else { throw Self.problem("only one of midstream_error and disconnect per request") }
            if kind == "midstream_error" {
                let type = values.take("type") ?? "overloaded_error"
                let message =
                    values.take("message")?.removingPercentEncoding
                    ?? Self.errorKinds.first { $0.type == type }?.message ?? "Overloaded"
                breakOff = .midstreamError(after: try values.count("after") ?? 0, type: type, message: message)
            } else {
                let events = try values.count("after")
                let bytes = try values.count("bytes")
                guard events == nil || bytes == nil else { throw Self.problem("disconnect takes after=N or bytes=N, not both") }
                breakOff = .disconnect(afterEvents: bytes == nil ? events ?? 0 : nil, afterBytes: bytes)
            }
        case "slow_first_byte": slowFirstByte = try values.required(kind)
        case "latency": latency = try values.required(kind)
        case "stall": stall = (try values.required(kind), try values.count("after") ?? 1)
        case "tps":
            guard let rate = try values.number(""), Self.tokenRates.contains(rate) else {
                throw Self.problem("tps needs a rate from 0.01 to 1000000 tokens per second: tps=N")
            }
            tokensPerSecond = rate
        default:
            throw Self.problem("unknown fault kind '\(kind)'; known kinds: \(Self.allKinds.joined(separator: ", "))")
        }
        try values.finish()
    }

    static func problem(_ text: String) -> SyntaxError { SyntaxError(detail: text) }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// The parameters of one fault, taken one by one; whatever is left at the end is unknown.
    struct Parameters {
        let kind: String
        var params: [(name: String, value: String)]

        mutating func take(_ name: String) -> String? {
            guard let i = params.firstIndex(where: { $0.name == name }) else { return nil }
            return params.remove(at: i).value
        }

        mutating func number(_ name: String) throws(SyntaxError) -> Double? {
            guard let text = take(name) else { return nil }
            guard let value = Double(text), value.isFinite, value >= 0 else {
                throw Faults.problem("\(label(name)) must be a non-negative number, not '\(text)'")
            }
            return value
        }

        mutating func count(_ name: String) throws(SyntaxError) -> Int? {
            guard let text = take(name) else { return nil }
            guard let value = Int(text), value >= 0, value <= Limits.longestWaitMilliseconds else {
                throw Faults.problem("\(label(name)) must be a whole number ≥ 0, not '\(text)'")
            }
            return value
        }

        mutating func bool(_ name: String) throws(SyntaxError) -> Bool? {
            guard let text = take(name) else { return nil }
            switch text.lowercased() {
            case "true": return true
            case "false": return false
            default: throw Faults.problem("\(label(name)) must be true or false, not '\(text)'")
            }
        }

        /// The main value of `KIND=VALUE` (milliseconds).
        mutating func required(_ kind: String) throws(SyntaxError) -> Int {
            guard let value = try count("") else { throw Faults.problem("\(kind) needs a value in milliseconds: \(kind)=MS") }
            return value
        }

        func finish() throws(SyntaxError) {
            guard let extra = params.first else { return }
            if extra.name.isEmpty { throw Faults.problem("'\(kind)' takes no value (\(kind)=\(extra.value))") }
            throw Faults.problem("unknown parameter '\(extra.name)' for '\(kind)'")
        }

        func label(_ name: String) -> String { name.isEmpty ? kind : "\(kind) \(name)" }
    }
}

extension Faults.ErrorAnswer {
    /// The error as the API sends it, with the retry headers asked for; a 429 also carries rate-limit headers.
    func apiError(resetAt reset: String) -> APIError {
        var headers: [(String, String)] = []
        if let retryAfter { headers.append(("retry-after", retryAfter)) }
        if let retryAfterMilliseconds { headers.append(("retry-after-ms", retryAfterMilliseconds)) }
        if let shouldRetry { headers.append(("x-should-retry", shouldRetry ? "true" : "false")) }
        if status == 429 {
            for (limit, name) in [(50, "requests"), (40000, "tokens"), (30000, "input-tokens"), (8000, "output-tokens")] {
                headers.append(("anthropic-ratelimit-\(name)-limit", "\(limit)"))
                headers.append(("anthropic-ratelimit-\(name)-remaining", name == "requests" ? "0" : "\(limit / 2)"))
                headers.append(("anthropic-ratelimit-\(name)-reset", reset))
            }
        }
        return APIError(status: status, type: .init(type), message: message, headers: headers)
    }
}

extension Substring {
    var trimmingSpaces: String {
        var s = self
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}

extension String {
    var trimmingSpaces: String { Substring(self).trimmingSpaces }
}
