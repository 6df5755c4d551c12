import Cassette

extension Inspector {
    /// `/_tapedeck/ui/files`: the files the cassette holds (uploaded, or recorded with the upstream's ids), deleted
    /// ones too, marked.
    struct FilesView: View {
        static let template = Template.files
        let files: [File]
        let hasFiles: Bool

        struct File: Sendable {
            let id: String
            let filename: String
            let mimeType: String
            let size: String
            let createdAt: String
            let state: String
            /// The first 12 hex digits of the content's SHA-256: equal contents are one stored copy.
            let sha256: String
        }
    }

    static func files(_ files: [StoredFile]) -> FilesView {
        let views = files.map { file in
            FilesView.File(
                id: file.id, filename: file.filename, mimeType: file.mimeType, size: "\(file.sizeBytes) bytes",
                createdAt: file.createdAt, state: file.isDeleted ? "deleted" : "live", sha256: String(file.sha256.prefix(12)))
        }
        return FilesView(files: views, hasFiles: !views.isEmpty)
    }
}
