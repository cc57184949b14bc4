// libFuzzer target: the legacy .pth reader (five pickles, then raw storages) over arbitrary
// bytes. Built by scripts/fuzz.sh with Sources/CycleGAN/IO/*.swift.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPthLegacy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    withBoundedMemory { _ = try? PyTorchCheckpoint.loadLegacy(Array(UnsafeBufferPointer(start: data, count: size))) }
    return 0
}
