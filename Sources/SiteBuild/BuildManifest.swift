import Crypto
import Foundation
import ShopCore

/// What a site folder holds, and from what: each output's path and the digest of every input
/// that went into it. Kept inside the folder it describes (the live site and its spare each have
/// one), so the next build knows which outputs it need not render again.
///
/// One line per output, `<digest> <path>`, in the plan's order (sorted by path when there is none,
/// as after a failed build): it is read and written on every build, including the no-op ones that
/// must finish in well under a second, so no JSON.
struct BuildManifest: Equatable {
    static let fileName = ".ishop-manifest"
    /// Bumped when ishop renders differently, so an old manifest never vouches for new output.
    static let formatVersion = 3
    static var header: String { "ishop-manifest \(formatVersion)" }

    /// Relative output path -> digest of its inputs.
    var outputs: [String: String] = [:]

    /// Which file holds `folder`'s manifest now: device and inode. A manifest is always written
    /// anew and renamed into place, and publishing swaps whole folders, so a manifest that changed
    /// is another file. Take it before reading: a manifest read after its identity was taken is
    /// then never older than that identity says.
    struct Identity: Equatable {
        let device: UInt64
        let inode: UInt64
    }

    static func identity(folder: String) -> Identity? {
        var status = stat()
        guard stat("\(folder)/\(fileName)", &status) == 0 else { return nil }
        return Identity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// The manifest of `folder`, or nil (no folder, no manifest, another version, unreadable).
    static func load(folder: String) -> BuildManifest? {
        guard let bytes = PlainFile.readAll("\(folder)/\(fileName)") else { return nil }
        return parse(bytes)
    }

    /// Lines are found with memchr over the bytes: the generic `split` made 12,000 slices and
    /// cost more than the rest of reading the manifest.
    static func parse(_ bytes: [UInt8]) -> BuildManifest? {
        bytes.withUnsafeBufferPointer { buffer -> BuildManifest? in
            guard let base = buffer.baseAddress else { return nil }
            let end = buffer.count
            func lineEnd(from start: Int) -> Int {
                guard start < end, let found = memchr(base + start, 0x0A, end - start) else { return end }
                return UnsafeRawPointer(found) - UnsafeRawPointer(base)
            }
            let headerEnd = lineEnd(from: 0)
            guard String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<headerEnd]), as: UTF8.self) == header else { return nil }
            var outputs: [String: String] = [:]
            outputs.reserveCapacity(end / 90)
            var start = headerEnd + 1
            while start < end {
                let stop = lineEnd(from: start)
                defer { start = stop + 1 }
                if stop == start { continue }
                guard let found = memchr(base + start, 0x20, stop - start) else { return nil }
                let space = UnsafeRawPointer(found) - UnsafeRawPointer(base)
                outputs[String(decoding: UnsafeBufferPointer(rebasing: buffer[(space + 1)..<stop]), as: UTF8.self)] =
                    String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<space]), as: UTF8.self)
            }
            return BuildManifest(outputs: outputs)
        }
    }

    /// `order`: the paths in the order to write them (every path of `outputs`); nil sorts them.
    func encoded(order: [String]? = nil) -> [UInt8] {
        var bytes = Array((Self.header + "\n").utf8)
        bytes.reserveCapacity(outputs.count * 100)
        // By bytes, with memcmp, when sorting: String's own comparison (Unicode-aware) was slow.
        let paths = order ?? outputs.keys.sorted(by: Self.precedes)
        for path in paths {
            guard let digest = outputs[path] else { continue }
            bytes.append(contentsOf: digest.utf8)
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: path.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        return bytes
    }
}

extension BuildManifest {
    /// A manifest's bytes with the outputs and order they were made from, so that whoever writes
    /// them can check they still say what the tree holds.
    struct Encoded: Sendable {
        let outputs: [String: String]
        let order: [String]
        let bytes: [UInt8]

        init(outputs: [String: String], order: [String]) {
            self.outputs = outputs
            self.order = order
            bytes = BuildManifest(outputs: outputs).encoded(order: order)
        }
    }

    /// Byte order of two paths' UTF-8.
    static func precedes(_ left: String, _ right: String) -> Bool {
        var left = left
        var right = right
        return left.withUTF8 { a in
            right.withUTF8 { b in
                let common = min(a.count, b.count)
                let order = common == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, common)
                return order != 0 ? order < 0 : a.count < b.count
            }
        }
    }
}
