import Foundation
import ShopSystem
import ShopTestSupport
import Testing

/// Ctrl-C in the middle of `ishop build`: the site being served stays exactly as it was, and the
/// next build finishes the job (on a catalog large enough that the build is still rendering).
@Suite(.serialized) struct InterruptedBuildTests {
    /// Every regular file under `root` with its bytes.
    func files(_ root: String) -> [String: Data] {
        var result: [String: Data] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return result }
        while let relative = walker.nextObject() as? String {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(root)/\(relative)", isDirectory: &isFolder), !isFolder.boolValue {
                result[relative] = FileManager.default.contents(atPath: "\(root)/\(relative)")
            }
        }
        return result
    }

    @Test func ctrlCDuringBuildLeavesThePublishedSiteAsItWas() async throws {
        let shop = try Shop.copyExample()
        defer { shop.remove() }
        let generator = Repository.bench.appendingPathComponent("gen_catalog.py").path
        try #require(FileManager.default.fileExists(atPath: generator), "../shared/bench/gen_catalog.py is needed beside the repository")
        let generated = try ChildProcess.run("python3", arguments: [generator, "--products", "2500", "--out", "\(shop.directory)/big"])
        #expect(generated.termination.succeeded, "\(generated.errorText)")
        #expect(try shop.run(["import", "shopify", "big/products.csv"]).status == 0)
        #expect(try shop.run(["build"]).status == 0)
        let before = files("\(shop.directory)/public")
        #expect(before.count > 2500)

        // A template change: every page must be rendered again, which takes a while.
        let template = "\(shop.directory)/themes/default/layouts/product.mustache"
        let text = try String(contentsOfFile: template, encoding: .utf8)
        try text.replacingOccurrences(of: "Choose your print", with: "Pick a size").write(toFile: template, atomically: true, encoding: .utf8)

        let build = try ChildProcess(
            Shop.binary, arguments: ["build"], environment: Shop.environment(), directory: shop.directory, output: .null, error: .pipe)
        // Interrupt once it has rendered a quarter of the pages ("Rendered N of M pages").
        var seen: [UInt8] = []
        while build.isRunning && !String(decoding: seen, as: UTF8.self).contains("Rendered ") {
            let chunk = build.readChunk(build.standardError)
            if chunk.isEmpty { break }
            seen += chunk
        }
        let interrupted = build.isRunning
        build.send(SIGINT)
        let ended = build.wait()
        if interrupted {
            #expect(ended != .exited(0))
        }
        #expect(files("\(shop.directory)/public") == before, "the published site is exactly the old one")

        let again = try shop.run(["build"])
        #expect(again.status == 0, "\(again.stderr)")
        let page = try shop.read("public/products/\(try firstHandle(shop))/index.html")
        #expect(page.contains("Pick a size"))
        #expect(!page.contains("Choose your print"))
    }

    func firstHandle(_ shop: Shop) throws -> String {
        let products = try FileManager.default.contentsOfDirectory(atPath: "\(shop.directory)/public/products")
        return try #require(products.sorted().first)
    }
}
