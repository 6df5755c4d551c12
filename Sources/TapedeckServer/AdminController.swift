public import Hummingbird
import MessagesAPI
import NIOCore

/// Tapedeck's own endpoints under `/_tapedeck/`.
public struct AdminController: Sendable {
    let configuration: TapedeckConfiguration

    public init(configuration: TapedeckConfiguration) { self.configuration = configuration }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.get("/_tapedeck/health") { _, _ in
            let json: JSONValue = [
                "status": "ok",
                "mode": .string(configuration.mode.rawValue),
                "cassette": .string(configuration.cassettePath),
                "on_miss": .string(configuration.onMiss.rawValue),
                "version": .string(TapedeckVersion.current),
            ]
            return Answer(body: .json(JSONWriter.bytes(json)), source: .synthesized).response()
        }
    }
}

/// The version `tapedeck --version` prints and `health` reports.
public enum TapedeckVersion {
    public static let current = "0.1.0"
}
