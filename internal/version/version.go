// Package version holds the binary's version, reported by `clipformer
// version`, by workers in their Hello and in every shard result.
package version

import "runtime/debug"

// Version is set at link time with
// -ldflags "-X github.com/clipformer/clipformer/internal/version.Version=v1.2.3";
// otherwise it is the VCS revision the binary was built from, or "dev".
var Version = ""

// String returns the version.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return rev
		}
	}
	return "dev"
}
