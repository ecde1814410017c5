import Foundation
import ShopCore
@testable import SiteBuild
import Testing

/// An output is rendered again only when its digest changes, so a catalog field left out of the
/// digest would leave pages showing its old value. These fail when a field is added to the
/// catalog types and not to `InputDigest.add(_ product:)`.
@Suite("Input digests")
struct DigestCoverageTests {
    let product = Product(
        handle: "fig", title: "Fig", bodyHTML: "<p>Fig</p>", vendor: "Lumen", productType: "Print", tags: ["Red"],
        published: true, seoTitle: "", seoDescription: "", optionNames: ["Size"],
        variants: [Variant(sku: "FIG-A4", options: ["A4"], priceCents: 2400, compareAtCents: nil, stock: 3, inventoryPolicy: .deny,
                           grams: 100, requiresShipping: true, taxable: true, barcode: "", imageSrc: "", weightUnit: "g")],
        images: [ProductImage(src: "/images/fig.jpg", position: 1, alt: "A fig")])

    @Test("every stored field of Product, Variant and ProductImage is covered")
    func fieldCounts() {
        #expect(Mirror(reflecting: product).children.count == InputDigest.productFieldsCovered)
        #expect(Mirror(reflecting: product.variants[0]).children.count == InputDigest.variantFieldsCovered)
        #expect(Mirror(reflecting: product.images[0]).children.count == InputDigest.imageFieldsCovered)
    }

    func digest(_ product: Product) -> String {
        var digest = InputDigest("product")
        digest.add(product)
        return digest.finish()
    }

    @Test("a change to any one field changes the digest; the same product gives the same digest")
    func everyFieldCounts() {
        let original = digest(product)
        #expect(digest(product) == original)
        var changes: [(String, (inout Product) -> Void)] = [
            ("title", { $0.title += "!" }), ("body", { $0.bodyHTML += " " }), ("vendor", { $0.vendor += "!" }),
            ("type", { $0.productType += "!" }), ("tags", { $0.tags.append("New") }), ("published", { $0.published.toggle() }),
            ("seo title", { $0.seoTitle = "x" }), ("seo description", { $0.seoDescription = "x" }),
            ("options", { $0.optionNames = ["Colour"] }), ("handle", { $0.handle = "fig2" }),
            ("price", { $0.variants[0].priceCents += 1 }), ("compare at", { $0.variants[0].compareAtCents = 3000 }),
            ("stock", { $0.variants[0].stock -= 1 }), ("policy", { $0.variants[0].inventoryPolicy = .continue }),
            ("sku", { $0.variants[0].sku += "X" }), ("variant options", { $0.variants[0].options = ["A3"] }),
            ("grams", { $0.variants[0].grams += 1 }), ("shipping", { $0.variants[0].requiresShipping.toggle() }),
            ("taxable", { $0.variants[0].taxable.toggle() }), ("barcode", { $0.variants[0].barcode = "1" }),
            ("variant image", { $0.variants[0].imageSrc = "/x.jpg" }), ("weight unit", { $0.variants[0].weightUnit = "kg" }),
            ("image src", { $0.images[0].src = "/y.jpg" }), ("image position", { $0.images[0].position = 2 }),
            ("image alt", { $0.images[0].alt = "B" }),
        ]
        // Fields that move between neighbours must not cancel out ("ab"+"c" against "a"+"bc").
        changes.append(("separator", { $0.title = "Fi"; $0.bodyHTML = "g<p>Fig</p>" }))
        for (name, change) in changes {
            var changed = product
            change(&changed)
            #expect(digest(changed) != original, "changing \(name) must change the digest")
        }
    }

    @Test("a NUL inside catalog text cannot make two different products digest alike")
    func fieldsWithNUL() {
        var one = product
        one.title = "x\u{0}y"
        one.bodyHTML = "z"
        var two = product
        two.title = "x"
        two.bodyHTML = "y\u{0}z"
        #expect(digest(one) != digest(two))
    }
}
