import Foundation
import PackagePlugin

/// Before every build, writes `BuildRevision.swift` (the package's git revision, `-dirty` when the
/// work tree has uncommitted changes, or `unknown` outside a git checkout) into the plugin's work
/// folder, for `--version`. The file is rewritten only when the revision changes, so an unchanged
/// tree rebuilds nothing.
@main
struct BuildInfo: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("generated")
        let script = #"""
            set -u
            root=$1; out=$2
            mkdir -p "$out"
            revision=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
            if [ "$revision" != unknown ] && [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
                revision="$revision-dirty"
            fi
            text="/// The git revision this build was made from (written by the BuildInfo plugin).
            let buildRevision = \"$revision\""
            if [ "$(cat "$out/BuildRevision.swift" 2>/dev/null)" != "$text" ]; then
                printf '%s\n' "$text" > "$out/BuildRevision.swift"
            fi
            """#
        return [.prebuildCommand(displayName: "Git revision for --version",
                                 executable: URL(fileURLWithPath: "/bin/sh"),
                                 arguments: ["-c", script, "build-info", context.package.directoryURL.path, output.path],
                                 outputFilesDirectory: output)]
    }
}
