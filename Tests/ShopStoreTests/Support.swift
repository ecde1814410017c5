import ShopCore

/// Hand-built catalog values covering every field the Store keeps.
enum Sample {
    /// Three options, a compare-at price, both inventory policies, tags, two images.
    static func figPrint(handle: String = "fig-bowl-print", skuPrefix: String = "FIG") -> Product {
        Product(
            handle: handle, title: "Fig in a Red Bowl", bodyHTML: "<p>A halved fig in a <em>red</em> bowl.</p>\n<p>Second paragraph.</p>",
            vendor: "Lumen Prints", productType: "Art Print", tags: ["Still Life", "Food", "Red"], published: true,
            seoTitle: "Fig in a Red Bowl – still-life art print", seoDescription: "Archival giclée print, A4 to A3.",
            optionNames: ["Size", "Frame", "Paper"],
            variants: [
                Variant(sku: "\(skuPrefix)-A4-NONE-MATTE", options: ["A4", "No frame", "Matte"], priceCents: 2400, compareAtCents: 3000,
                        stock: 12, inventoryPolicy: .deny, grams: 120, requiresShipping: true, taxable: true,
                        barcode: "4006381333931", imageSrc: "/images/products/fig-bowl.jpg", weightUnit: "g"),
                Variant(sku: "\(skuPrefix)-A4-OAK-GLOSS", options: ["A4", "Oak", "Glossy"], priceCents: 6900, compareAtCents: nil,
                        stock: 0, inventoryPolicy: .continue, grams: 1100, requiresShipping: false, taxable: false,
                        barcode: "", imageSrc: "", weightUnit: "kg"),
                Variant(sku: "\(skuPrefix)-A3-OAK-MATTE", options: ["A3", "Oak", "Matte"], priceCents: 8900, compareAtCents: 9900,
                        stock: 2, inventoryPolicy: .deny, grams: 1800, requiresShipping: true, taxable: true,
                        barcode: "0012345678905", imageSrc: "https://cdn.example.com/fig-oak.jpg", weightUnit: "g"),
            ],
            images: [
                ProductImage(src: "/images/products/fig-bowl.jpg", position: 1, alt: "A halved fig in a bright red bowl"),
                ProductImage(src: "https://cdn.example.com/fig-oak.jpg", position: 2, alt: "Framed in oak, \"quoted\", ünïcödé"),
            ])
    }

    /// A product with a single default variant.
    static func simple(
        handle: String, sku: String, priceCents: Int = 1500, stock: Int = 3, policy: InventoryPolicy = .deny, published: Bool = true
    ) -> Product {
        Product(handle: handle, title: "Product \(handle)", productType: "Poster", published: published,
                variants: [Variant(sku: sku, options: [], priceCents: priceCents, stock: stock, inventoryPolicy: policy)])
    }
}
