// libFuzzer target: ImageIO.decode (PNG and JPEG through Sources/CImageIO over libpng and
// libjpeg-turbo) over arbitrary bytes. Built by scripts/fuzz.sh with
// Sources/CycleGAN/Data/{ImageIO,Image}.swift, Sources/CycleGAN/IO/AtomicFile.swift and the C file.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    withBoundedMemory {
        if let image = try? ImageIO.decode(Data(bytes: data, count: size), path: "fuzz.img") {
            precondition(image.pixels.count == image.width * image.height * image.channels)
        }
    }
    return 0
}
