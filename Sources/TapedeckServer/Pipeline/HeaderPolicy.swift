import MessagesAPI

/// Which headers go where, in one place: what is forwarded upstream, what a cassette keeps, what a replay sends
/// back, and what only describes one connection.
enum HeaderPolicy {
    /// Tapedeck's own headers: a request picks its cassette and faults with them; an answer says where it came
    /// from and which fault was applied. They are never forwarded upstream.
    static let cassetteHeader = "tapedeck-cassette"
    static let faultHeader = "tapedeck-fault"
    static let sourceHeader = "tapedeck-source"
    static let ownPrefix = "tapedeck-"

    /// Headers that describe one connection's framing, not the answer: never forwarded, stored or replayed. The
    /// server sets them for the body it sends; a stored `content-length` that disagreed would make a client wait
    /// for bytes that never come.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host",
        "content-length", "accept-encoding", "content-encoding",
    ]

    /// Response headers that only make sense for the recorded body's own form: dropped when a recording is
    /// answered in the other style (a stream as JSON, JSON as a stream) or completed from a fixture.
    static let formHeaders: Set<String> = ["content-type", "cache-control", "content-length", "transfer-encoding"]

    /// Whether a client's request header goes to the upstream (`name` lowercased). Tapedeck's own `tapedeck-*`
    /// controls stay here.
    static func isForwarded(requestHeader name: String) -> Bool {
        !hopByHop.contains(name) && !name.hasPrefix(ownPrefix)
    }

    /// Whether a request header carries the caller's key (`name` lowercased): with none, `--upstream-key` is sent.
    static func isCredential(_ name: String) -> Bool { name == "authorization" || name == "x-api-key" }

    /// Response headers worth keeping (`name` lowercased): what SDKs read, and what replays must reproduce.
    static func isStored(responseHeader name: String) -> Bool {
        [
            "request-id", "retry-after", "retry-after-ms", "x-should-retry", "content-type", "cache-control",
            "anthropic-organization-id", "anthropic-workspace-id",
        ].contains(name)
            || name.hasPrefix("anthropic-ratelimit-")
    }

    /// `headers` without the ones tied to the recorded body's form.
    static func portable(_ headers: [(String, String)]) -> [(String, String)] {
        headers.filter { !formHeaders.contains($0.0.lowercased()) }
    }

    /// Headers of an answer Tapedeck makes itself for `request`: its request id, and an organization id.
    static func made(for request: IncomingRequest) -> [(String, String)] {
        [("request-id", request.requestID), ("anthropic-organization-id", organizationID)]
    }

    /// A fixed organization id: real responses carry one, and clients may log it.
    static let organizationID = "6e0a4a5c-7d1f-4e2b-9c3d-7a7065646563"
}
