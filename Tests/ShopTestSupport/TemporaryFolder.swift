import Foundation

/// A fresh folder under the system's temporary folder, one per test, so that tests never share
/// files or touch the repository. Call `remove()` in a `defer`.
public struct TemporaryFolder: Sendable {
    /// The folder's absolute path.
    public let path: String

    /// `label` goes into the folder's name, so that a folder left behind says which tests made it.
    public init(_ label: String) throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("ishop-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The path of `relative` inside this folder; nothing is created (tests check missing files too).
    public func file(_ relative: String) -> String { (path as NSString).appendingPathComponent(relative) }

    /// Writes `text` (UTF-8) to a file of this folder and returns its path, which is what the code under test takes.
    @discardableResult
    public func write(_ relative: String, _ text: String) throws -> String {
        try write(relative, Array(text.utf8))
    }

    /// Writes `bytes` as they are (for files that are not valid UTF-8 on purpose) and returns the path.
    @discardableResult
    public func write(_ relative: String, _ bytes: [UInt8]) throws -> String {
        let target = file(relative)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
