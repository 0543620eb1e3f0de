package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sdkAtStart is this checkout's SDK, found before a test changes folder.
var sdkAtStart = func() string { abs, _ := filepath.Abs(filepath.Join("..", "..", "sdk")); return abs }()

func repoSDK(*testing.T) string { return sdkAtStart }

func runCamkit(args ...string) (string, error) {
	cmd := rootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// The scaffold is the README's quickstart: written for "acme", its code is
// sdk/examples/processor-acme byte for byte, which make test builds and checks.
func TestPluginNewProcessorWritesTheExample(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme")
	out, err := runCamkit("plugin", "new", "processor", "acme", "--dir", dir, "--sdk", repoSDK(t), "--tidy=false")
	if err != nil || !strings.Contains(out, "wrote processor-acme into "+dir) {
		t.Fatalf("plugin new: %q %v", out, err)
	}
	for _, f := range []string{"main.go", "main_test.go"} {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(repoSDK(t), "examples", "processor-acme", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("the written %s is not sdk/examples/processor-acme/%s: change templates/processor/%s.tmpl with the example", f, f, f)
		}
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"module example.com/processor-acme\n", "require github.com/camkit/camkit/sdk v0.0.0\n",
		"replace github.com/camkit/camkit/sdk => " + filepath.ToSlash(repoSDK(t)) + "\n", "\tgithub.com/hashicorp/go-plugin v"} {
		if !bytes.Contains(mod, []byte(want)) {
			t.Errorf("go.mod lacks %q:\n%s", want, mod)
		}
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil || !bytes.Contains(sum, []byte("github.com/hashicorp/go-plugin")) {
		t.Errorf("go.sum is missing or lacks the SDK's dependencies: %v", err)
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil || !bytes.Contains(readme, []byte(`processor = "acme"`)) || !bytes.Contains(readme, []byte("go test ./...")) {
		t.Errorf("README.md does not say how to test and configure the plugin: %v\n%s", err, readme)
	}
}

func TestPluginNewNamesTheModuleAndTheType(t *testing.T) {
	dir := t.TempDir()
	if out, err := runCamkit("plugin", "new", "processor", "zeta9", "--dir", dir, "--sdk", repoSDK(t), "--module", "git.example/me/zeta", "--tidy=false"); err != nil {
		t.Fatalf("plugin new: %q %v", out, err)
	}
	main, _ := os.ReadFile(filepath.Join(dir, "main.go"))
	mod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	for _, want := range []string{"type zeta9 struct", `Name: "zeta9"`, "data/zeta9-processor.json", "Zeta9's token"} {
		if !bytes.Contains(main, []byte(want)) {
			t.Errorf("main.go lacks %q", want)
		}
	}
	if bytes.Contains(main, []byte("acme")) || bytes.Contains(main, []byte("Acme")) {
		t.Error("main.go still names acme")
	}
	if !bytes.HasPrefix(mod, []byte("module git.example/me/zeta\n")) {
		t.Errorf("go.mod:\n%s", mod)
	}
}

func TestPluginNewRefusesWhatItCannotWrite(t *testing.T) {
	sdk := repoSDK(t)
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"a theme", []string{"plugin", "new", "theme", "x", "--dir", t.TempDir(), "--sdk", sdk}, "only processor"},
		{"upper case", []string{"plugin", "new", "processor", "Acme", "--dir", t.TempDir(), "--sdk", sdk}, "plugin name"},
		{"a dash", []string{"plugin", "new", "processor", "acme-pay", "--dir", t.TempDir(), "--sdk", sdk}, "plugin name"},
		{"a path", []string{"plugin", "new", "processor", "../x", "--dir", t.TempDir(), "--sdk", sdk}, "plugin name"},
		{"a leading digit", []string{"plugin", "new", "processor", "9a", "--dir", t.TempDir(), "--sdk", sdk}, "plugin name"},
		{"a folder with files", []string{"plugin", "new", "processor", "acme", "--dir", full, "--sdk", sdk}, "not empty"},
		{"an SDK that is not one", []string{"plugin", "new", "processor", "acme", "--dir", t.TempDir(), "--sdk", t.TempDir()}, "no go.mod of module"},
	} {
		out, err := runCamkit(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %q %v, want an error with %q", c.name, out, err, c.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(full, "main.go")); string(b) != "package main\n" {
		t.Error("a refused plugin new overwrote a file")
	}
}

func TestPluginNewFindsTheSDKOfItsOwnCheckout(t *testing.T) {
	t.Chdir(t.TempDir()) // not below the checkout: only the binary's source path can tell
	got, err := findSDK("")
	if err != nil {
		t.Fatal(err)
	}
	if got != sdkAtStart {
		t.Fatalf("findSDK = %s, want %s", got, sdkAtStart)
	}
}
