import Testing

@testable import MessagesAPI

@Suite("Stream deltas split into words")
struct SplitWordsTests {
    @Test(arguments: [
        "Here is a short answer: you asked about \"tapes\". The first step keeps the answer clear.",
        #"{"name":"Grace Hopper","tags":["lima kilo", "tango echo"]}"#, "  two  leading\tand\ntrailing  ", "one", " ",
    ])
    func bytesSplitASCIILikeCharacters(_ text: String) {
        for seed: UInt64 in [0, 1, 42, 0xDEAD_BEEF] {
            let pieces = StreamBuilder.splitWords(text, seed: seed)
            #expect(pieces == StreamBuilder.characterSplitWords(text, seed: seed))
            #expect(pieces.joined() == text)
        }
    }

    @Test func otherTextTakesTheCharacterPath() {
        for text in ["crème brûlée\r\nnext line here", "東京 and 🎉 party"] {
            #expect(StreamBuilder.splitWords(text, seed: 7) == StreamBuilder.characterSplitWords(text, seed: 7))
            #expect(StreamBuilder.splitWords(text, seed: 7).joined() == text)
        }
    }
}
