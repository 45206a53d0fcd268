import Testing
@testable import Data

@Suite struct ClassNamesTests {
    @Test func listsHaveTheirDocumentedSizes() {
        let expected: [ClassNames.Vocabulary: Int] = [.cocoStuff171: 171, .ade20k150: 150, .ade20k847: 847,
                                                      .pascalContext59: 59, .pascalContext459: 459, .pascalVOC20: 20]
        for (vocabulary, count) in expected {
            #expect(ClassNames.names(vocabulary).count == count, "\(vocabulary)")
        }
        let coco = ClassNames.names(.cocoStuff171)
        #expect(coco[0] == "person" && coco[80] == "banner" && coco[170] == "wood")
        #expect(ClassNames.Vocabulary.ade20k150.commandLineName == "ade20k-150")
    }
}
