import Foundation

/// The image files of a dataset folder, for training and for `cyclegan test` alike.
public enum ImageFolder {
    /// The extensions (any case) the official `is_image_file` accepts; only PNG and JPEG
    /// contents decode.
    public static let imageExtensions = ["jpg", "jpeg", "png", "ppm", "bmp", "tif", "tiff"]

    /// The regular files (or symlinks to them) under `folder`, recursively, whose names end
    /// in an image extension, sorted by path as Python sorts strings (by code point). Anything
    /// else so named (a named pipe, socket, device, folder or broken link) is left out with
    /// one warning on stderr. Throws `DatasetError` if the folder is missing or holds no image.
    public static func files(in folder: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir) else {
            throw DatasetError("dataset folder \(folder) does not exist")
        }
        guard isDir.boolValue else { throw DatasetError("dataset folder \(folder) is not a folder") }
        guard let walker = FileManager.default.enumerator(atPath: folder) else {
            throw DatasetError("dataset folder \(folder) cannot be listed")
        }
        let base = folder.hasSuffix("/") ? String(folder.dropLast()) : folder
        var paths: [String] = []
        while let relative = walker.nextObject() as? String {
            guard imageExtensions.contains((relative as NSString).pathExtension.lowercased()) else { continue }
            let path = base + "/" + relative
            do {
                let st = try RegularFile.status(path)
                if st.st_mode & S_IFMT == S_IFREG {
                    paths.append(path)
                } else {
                    printWarning("skipping \(path): \(RegularFile.kind(st.st_mode)), not an image file")
                }
            } catch let error as FileReadError {
                printWarning("skipping \(path): \(error.reason)")
            }
        }
        guard !paths.isEmpty else {
            let list = imageExtensions.map { "." + $0 }.joined(separator: ", ")
            throw DatasetError("dataset folder \(folder) has no images (\(list))")
        }
        return paths.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
    }
}

/// One `warning: …` line on stderr (the run goes on).
func printWarning(_ message: String) {
    FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}
