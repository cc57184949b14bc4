// Built into every target. The parsers and the decoder read files through
// Sources/CycleGAN/Data/RegularFile.swift, whose ImageFolder (dataset listing, unused here)
// throws DatasetError, defined with the whole training stack in UnalignedDataset.swift.
// This stand-in lets the targets build alone; delete it once ImageFolder lives in a file of
// its own.
struct DatasetError: Error {
    init(_ message: String) {}
}
