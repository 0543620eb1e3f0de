package main

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"text/template"

	"github.com/spf13/cobra"
)

// templates are what `camkit plugin new` writes. processor/main.go.tmpl and
// main_test.go.tmpl are sdk/examples/processor-acme with its name taken out
// (a test keeps them equal).
//
//go:embed templates
var templates embed.FS

const sdkModule = "github.com/camkit/camkit/sdk"

// pluginName is also the plugin's Go type name, so it is a plain identifier.
var pluginName = regexp.MustCompile(`^[a-z][a-z0-9]{0,31}$`)

func pluginCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "plugin", Short: "Write a new plugin to start from"}
	var o newPluginOptions
	nc := &cobra.Command{
		Use:   "new processor NAME",
		Short: "Write a processor plugin module (go.mod, main.go, main_test.go, README.md) into a new folder",
		Long: `Writes a processor plugin that only charges stored tokens and takes cards on its own hosted page,
with its conformance test. Its go.mod requires ` + sdkModule + ` v0.0.0 and replaces it with a local
checkout's sdk/ (--sdk, default the checkout this camkit was built from), since the SDK is not published.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "processor" {
				return fmt.Errorf("plugin new: only processor plugins can be written, not %q", args[0])
			}
			o.name = args[1]
			dir, err := writeProcessorPlugin(o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "wrote processor-%s into %s\n", o.name, dir)
			if o.tidy {
				if msg, err := goModTidy(dir); err != nil {
					fmt.Fprintf(out, "go mod tidy failed (run it yourself once the module cache or network is there): %v\n%s", err, msg)
				}
			}
			fmt.Fprintf(out, "next: cd %s && go test ./... && go build -o <plugins.dir>/processor-%s .\n", dir, o.name)
			return nil
		},
	}
	nc.Flags().StringVar(&o.dir, "dir", "", "folder to write into (default ./processor-NAME); must be empty or absent")
	nc.Flags().StringVar(&o.sdk, "sdk", "", "path of the camkit SDK (the sdk/ folder of a camkit checkout); default the checkout this binary was built from")
	nc.Flags().StringVar(&o.module, "module", "", "module path of the new plugin (default example.com/processor-NAME)")
	nc.Flags().BoolVar(&o.tidy, "tidy", true, "run go mod tidy in the new folder")
	cmd.AddCommand(nc)
	return cmd
}

type newPluginOptions struct {
	name, dir, sdk, module string
	tidy                   bool
}

// writeProcessorPlugin writes the module and returns its folder. It writes
// nothing into a folder that already holds files.
func writeProcessorPlugin(o newPluginOptions) (string, error) {
	if !pluginName.MatchString(o.name) {
		return "", fmt.Errorf("plugin name %q: want a lower-case letter then up to 31 lower-case letters or digits (it names the binary processor-NAME and the Go type)", o.name)
	}
	sdk, err := findSDK(o.sdk)
	if err != nil {
		return "", err
	}
	dir := o.dir
	if dir == "" {
		dir = "processor-" + o.name
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return "", fmt.Errorf("%s is not empty: give --dir a new folder", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	module := o.module
	if module == "" {
		module = "example.com/processor-" + o.name
	}
	requires, err := sdkRequires(sdk)
	if err != nil {
		return "", err
	}
	data := map[string]string{"Name": o.name, "Title": strings.ToUpper(o.name[:1]) + o.name[1:], "Module": module,
		"SDK": filepath.ToSlash(sdk), "Requires": requires}
	files, err := renderProcessor(data)
	if err != nil {
		return "", err
	}
	// The SDK's go.sum covers every module the plugin can need from it, so
	// the first build works offline from the module cache.
	if sum, err := os.ReadFile(filepath.Join(sdk, "go.sum")); err == nil {
		files["go.sum"] = sum
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// renderProcessor renders every processor template, by the file name it is written as.
func renderProcessor(data map[string]string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(templates, "templates/processor", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := templates.ReadFile(path)
		if err != nil {
			return err
		}
		// [[ ]] because Go code is full of braces.
		t, err := template.New(d.Name()).Delims("[[", "]]").Option("missingkey=error").Parse(string(src))
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return err
		}
		out[strings.TrimSuffix(d.Name(), ".tmpl")] = buf.Bytes()
		return nil
	})
	return out, err
}

// findSDK returns the absolute path of the SDK module: flag, else the
// checkout this binary was compiled from (its source path is recorded in the
// binary unless it was built with -trimpath), else a checkout above the
// current folder.
func findSDK(flag string) (string, error) {
	if flag != "" {
		abs, err := filepath.Abs(flag)
		if err != nil {
			return "", err
		}
		if !isSDK(abs) {
			return "", fmt.Errorf("--sdk %s: no go.mod of module %s there", abs, sdkModule)
		}
		return abs, nil
	}
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Join(filepath.Dir(file), "..", "..", "sdk")
		if isSDK(d) {
			return filepath.Clean(d), nil
		}
		tried = append(tried, filepath.Clean(d))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if isSDK(filepath.Join(d, "sdk")) {
				return filepath.Join(d, "sdk"), nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
		tried = append(tried, wd+" and its parents")
	}
	return "", fmt.Errorf("the camkit SDK was not found (looked in %s): give --sdk /path/to/camkit/sdk", strings.Join(tried, ", "))
}

func isSDK(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first) == "module "+sdkModule
}

// sdkRequires lists the SDK's own requirements as indirect ones of the new
// module, one "\tpath version // indirect" line each.
func sdkRequires(sdk string) (string, error) {
	b, err := os.ReadFile(filepath.Join(sdk, "go.mod"))
	if err != nil {
		return "", err
	}
	var out strings.Builder
	inBlock := false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if c := strings.Index(line, "//"); c >= 0 {
			line = strings.TrimSpace(line[:c])
		}
		var req string
		switch {
		case line == "require (":
			inBlock = true
		case inBlock && line == ")":
			inBlock = false
		case inBlock:
			req = line
		case strings.HasPrefix(line, "require "):
			req = strings.TrimSpace(strings.TrimPrefix(line, "require "))
		}
		if f := strings.Fields(req); len(f) == 2 {
			fmt.Fprintf(&out, "\t%s %s // indirect\n", f[0], f[1])
		}
	}
	return out.String(), nil
}

func goModTidy(dir string) (string, error) {
	cmd := exec.Command("go", "mod", "tidy")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}
