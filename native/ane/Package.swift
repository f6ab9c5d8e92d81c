// swift-tools-version:5.9
// Loupe's Neural Engine helper: `swift build -c release` → .build/release/loupe-ane-helper
import PackageDescription

let package = Package(
    name: "loupe-ane-helper",
    platforms: [.macOS(.v14)],
    targets: [
        .executableTarget(name: "loupe-ane-helper", path: "Sources/LoupeANE"),
    ]
)
