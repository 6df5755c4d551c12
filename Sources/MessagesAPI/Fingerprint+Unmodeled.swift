import Crypto

extension Fingerprint {
    /// The identity of a request to a path Tapedeck does not model (batches, files, whatever ships next), which
    /// is replayed byte for byte: method, path, query and body. A JSON body counts as its canonical form without
    /// `ignoring`; any other body (multipart, binary) by its bytes. A distinct prefix keeps these apart from the
    /// Messages fingerprints.
    public init(unmodeled method: String, path: String, query: String?, body: [UInt8], json: JSONValue?, ignoring: [JSONPath]) {
        var hasher = SHA256()
        for part in ["unmodeled", method.uppercased(), path, query ?? ""] {
            hasher.update(data: Array(part.utf8))
            hasher.update(data: [0])
        }
        if let json {
            hasher.update(data: [1])
            hasher.update(data: JSONWriter.canonicalBytes(json.removing(ignoring)))
        } else {
            hasher.update(data: [2])
            hasher.update(data: body)
        }
        self.init(bytes: Array(hasher.finalize()))
    }
}
