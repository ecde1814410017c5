/// Why a build failed, named by stage and place so it can be fixed without a debugger.
/// A failed build never touches the site that is being served.
public struct BuildError: Error, Equatable, CustomStringConvertible {
    public enum Stage: String, Sendable {
        case config, catalog, content, theme, images, plan, render, write, publish
    }

    public var stage: Stage
    public var file: String?
    public var line: Int?
    public var message: String

    public init(_ stage: Stage, file: String? = nil, line: Int? = nil, _ message: String) {
        self.stage = stage
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        var place = ""
        if let file { place = line.map { "\(file):\($0): " } ?? "\(file): " }
        return "build failed in stage \(stage.rawValue): \(place)\(message)"
    }
}
