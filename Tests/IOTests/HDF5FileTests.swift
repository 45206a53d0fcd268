import Foundation
import Testing
@testable import IO

@Suite struct HDF5FileTests {
    @Test func floatDatasetRoundTripKeepsValuesAndShape() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("floats.h5")
        let values = (0..<(2 * 3 * 4)).map { Float($0) * 0.25 - 1.5 }
        do {
            let file = try HDF5File(path: path, mode: .create)
            try file.write("weights/layer.0/kernel", values, shape: [2, 3, 4])
            try file.write("empty", [Float](), shape: [0, 5])
            try file.write("scalars/step", [Int64(12345)], shape: [1])
            try file.close()
        }
        let file = try HDF5File(path: path, mode: .read)
        let (read, shape) = try file.read("weights/layer.0/kernel", as: Float.self)
        #expect(read == values)
        #expect(shape == [2, 3, 4])
        #expect(try file.shape(of: "empty") == [0, 5])
        #expect(try file.read("empty", as: Float.self).values.isEmpty)
        #expect(try file.read("scalars/step", as: Int64.self).values == [12345])
        // Conversion on read: float data read as double.
        #expect(try file.read("weights/layer.0/kernel", as: Double.self).values == values.map(Double.init))
        #expect(file.contains("weights/layer.0/kernel"))
        #expect(!file.contains("weights/layer.1/kernel"))
    }

    @Test func variableLengthByteDatasetRoundTrip() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("bytes.h5")
        let arrays: [[UInt8]] = [[1, 2, 3], [], Array(repeating: 255, count: 100_000), [0]]
        do {
            let file = try HDF5File(path: path, mode: .create)
            try file.writeByteArrays("images/jpeg", arrays)
            try file.writeByteArrays("none", [])
            try file.setAttribute("config", "model:\n  name: tiny\n")
            try file.setAttribute("empty", "")
        }
        let file = try HDF5File(path: path, mode: .read)
        #expect(try file.readByteArrays("images/jpeg") == arrays)
        #expect(try file.readByteArrays("none").isEmpty)
        #expect(try file.attribute("config") == "model:\n  name: tiny\n")
        #expect(try file.attribute("empty") == "")
        #expect(try file.attribute("missing") == nil)
    }

    @Test func errorsNameTheFileAndDataset() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.file("does-not-exist.h5")
        let openError = #expect(throws: IOError.self) { try HDF5File(path: missing, mode: .read) }
        #expect(openError?.description.contains("does-not-exist.h5") == true)

        let path = directory.file("a.h5")
        let file = try HDF5File(path: path, mode: .create)
        try file.write("x", [Float(1)], shape: [1])
        let readError = #expect(throws: IOError.self) { try file.read("y/z", as: Float.self) }
        #expect(readError?.description == "\(path):y/z: no such dataset")
        let shapeError = #expect(throws: IOError.self) { try file.write("bad", [Float(1), 2], shape: [3]) }
        #expect(shapeError?.description.contains("shape [3] holds 3 elements, but 2 were given") == true)
        let duplicate = #expect(throws: IOError.self) { try file.write("x", [Float(1)], shape: [1]) }
        #expect(duplicate?.description.contains("\(path):x: HDF5 create dataset failed") == true)

        // A file that is not HDF5.
        let text = directory.file("text.h5")
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: text))
        #expect(throws: IOError.self) { try HDF5File(path: text, mode: .read) }
    }
}
