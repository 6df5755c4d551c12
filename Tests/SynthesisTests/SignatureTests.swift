import MessagesAPI
import Testing

@testable import Synthesis

@Suite("Signatures")
struct SignatureTests {
    /// Pinned to values computed outside Swift (Python's `hashlib` and `base64`): standard alphabet, padded, the
    /// same text the hand-written encoder gave before Foundation's, so synthesized answers do not change.
    @Test(arguments: [
        (
            "thinking", 120,
            "EkvuwglMXKBJtrkqIqCXGP0Hl9KhqbiGWVOivCjCOT05cinDhvoVvArybK/9UgrQzMUU+m2opbj3GkIPiVzuAxITTeOTFoejvxzznjdG0qGQfR8SwmsT3WbFig4ZP2pQYqJE/sXy31Cu3/05AQn86/zoxfvLRe0w"
        ),
        ("odd", 7, "En1x3D0+eg=="),
        ("odd", 8, "En1x3D0+ep8="),
    ])
    func signaturesAreStandardBase64(label: String, length: Int, expected: String) throws {
        let fingerprint = try #require(Fingerprint(hex: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"))
        #expect(Synthesizer(vocabulary: try ShippedVocabulary.get()).signature(fingerprint, label: label, length: length) == expected)
    }
}
