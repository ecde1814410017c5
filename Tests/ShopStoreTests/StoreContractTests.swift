import Foundation
import ShopCore
import ShopStore
import ShopTestSupport
import Testing

/// The Store contract: written once, run on every backend (SQLite always; PostgreSQL when the
/// test command started a server, which scripts/test always does).
@Suite("Store contract")
struct StoreContractTests {
    @Test("Every field of a product survives an upsert and a read", arguments: Backend.available)
    func roundTrip(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.store
        let product = Sample.figPrint()
        let other = Sample.simple(handle: "plain-poster", sku: "POSTER-1")

        let summary = try await store.upsert([product, other])
        var expected = UpsertSummary()
        expected.productsCreated = 2
        expected.variantsCreated = 4
        expected.imagesCreated = 2
        #expect(summary == expected)

        let catalog = try await store.catalog(includeUnpublished: true)
        #expect(catalog == [product, other])  // in insertion order, every field equal
        let read = try #require(catalog.first)
        try #require(read.variants.count == 3)
        #expect(read.optionNames == ["Size", "Frame", "Paper"])
        #expect(read.variants.map(\.sku) == ["FIG-A4-NONE-MATTE", "FIG-A4-OAK-GLOSS", "FIG-A3-OAK-MATTE"])
        #expect(read.variants[0].compareAtCents == 3000)
        #expect(read.variants[1].compareAtCents == nil)
        #expect(read.variants[1].inventoryPolicy == .continue)
        #expect(read.variants[1].requiresShipping == false)
        #expect(read.variants[1].taxable == false)
        #expect(read.tags == ["Still Life", "Food", "Red"])
        #expect(read.images.map(\.position) == [1, 2])
        #expect(catalog.last?.optionNames == [])
        #expect(catalog.last?.variants.first?.options == [])

        #expect(try await store.product(handle: "fig-bowl-print") == product)
        #expect(try await store.catalog(includeUnpublished: false) == [product, other])
        try await store.close()
    }

    @Test("Upserting the same products again changes nothing", arguments: Backend.available)
    func idempotentUpsert(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.store
        let products = [Sample.figPrint(), Sample.simple(handle: "plain-poster", sku: "POSTER-1")]
        _ = try await store.upsert(products)
        let before = try await store.catalog(includeUnpublished: true)

        let again = try await store.upsert(products)
        var expected = UpsertSummary()
        expected.productsUnchanged = 2
        #expect(again == expected)
        #expect(try await store.catalog(includeUnpublished: true) == before)
        try await store.close()
    }

    @Test("Drafts and unknown handles are not found; stock leaves out unknown and draft SKUs", arguments: Backend.available)
    func publishedOnlyReads(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.store
        let live = Sample.figPrint()
        let draft = Sample.simple(handle: "draft-print", sku: "DRAFT-1", stock: 7, published: false)
        _ = try await store.upsert([live, draft])

        #expect(try await store.product(handle: "draft-print") == nil)
        #expect(try await store.product(handle: "no-such-product") == nil)
        #expect(try await store.product(handle: "") == nil)
        #expect(try await store.product(handle: "fig-bowl-print")?.title == "Fig in a Red Bowl")

        #expect(try await store.catalog(includeUnpublished: false).map(\.handle) == ["fig-bowl-print"])
        #expect(try await store.catalog(includeUnpublished: true).map(\.handle) == ["fig-bowl-print", "draft-print"])

        let stock = try await store.stock(skus: ["FIG-A4-NONE-MATTE", "FIG-A4-OAK-GLOSS", "DRAFT-1", "NO-SUCH-SKU"])
        #expect(stock == ["FIG-A4-NONE-MATTE": 12, "FIG-A4-OAK-GLOSS": 0])
        #expect(try await store.stock(skus: []) == [:])
        #expect(try await store.stock(skus: ["NO-SUCH-SKU"]) == [:])
        try await store.close()
    }

