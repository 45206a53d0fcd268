import Foundation
import Testing
import Tensor
@testable import IO

@Suite struct SafetensorsTests {
    func sampleFile() throws -> [UInt8] {
        let directory = try TemporaryDirectory()
        let path = directory.file("sample.safetensors")
        try Safetensors.write(["a": Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]), "b.bias": Tensor([-1.5], shape: [1])],
                              metadata: ["format": "pt"], to: path)
        return [UInt8](FileManager.default.contents(atPath: path)!)
    }

    @Test func writeThenReadRoundTrips() throws {
        let contents = try sampleFile().withUnsafeBytes { try Safetensors.parse($0) }
        #expect(contents.tensors["a"]!.shape == [2, 3] && contents.tensors["a"]!.scalars == [1, 2, 3, 4, 5, 6])
        #expect(contents.tensors["b.bias"]!.scalars == [-1.5])
        #expect(contents.metadata == ["format": "pt"])
    }

    /// Builds a file from a header string and data bytes.
    func file(header: String, data: [UInt8]) -> [UInt8] {
        let json = Array(header.utf8)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data
    }

    @Test func halfAndBFloat16AreConverted() throws {
        let half = Float16(1.5).bitPattern, bfloat = UInt16(Float(-2.25).bitPattern >> 16)
        let bytes = file(header: #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}}"#,
                         data: [UInt8(half & 0xFF), UInt8(half >> 8), UInt8(bfloat & 0xFF), UInt8(bfloat >> 8)])
        let contents = try bytes.withUnsafeBytes { try Safetensors.parse($0) }
        #expect(contents.tensors["h"]!.item == 1.5 && contents.tensors["b"]!.item == -2.25)
    }

    @Test(arguments: [
        ("truncated", #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, 8, "outside the 8 data bytes"),
        ("bad json", #"{"a": [1, 2"#, 0, "not a JSON object"),
        ("offsets beyond the data", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 4, "data_offsets [4, 8] outside"),
        ("wrong byte count", #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "8 bytes for shape [3]"),
        ("unsupported dtype", #"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, 8, "dtype I64 is not supported"),
        ("missing fields", #"{"a":{"dtype":"F32"}}"#, 0, "needs dtype, shape and two data_offsets"),
        ("duplicate name", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "a" :{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8,
         "names a more than once"),
        ("duplicate name, escaped", #"{"ab":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\u0061b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8,
         "names ab more than once"),
        ("overlapping ranges", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8,
         "tensors a [0, 8] and b [4, 8] overlap"),
    ])
    func corruptFilesAreClearErrors(_ corruption: (String, String, Int, String)) {
        let bytes = file(header: corruption.1, data: [UInt8](repeating: 0, count: corruption.2))
        let error = #expect(throws: IOError.self) { try bytes.withUnsafeBytes { try Safetensors.parse($0) } }
        #expect(error?.description.contains(corruption.3) == true, "\(corruption.0): \(String(describing: error))")
    }

    /// Names that only look alike, nested objects with the same keys and metadata are not duplicates.
    @Test func distinctNamesAreNotDuplicates() throws {
        let header = #"{"__metadata__":{"a":"x"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a.b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let contents = try file(header: header, data: [UInt8](repeating: 0, count: 8)).withUnsafeBytes { try Safetensors.parse($0) }
        #expect(contents.tensors.keys.sorted() == ["a", "a.b"] && contents.metadata == ["a": "x"])
    }

    @Test func headerLengthBeyondTheFileIsAnError() {
        var bytes = file(header: "{}", data: [])
        bytes[0] = 0xFF
        bytes[5] = 0x7F
        #expect(throws: IOError.self) { try bytes.withUnsafeBytes { try Safetensors.parse($0) } }
        #expect(throws: IOError.self) { try [UInt8](repeating: 0, count: 5).withUnsafeBytes { try Safetensors.parse($0) } }
    }

    /// 2,000 random mutations of a valid file (byte flips in the header and length field,
    /// truncations): each parses or throws an IOError, never crashes.
    @Test func mutatedFilesNeverCrash() throws {
        let original = try sampleFile()
        var generator = RandomGenerator(seed: 17)
        var errors = 0
        for round in 0..<2000 {
            var bytes = original
            switch round % 3 {
            case 0: bytes = Array(bytes.prefix(Int(generator.next() % UInt64(bytes.count))))
            case 1:
                for _ in 0..<(1 + Int(generator.next() % 4)) {
                    let index = Int(generator.next() % UInt64(min(bytes.count, 120)))
                    bytes[index] = UInt8(truncatingIfNeeded: generator.next())
                }
            default:
                let headerEnd = min(bytes.count, 8 + Int(bytes[0]))
                let index = 8 + Int(generator.next() % UInt64(max(1, headerEnd - 8)))
                bytes[index] = Array("{}[],:\"0123456789-e.E ".utf8)[Int(generator.next() % 22)]
            }
            do { _ = try bytes.withUnsafeBytes { try Safetensors.parse($0) } } catch is IOError { errors += 1 }
        }
        #expect(errors > 1000, "most mutations must be rejected, \(errors) were")
    }

    @Test func readingAMissingFileNamesIt() {
        let error = #expect(throws: IOError.self) { try Safetensors.read(path: "/nonexistent/model.safetensors") }
        #expect(error?.description.contains("/nonexistent/model.safetensors") == true)
    }
}
