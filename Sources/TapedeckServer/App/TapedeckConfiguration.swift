public import Cassette
public import Logging
public import MessagesAPI

/// Everything `tapedeck serve` can be told. The command line fills it in; tests build it directly.
public struct TapedeckConfiguration: Sendable {
    /// Where answers come from.
    public enum Mode: String, Sendable, CaseIterable {
        /// Answer from the cassette; never touch the network.
        case replay
        /// Proxy everything to the upstream and save it.
        case record
        /// Replay what is recorded, record what is not.
        case auto
    }

    /// What replay does when nothing recorded matches.
    public enum OnMiss: String, Sendable, CaseIterable {
        case synthesize
        case error
    }

    /// How fast recorded streams are replayed.
    public enum Pace: String, Sendable, CaseIterable {
        case instant
        case recorded
    }

    public var mode: Mode = .replay
    public var cassettePath: String = "cassettes/default.sqlite"
    public var upstream: String = "https://api.anthropic.com"
    public var host: String = "127.0.0.1"
    public var port: Int = 4010
    public var onMiss: OnMiss = .synthesize
    public var pace: Pace = .instant
    /// Divides recorded gaps when `pace` is `recorded`.
    public var speed: Double = 1
    /// Paths ignored by fingerprints, in addition to the defaults.
    public var matchIgnore: [JSONPath] = []
    /// Largest request body accepted, in bytes.
    public var maxBodyBytes: Int = Limits.defaultRequestBodyBytes
    /// Extra request headers never stored.
    public var redactHeaders: [String] = []
    /// Patterns replaced by a placeholder in stored bodies and in incoming requests before matching.
    public var redactPatterns: [String] = []
    /// Key used upstream when the client sent none.
    public var upstreamKey: String?
    /// Seconds a connection may stay silent (idle, or part-way through sending a request) before it is closed.
    public var idleTimeout: Int = 60
    /// Most client connections served at once; one more is answered with a 529 and closed.
    public var maxConnections: Int = 512
    /// Seconds to wait for the upstream to accept a connection.
    public var upstreamConnectTimeout: Int = 10
    /// Seconds the upstream may stay silent mid-answer before the call fails with a 504.
    public var upstreamReadTimeout: Int = 600
    /// Where per-test cassettes (`tapedeck-cassette: NAME`) live; `nil`: the directory of `cassettePath`.
    public var cassetteDirectory: String?
    /// Most per-test cassettes open at once; the least recently used is closed to make room (`--max-open-cassettes`).
    public var maxOpenCassettes: Int = Limits.defaultOpenCassettes
    /// Largest recorded answer, in bytes: a longer one is passed through to the client but not saved
    /// (`--max-recording-bytes`), so an endless upstream stream cannot exhaust memory.
    public var maxRecordingBytes: Int = Limits.defaultRecordingBytes
    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT before they are cancelled (`--shutdown-grace`).
    public var shutdownGrace: Int = 5
    /// A fault applied server-wide (`--fault`), to every request, the next few, or a seeded fraction.
    public var fault: FaultPlan?
    /// Bearer token the admin API requires (`--admin-token`).
    public var adminToken: String?
    /// Requests (per cassette) the journal keeps.
    public var journalSize: Int = 1000
    public var logLevel: Logger.Level = .info
    /// The built-in catalog plus a models file's entries (`--models`).
    public var models: ModelCatalog = .standard
    /// The built-in normalization profile matching applies (`--match-profile`); `nil`: Claude Code's for requests
    /// whose `user-agent` is `claude-cli/…`, none for the rest.
    public var matchProfile: MatchProfile?
    /// `REGEX=>REPLACEMENT` rules applied to a request's strings before it is matched (`--match-normalize`).
    public var matchNormalize: [String] = []
    /// Largest file `POST /v1/files` accepts (`--max-file-bytes`): the API's 500 MB by default.
    public var maxFileBytes: Int = Limits.defaultFileBytes
    /// Mark uploads `downloadable: true` so `GET /v1/files/{id}/content` serves them (`--downloadable-uploads`);
    /// the real API downloads only files a tool made.
    public var downloadableUploads = false
    /// Refuse unknown model ids with the API's 404, even `claude-…` ones (`--strict-models`).
    public var strictModels = false
    /// How the clock of cache TTLs and rate-limit windows moves (`--clock`).
    public var clock: TestClock.Mode = .wall
    /// The rate-limit budget answers report and, when enforced, apply (`--rate-limit`); `nil`: no headers at all.
    public var rateLimit: RateLimitBudget? = .generous
    /// Retrieves a batch Tapedeck makes answers `in_progress` before it ends (`--batch-delay`).
    public var batchDelay = 0

    public init() {}

    /// The directory per-test cassettes are looked up in.
    public var resolvedCassetteDirectory: String {
        if let cassetteDirectory { return cassetteDirectory }
        guard let slash = cassettePath.lastIndex(of: "/") else { return "." }
        return slash == cassettePath.startIndex ? "/" : String(cassettePath[..<slash])
    }

    /// The catalog the server starts with: `models`, inferring unknown `claude-…` ids unless `strictModels`.
    public var startingCatalog: ModelCatalog { models.inferring(!strictModels) }

    /// All paths ignored by fingerprints.
    public var ignoredPaths: [JSONPath] { Fingerprint.defaultIgnoredPaths + matchIgnore }
}
