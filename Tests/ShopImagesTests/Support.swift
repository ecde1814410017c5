import AsyncHTTPClient
import Foundation
import NIOCore
import ShopCore
import ShopSystem
import ShopTestSupport
@testable import ShopImages

/// This target's own small image files (Tests/ShopImagesTests/Fixtures), found from this file's
/// path, and the shared photos read as bytes.
enum ImageFixtures {
    static var folder: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures") }

    static func fixture(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
    }

    static func photo(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Repository.photos.appendingPathComponent(name)))
    }

    static var photoNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: Repository.photos.path)) ?? [])
            .filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted()
    }
}

/// A fresh site folder with a site.yml-equivalent config; removed by `remove()`.
struct Scratch {
    let folder: TemporaryFolder

    init() throws { folder = try TemporaryFolder("images") }

    var publicDirectory: String { folder.file("public") }

    /// `imageLines` go under `images:` in site.yml, indented by two spaces already.
    func config(_ imageLines: [String] = []) throws -> SiteConfig {
        let text = (["images:", "  cacheDir: cache"] + imageLines).joined(separator: "\n") + "\n"
        return try SiteConfig.parse(text, file: folder.file("site.yml"), siteDirectory: folder.path)
    }

    func outputFile(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: publicDirectory + "/" + relative)))
    }

    func imageFiles() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: publicDirectory + "/img")) ?? [])
    }

    func remove() { folder.remove() }
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
            arguments: [Repository.bench.appendingPathComponent("cdn.py").path, "--port", "0", "--root", Repository.photos.path, "--max-seconds", "300", "--quiet"] + flags,
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
