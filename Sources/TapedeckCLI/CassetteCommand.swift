public import ArgumentParser
import Cassette
import Foundation
import MessagesAPI

/// `tapedeck cassette …`: look at, edit, export and import cassettes.
public struct CassetteCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cassette",
        abstract: "List, show, export, import, diff and verify cassettes.",
        subcommands: [List.self, Show.self, Stats.self, Remove.self, Export.self, Import.self, Diff.self, Verify.self]
    )

    public init() {}

    /// Opens an existing cassette, turning failures into one clear line and exit code 1.
    static func open(_ path: String, readOnly: Bool = true) throws -> CassetteStore {
        do {
            return try CassetteStore(path: path, create: false, readOnly: readOnly)
        } catch {
            throw fail("\(error)")
        }
    }

    static func fail(_ message: String) -> ExitCode {
        printError("tapedeck: \(message)")
        return ExitCode(1)
    }

    static func fileSize(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per interaction.")
        @Argument(help: "The cassette.") var path: String

        func run() async throws {
            print(CassettePresentation.list(try await open(path).all()), terminator: "")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One interaction: request and response, a stream as its events.")
        @Argument(help: "The cassette.") var path: String
        @Argument(help: "The interaction's id (see list).") var id: Int64

        func run() async throws {
            guard let interaction = try await open(path).interaction(id: id) else {
                throw fail("\(path): no interaction \(id)")
            }
            print(CassettePresentation.show(interaction), terminator: "")
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts by model, status and endpoint; sizes.")
        @Argument(help: "The cassette.") var path: String

        func run() async throws {
            let store = try open(path)
            var text = CassettePresentation.stats(try await store.all(), fileSize: fileSize(path))
            let files = try await store.files(includingDeleted: true)
            if !files.isEmpty {
                let contents = Set(files.map(\.sha256)).count
                text += "files: \(files.count) (\(files.filter(\.isDeleted).count) deleted), \(contents) distinct contents\n"
            }
            print(text, terminator: "")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete interactions by id.")
        @Argument(help: "The cassette.") var path: String
        @Argument(help: "Ids to delete.") var ids: [Int64]

        func run() async throws {
            let store = try open(path, readOnly: false)
            let removed = try await store.delete(ids: ids)
            try await store.checkpoint()
            print("removed \(removed) of \(ids.count)")
            if removed < ids.count { throw ExitCode(1) }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the cassette as JSON Lines (stable: the same cassette gives the same file).",
            discussion: "Used as a git textconv, it makes cassette diffs readable: see the README.")
        @Argument(help: "The cassette.") var path: String
        @Option(help: "Write here instead of standard output.") var out: String?

        func run() async throws {
            let store = try open(path)
            var text = InteractionCodec.export(try await store.all())
            // Files after the interactions, oldest first, each with its content: an export is the whole cassette.
            let files = try await store.files(includingDeleted: true).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
            for file in files {
                text += FileCodec.encode(file, content: try await store.fileContent(sha256: file.sha256)) + "\n"
            }
            if let out {
                do {
                    try text.write(toFile: out, atomically: true, encoding: .utf8)
                } catch {
                    throw fail("\(out): cannot write: \(error.localizedDescription)")
                }
            } else {
                print(text, terminator: "")
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a JSON Lines export (or hand-written fixtures) into a cassette.",
            discussion: "Every line is checked before anything is written: a bad line changes nothing.")
        @Argument(help: "The export file.") var file: String
        @Option(help: "The cassette to write (created when absent).") var into: String
        @Option(name: .customLong("match-ignore"), help: "A JSON path left out of fingerprints computed for lines without one.")
        var matchIgnore: [String] = []
        @Option(
            name: .customLong("match-profile"), help: "claude-code | none: the profile fingerprints computed here apply (default: none).",
            transform: ServeOptions.choice("--match-profile", MatchProfile.self))
        var matchProfile: MatchProfile?
        @Option(name: .customLong("match-normalize"), help: "'REGEX=>REPLACEMENT' applied before fingerprints computed here (repeatable).")
        var matchNormalize: [String] = []

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw fail("\(file): cannot read it") }
            guard let text = String(validating: Array(data), as: UTF8.self) else { throw fail("\(file): not UTF-8 text") }
            let interactions: [Interaction]
            let files: [(StoredFile, [UInt8])]
            do {
                files = try FileCodec.decodeExport(text, file: file)
                // The same matching the server will use, so a fixture written from the request as sent matches it.
                let matcher = RequestMatcher(
                    ignoredPaths: Fingerprint.defaultIgnoredPaths + matchIgnore.map(JSONPath.init(parsing:)),
                    normalizer: try MatchNormalizer(rules: matchNormalize, profile: matchProfile))
                interactions = try InteractionCodec.decodeExport(text, file: file, matcher: matcher)
            } catch let error as MatchNormalizer.RuleError {
                throw fail(error.description)
            } catch let error as InteractionCodec.FileError {
                throw fail(error.description)
            }
            let store: CassetteStore
            do { store = try CassetteStore(path: into, create: true) } catch { throw fail("\(error)") }
            try await store.saveAll(interactions)
            for (stored, content) in files { try await store.saveFile(stored, content: content) }
            try await store.checkpoint()
            print("imported \(interactions.count) interactions\(files.isEmpty ? "" : " and \(files.count) files") into \(into)")
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Interactions added, removed or changed from A to B, and where.")
        @Argument(help: "The old cassette.") var a: String
        @Argument(help: "The new cassette.") var b: String

        func run() async throws {
            let (text, differs) = CassettePresentation.diff(try await open(a).all(), try await open(b).all())
            print(text, terminator: "")
            // Like diff(1): 1 when the cassettes differ.
            if differs { throw ExitCode(1) }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the schema version, SQLite integrity, and that every stream assembles to its message.")
        @Argument(help: "The cassette.") var path: String

        func run() async throws {
            let store = try open(path)
            var problems: [String] = []
            let version = try await store.storedSchemaVersion()
            if version != CassetteStore.schemaVersion {
                problems.append("schema version \(version), expected \(CassetteStore.schemaVersion)")
            }
            let integrity = try await store.integrityCheck()
            if integrity != "ok" { problems.append("integrity check: \(integrity)") }
            var interactions: [Interaction] = []
            for row in try await store.scan() {
                switch row {
                case .success(let interaction): interactions.append(interaction)
                case .failure(let damaged): problems.append(damaged.description)
                }
            }
            problems += CassettePresentation.verify(interactions)
            if problems.isEmpty {
                print("\(path): ok (schema \(version), \(interactions.count) interactions)")
            } else {
                for problem in problems { printError("\(path): \(problem)") }
                throw ExitCode(1)
            }
        }
    }
}
