import Cassette
import Hummingbird
import MessagesAPI

extension AdminController {
    /// `GET /_tapedeck/files`: every file the cassette keeps, deleted ones included, newest first: its metadata as
    /// the API answers it, whether it is deleted, and the SHA-256 its content is stored under.
    func files(_ request: Request) async throws -> Response {
        let tape = try await tape(for: request)
        let files = tape.isPresent ? try await tape.store().files(includingDeleted: true) : []
        let name = try Self.cassetteName(request) ?? Shelf.defaultName
        return Self.json([
            "cassette": .string(name),
            "data": .array(
                files.map { file in
                    [
                        "metadata": file.metadata, "deleted": .bool(file.isDeleted), "sha256": .string(file.sha256),
                        "occurrence": .int(file.occurrence),
                    ]
                }),
        ])
    }

    /// `/_tapedeck/ui/files`: the same files as a page.
    func filesPage(_ request: Request) async throws -> Response {
        let tape = try await tape(for: request)
        let files = tape.isPresent ? try await tape.store().files(includingDeleted: true) : []
        return Self.html(
            try inspector.render(
                Inspector.page(title: "Files", context: Self.inspectorContext(request), active: "Files", content: Inspector.files(files))))
    }
}
