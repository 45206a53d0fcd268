import Distributed
import Foundation
import NN
import Tensor

/// `fgaseg-bench allreduce` (under mpirun): the GradientReducer's two transports (bucketed MPI
/// messages, and the host-shared-memory reduction) against one raw MPI_Allreduce of the same
/// buffer, and a simulated backward with and without overlap.
enum AllReduceBenchmark {
    /// A module whose trainable parameters total `floats`, in ViT-sized pieces (768×768).
    final class GradientSizedModule: Module {
        init(floats: Int) {
            super.init()
            var remaining = floats, index = 0
            while remaining > 0 {
                let size = min(remaining, 768 * 768)
                parameter("p\(index)", Tensor(repeating: 0, shape: [size]))
                remaining -= size
                index += 1
            }
        }
    }

    static func run(world: any Communicator, floatCounts: [Int], bucketBytes: Int) throws -> [BenchmarkRow] {
        var rows: [BenchmarkRow] = []
        for floats in floatCounts {
            let model = GradientSizedModule(floats: floats)
            let flat = FlatParameters(model)
            for i in 0..<flat.count { flat.gradients.pointer[i] = Float(i % 7) }  // pre-fault
            let whole = UnsafeMutableBufferPointer(start: flat.gradients.pointer, count: flat.count)
            let label = "\(floats / 1_000_000)M_floats_n\(world.size)"
            func timed(_ body: () throws -> Void) throws -> Double {
                var failure: Error?
                let seconds = medianSeconds(warmup: 1, repetitions: 5) {
                    do { try world.barrier(); try body() } catch { failure = error }
                }
                if let failure { throw failure }
                return try world.allReduce(seconds, .max)
            }
            // Simulated backward: `gemms` GEMMs per parameter (48: about as long as the
            // communication at n=2), then its gradient is reported ready. Without GEMMs, the timing
            // is the reduction's alone. Each reducer learns the readiness pattern in its first
            // (warm-up) iteration, and every iteration reports all parameters in the same order.
            let a = Tensor(repeating: 0.5, shape: [96, 96])
            let c = Tensor(repeating: 0, shape: [96, 96])
            let backward = { (reducer: GradientReducer?, gemms: Int) in
                reducer?.prepareForBackward()
                for index in flat.tensors.indices {
                    for _ in 0..<gemms { BLAS.gemm(m: 96, n: 96, k: 96, a: a.pointer, lda: 96, b: a.pointer, ldb: 96, c: c.pointer, ldc: 96) }
                    reducer?.reportGradient(ofParameter: index)
                }
            }
            let raw = try timed { try world.allReduce(whole, .sum) }
            let serial = try GradientReducer(parameters: flat, communicator: world, bucketBytes: bucketBytes, overlap: .off,
                                             transport: .mpi)
            let bucketed = try timed { backward(serial, 0); try serial.finish() }
            rows.append(BenchmarkRow(suite: "allreduce", name: "bucketed_\(bucketBytes / 1_000_000)MB_\(label)", ours: bucketed,
                                     baselineName: "MPI_Allreduce (one call)", baseline: raw, bytes: Double(floats * 4)))
            let computeOnly = try timed { backward(nil, 48) }
            let sequential = try timed { backward(serial, 48); try serial.finish() }
            let overlapped = try GradientReducer(parameters: flat, communicator: world, bucketBytes: bucketBytes, overlap: .on,
                                                 transport: .mpi)
            let overlapping = try timed { backward(overlapped, 48); try overlapped.finish() }
            rows.append(BenchmarkRow(suite: "allreduce", name: "step_overlap_on_\(label)", ours: overlapping,
                                     baselineName: "overlap off", baseline: sequential))
            let hidden = (sequential - overlapping) / max(sequential - computeOnly, 1e-9)
            if world.isMain {
                print(String(format: "  %@: backward alone %.1f ms, + reduce after %.1f ms, overlapped %.1f ms: %.0f%% of communication hidden",
                             label as NSString, computeOnly * 1e3, sequential * 1e3, overlapping * 1e3, hidden * 100))
            }
            // Last, because it moves the gradient buffer into the shared window.
            if world.size > 1 {
                let shared = try GradientReducer(parameters: flat, communicator: world, overlap: .off, transport: .shared)
                let sharedSeconds = try timed { backward(shared, 0); try shared.finish() }
                rows.append(BenchmarkRow(suite: "allreduce", name: "shared_memory_\(label)", ours: sharedSeconds,
                                         baselineName: "MPI_Allreduce (one call)", baseline: raw, bytes: Double(floats * 4)))
                let step = try timed { backward(shared, 48); try shared.finish() }
                rows.append(BenchmarkRow(suite: "allreduce", name: "step_shared_memory_\(label)", ours: step,
                                         baselineName: "MPI reduce after backward", baseline: sequential))
            }
        }
        return rows
    }
}
