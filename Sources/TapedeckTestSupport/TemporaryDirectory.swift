import Foundation

/// A fresh directory for one test, removed with everything in it when the test lets go of it.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs `body` with a fresh directory, removed afterwards whether `body` succeeds or throws.
public func withTemporaryDirectory<T>(_ body: (TemporaryDirectory) async throws -> T) async throws -> T {
    let directory = try TemporaryDirectory()
    // Held to the end explicitly: the optimizer may otherwise end its lifetime (and delete the files) after the
    // last mention of it, while a cassette inside is still open.
    defer { withExtendedLifetime(directory) {} }
    return try await body(directory)
}
