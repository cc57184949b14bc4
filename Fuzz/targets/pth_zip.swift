// libFuzzer target: the zip .pth reader (ZipArchive, the unpickler, tensor gathering) over
// arbitrary bytes. Built by scripts/fuzz.sh with Sources/CycleGAN/IO/*.swift.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPthZip(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    withBoundedMemory { _ = try? PyTorchCheckpoint.loadZip(Array(UnsafeBufferPointer(start: data, count: size))) }
    return 0
}
