import AsyncHTTPClient
import Foundation
import NIOCore
import ShopCore
import ShopSystem
@testable import ShopImages

/// Where the fixtures are, found from this file's own path, so tests run from any folder.
enum Paths {
    static var testFolder: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent() }
    static var fixtures: URL { testFolder.appendingPathComponent("Fixtures") }
    static var repositoryRoot: URL { testFolder.deletingLastPathComponent().deletingLastPathComponent() }
    static var photos: URL { repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/photos") }
    static var cdnScript: URL { repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/bench/cdn.py") }

    static func fixture(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    static func photo(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: photos.appendingPathComponent(name)))
    }

    static var photoNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: photos.path)) ?? [])
            .filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted()
    }
}

/// A fresh site folder under /tmp with a site.yml-equivalent config; removed by `remove()`.
struct Scratch {
    let root: String

    init() throws {
        root = NSTemporaryDirectory() + "ishop-images-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    var publicDirectory: String { root + "/public" }

    /// `imageLines` go under `images:` in site.yml, indented by two spaces already.
    func config(_ imageLines: [String] = []) throws -> SiteConfig {
        let text = (["images:", "  cacheDir: cache"] + imageLines).joined(separator: "\n") + "\n"
        return try SiteConfig.parse(text, file: root + "/site.yml", siteDirectory: root)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + name))
    }

    func outputFile(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: publicDirectory + "/" + relative)))
    }

    func imageFiles() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: publicDirectory + "/img")) ?? [])
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// The stand-in CDN (../shared/bench/cdn.py), real HTTP on 127.0.0.1, on a port of its own.
final class StandInCDN {
    let process: ChildProcess
    let port: Int

    init(_ flags: [String] = []) throws {
        // Unbuffered, or the "serving" line would only arrive when the CDN exits.
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONUNBUFFERED"] = "1"
        process = try ChildProcess(
            "python3",
            arguments: [Paths.cdnScript.path, "--port", "0", "--root", Paths.photos.path, "--max-seconds", "300", "--quiet"] + flags,
            environment: environment, output: .null, error: .pipe)
        // It prints "cdn: serving DIR at http://127.0.0.1:PORT/photos/" once listening.
        var seen = ""
        var found: Int?
        while found == nil {
            let chunk = process.readChunk(process.standardError)
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let range = seen.range(of: "http://127.0.0.1:"), let end = seen[range.upperBound...].firstIndex(of: "/") {
                found = Int(seen[range.upperBound..<end])
            }
        }
        guard let found else {
            process.stop()
            throw CDNError(message: "the stand-in CDN did not start: \(seen)")
        }
        port = found
    }

    struct CDNError: Error { var message: String }

    func url(_ photo: String) -> String { "http://127.0.0.1:\(port)/photos/\(photo)" }

    /// Requests seen per path (/__stats).
    func requests(_ photo: String) async throws -> Int {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(port)/__stats"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let data = Data(body.readableBytesView)
        let counts = try JSONSerialization.jsonObject(with: data) as? [String: Int] ?? [:]
        return counts["/photos/\(photo)"] ?? 0
    }

    func stop() { process.stop() }

    deinit { stop() }
}