    @Test("A SKU of another product is refused, and nothing of that upsert is written", arguments: Backend.available)
    func skuTakenRollsBack(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.store
        let owner = Sample.simple(handle: "owner", sku: "SHARED-1", priceCents: 1000)
        _ = try await store.upsert([owner])
        let before = try await store.catalog(includeUnpublished: true)

        let newProduct = Sample.simple(handle: "brand-new", sku: "NEW-1")
        var changedOwner = owner
        changedOwner.title = "Owner, renamed"
        let thief = Sample.simple(handle: "thief", sku: "SHARED-1")

        await #expect(throws: StoreError.skuTaken(sku: "SHARED-1", ownerHandle: "owner", wantedBy: "thief")) {
            try await store.upsert([newProduct, changedOwner, thief])
        }
        #expect(try await store.catalog(includeUnpublished: true) == before)
        #expect(try await store.product(handle: "brand-new") == nil)
        #expect(try await store.stock(skus: ["NEW-1"]) == [:])
        #expect(try await store.product(handle: "owner")?.title == "Product owner")
        try await store.close()
    }

    @Test("Two new products with one SKU in one upsert are refused as a whole", arguments: Backend.available)
    func duplicateSKUInOneUpsert(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.store
        await #expect(throws: StoreError.skuTaken(sku: "SAME", ownerHandle: "first", wantedBy: "second")) {
            try await store.upsert([Sample.simple(handle: "first", sku: "SAME"), Sample.simple(handle: "second", sku: "SAME")])
        }
        #expect(try await store.catalog(includeUnpublished: true).isEmpty)
        try await store.close()
    }

    @Test("A handle that could not be a URL segment is refused, and nothing of that upsert is written", arguments: Backend.available)
    func invalidHandleRollsBack(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.store
        for handle in ["../evil", "a/b", "Upper", ""] {
            await #expect(throws: StoreError.invalidHandle(handle)) {
                try await store.upsert([Sample.simple(handle: "good", sku: "GOOD-1"), Sample.simple(handle: handle, sku: "BAD-1")])
            }
        }
        #expect(try await store.catalog(includeUnpublished: true).isEmpty)
        try await store.close()
    }

    @Test("A database constraint failing midway (negative stock) leaves nothing written", arguments: Backend.available)
    func constraintRollsBack(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.store
        let good = Sample.simple(handle: "good", sku: "GOOD-1")
        let bad = Sample.simple(handle: "bad", sku: "BAD-1", stock: -1)
        await #expect(throws: (any Error).self) {
            try await store.upsert([good, bad])
        }
        #expect(try await store.catalog(includeUnpublished: true).isEmpty)
        try await store.close()
    }

    @Test("A SKU moves between products when its old owner gives it up earlier in the same upsert", arguments: Backend.available)
    func skuMovesInOrder(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.store
        var first = Sample.simple(handle: "first", sku: "MOVING")
        _ = try await store.upsert([first])

        first.variants = [Variant(sku: "FIRST-2", options: [], priceCents: 100, stock: 1)]
        let second = Sample.simple(handle: "second", sku: "MOVING")
        _ = try await store.upsert([first, second])
        let catalog = try await store.catalog(includeUnpublished: true)
        #expect(catalog.map(\.handle) == ["first", "second"])
        #expect(catalog.first?.variants.map(\.sku) == ["FIRST-2"])
        #expect(catalog.last?.variants.map(\.sku) == ["MOVING"])
        try await store.close()
    }

    /// Store.upsert is documented as one transaction over all given products, so the result
    /// should not depend on their order: here the new owner comes before the old one gives it up.
    @Test("A SKU moves between products in one upsert whatever the order of the products", arguments: Backend.available)
    func skuMovesInAnyOrder(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.store
        var first = Sample.simple(handle: "first", sku: "MOVING")
        _ = try await store.upsert([first])

        first.variants = [Variant(sku: "FIRST-2", options: [], priceCents: 100, stock: 1)]
        let second = Sample.simple(handle: "second", sku: "MOVING")
        _ = try await store.upsert([second, first])
        let catalog = try await store.catalog(includeUnpublished: true)
        #expect(catalog.first(where: { $0.handle == "first" })?.variants.map(\.sku) == ["FIRST-2"])
        #expect(catalog.first(where: { $0.handle == "second" })?.variants.map(\.sku) == ["MOVING"])
        try await store.close()
    }

    @Test("Variants and images left out of an upsert are removed, and counted", arguments: Backend.available)
    func removesVariantsAndImages(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.store
        let original = Sample.figPrint()
        _ = try await store.upsert([original])

        var trimmed = original
        let removedSKU = trimmed.variants.removeLast().sku
        trimmed.images.removeLast()
        let summary = try await store.upsert([trimmed])
        var expected = UpsertSummary()
        expected.productsUpdated = 1
        expected.variantsRemoved = 1
        expected.imagesRemoved = 1
        #expect(summary == expected)
        #expect(try await store.catalog(includeUnpublished: true) == [trimmed])
        #expect(try await store.stock(skus: [removedSKU]) == [:])

        // Adding them back creates them again.
        let restored = try await store.upsert([original])
        var expectedRestore = UpsertSummary()
        expectedRestore.productsUpdated = 1
        expectedRestore.variantsCreated = 1
        expectedRestore.imagesCreated = 1
        #expect(restored == expectedRestore)
        #expect(try await store.catalog(includeUnpublished: true) == [original])
        try await store.close()
    }

    @Test("Changing one variant's price updates exactly that variant", arguments: Backend.available)
    func updatesOneVariant(backend: Backend) async throws {
        let opened = try await backend.open()
        defer { opened.remove() }
        let store = opened.store
        var product = Sample.figPrint()
        _ = try await store.upsert([product, Sample.simple(handle: "other", sku: "OTHER-1")])

        product.variants[1].priceCents = 7100
        product.images[0].alt = "A new alt text"
        let summary = try await store.upsert([product, Sample.simple(handle: "other", sku: "OTHER-1")])
        var expected = UpsertSummary()
        expected.productsUpdated = 1
        expected.productsUnchanged = 1
        expected.variantsUpdated = 1
        expected.imagesUpdated = 1
        #expect(summary == expected)
        #expect(try await store.product(handle: "fig-bowl-print") == product)
        try await store.close()
    }
}
