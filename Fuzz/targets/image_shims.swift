// Built only into the image target. ImageIO.swift needs RegularFile.swift, whose
// ImageFolder (dataset listing, not decoding) throws DatasetError, defined with the whole
// training stack in UnalignedDataset.swift. This stand-in lets the decoder build alone;
// delete it once ImageFolder lives in a file of its own.
struct DatasetError: Error {
    init(_ message: String) {}
}
