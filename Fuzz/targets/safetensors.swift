// libFuzzer target: SafeTensorsFile(data:) over arbitrary bytes. Built by scripts/fuzz.sh
// with Sources/CycleGAN/IO/{SafeTensors,AtomicFile}.swift; any trap is a finding.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    withBoundedMemory {
        if let file = try? SafeTensorsFile(data: Data(bytes: data, count: size), name: "fuzz.safetensors") {
            // what a loaded file promises: every shape holds its values
            for t in file.tensors.values { precondition(t.shape.allSatisfy { $0 >= 0 } && t.shape.count <= HostTensor.maxDimensions) }
        }
    }
    return 0
}
