// Package testbin gives tests the built camkit binaries: the host and every
// plugin. `make test` builds them once into bin/ and passes CAMKIT_BIN; a
// plain `go test` builds what a test asks for into a per-process cache.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
	dir   string
)

// Root is the repository root (where go.mod is).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Plugin returns the path of a plugin binary named <kind>-<name>
// (e.g. "processor-sandbox", "theme-default"), building it when needed.
func Plugin(t testing.TB, file string) string {
	t.Helper()
	if b := os.Getenv("CAMKIT_BIN"); b != "" {
		p := filepath.Join(b, "plugins", file)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	pkg := "./plugins/" + file
	if len(file) > 6 && file[:6] == "theme-" {
		pkg = "./themes/" + file[6:]
	}
	return build(t, pkg, filepath.Join("plugins", file))
}

// Host returns the path of the camkit binary, building it when needed.
func Host(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("CAMKIT_BIN"); b != "" {
		p := filepath.Join(b, "camkit")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return build(t, "./cmd/camkit", "camkit")
}

// PluginDir returns a folder holding every plugin binary the tests need,
// named as the host expects.
func PluginDir(t testing.TB, files ...string) string {
	t.Helper()
	d := t.TempDir()
	for _, f := range files {
		src := Plugin(t, f)
		if err := os.Symlink(src, filepath.Join(d, f)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// DefaultPlugins are the four reference plugins of the embedded default.
var DefaultPlugins = []string{"processor-sandbox", "currency-fixed", "split-percentage", "theme-default"}

func build(t testing.TB, pkg, rel string) string {
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "camkit-testbin-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	out := filepath.Join(dir, rel)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = Root()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}
