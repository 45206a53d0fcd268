import Foundation
import IO
import Tensor
import Testing

/// The `torch.save` reader on files written by PyTorch (Fixtures/make_pth_fixtures.py).
@Suite struct PyTorchCheckpointTests {
    static let fixtures = Bundle.module.resourcePath! + "/Fixtures"

    @Test func readsEveryFloatingTensorAsPyTorchWroteIt() throws {
        let checkpoint = try PyTorchCheckpoint(path: Self.fixtures + "/state.pth")
        let expected = try Safetensors.read(path: Self.fixtures + "/state_expected.safetensors").tensors
        #expect(expected.count == 10)
        for (name, reference) in expected {
            let tensor = try checkpoint.tensor("model." + name)
            #expect(tensor.shape == reference.shape, "\(name)")
            #expect(tensor.scalars == reference.scalars, "\(name)")
        }
        #expect(checkpoint.tensors["model.counter"]?.storage.dtype == .int64)
        #expect(checkpoint.tensors["model.view_a"]?.storage.key == checkpoint.tensors["model.view_b"]?.storage.key)
        #expect(checkpoint.tensors["model.linear.weight_t"]?.strides == [1, 3])
        #expect(try checkpoint.tensor("optimizer.state.0.exp_avg").scalars == [1, 1, 1])
        if case .int(let iteration) = checkpoint.scalars["iteration"] { #expect(iteration == 4321) } else { Issue.record("no iteration") }
        if case .float(let lr) = checkpoint.scalars["optimizer.param_groups.0.lr"] { #expect(lr == 2e-4) } else { Issue.record("no lr") }
        #expect(throws: IOError.self) { try checkpoint.tensor("model.counter") }
    }

    /// Files that are not state dicts, or are hostile, end in errors that say what is wrong.
    @Test(arguments: [
        ("legacy.pth", "legacy (non-ZIP) PyTorch file"),
        ("os_system.pth", "refers to os.system"),
        ("recursive.pth", "recursive structure at model"),
        ("shared_blowup.pth", "exceeds the file's size"),
    ])
    func refusesWithANamedError(file: String, expected: String) throws {
        let error = #expect(throws: IOError.self) { try PyTorchCheckpoint(path: Self.fixtures + "/" + file) }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
        #expect(error?.description.contains(file) == true)
    }

    @Test func refusesDamagedStoragesAndTruncatedArchives() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/state.pth")))
        let folder = NSTemporaryDirectory() + "fgaseg-pth-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A flipped byte in a storage: its CRC-32 no longer matches when the tensor is read.
        let checkpoint = try PyTorchCheckpoint(path: Self.fixtures + "/state.pth")
        let key = try #require(checkpoint.tensors["model.linear.weight"]).storage.key
        let entry = try #require(try ZipArchive(MappedFile(path: Self.fixtures + "/state.pth")).entries["state/data/" + key])
        var damaged = original
        damaged[entry.dataOffset + 5] ^= 0x40
        try Data(damaged).write(to: URL(fileURLWithPath: folder + "/damaged.pth"))
        let error = #expect(throws: IOError.self) { try PyTorchCheckpoint(path: folder + "/damaged.pth").tensor("model.linear.weight") }
        #expect(error?.description.contains("is damaged") == true, "\(String(describing: error))")
        // A truncated archive.
        try Data(original.prefix(original.count / 2)).write(to: URL(fileURLWithPath: folder + "/truncated.pth"))
        #expect(throws: IOError.self) { try PyTorchCheckpoint(path: folder + "/truncated.pth") }
    }

    /// A tensor view that reaches past its storage, built by hand: `_rebuild_tensor_v2` of a
    /// 4-element float storage with size (3, 2) and stride (2, 1).
    @Test func refusesAViewOutsideItsStorage() throws {
        var pickle: [UInt8] = [0x80, 0x02]
        pickle += Array("ctorch._utils\n_rebuild_tensor_v2\n(".utf8)
        pickle += Array("(X\u{7}\u{0}\u{0}\u{0}storagectorch\nFloatStorage\nX\u{1}\u{0}\u{0}\u{0}0X\u{3}\u{0}\u{0}\u{0}cpuK\u{4}tQ".utf8)
        pickle += [0x4B, 0, 0x4B, 3, 0x4B, 2, 0x86, 0x4B, 2, 0x4B, 1, 0x86, 0x89, 0x29, 0x74, 0x52, 0x2E]
        let error = #expect(throws: IOError.self) {
            _ = try pickle.withUnsafeBytes { try Unpickler.load($0, context: "hand-made") { $0 } }
        }
        #expect(error?.description.contains("reaches element 5 of a 4-element storage") == true, "\(String(describing: error))")
    }
}
