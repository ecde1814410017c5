import Foundation

/// Whole files read with plain system calls (Foundation's `FileManager.contents` and `Data`
/// cost a copy and more per call): the manifest and the feeds' indexes, read on every build.
enum PlainFile {
    /// A whole file with plain system calls; nil when it cannot be read.
    static func readAll(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        return readAll(descriptor: descriptor, size: Int(status.st_size))
    }

    static func readAll(descriptor: Int32, size: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        let complete = bytes.withUnsafeMutableBytes { buffer -> Bool in
            while offset < size {
                let got = pread(descriptor, buffer.baseAddress! + offset, size - offset, off_t(offset))
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { return false }
                offset += got
            }
            return true
        }
        return complete ? bytes : nil
    }
}
