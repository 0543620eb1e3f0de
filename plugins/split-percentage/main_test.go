package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/camkit/camkit/sdk/plugintest"
)

// buildPlugin compiles this package into a fresh binary, so the suite runs
// against exactly what an operator would install.
func buildPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "split-percentage")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

func TestConformance(t *testing.T) {
	bin := buildPlugin(t)
	t.Run("defaults", func(t *testing.T) {
		plugintest.Split(t, bin, plugintest.SplitOptions{})
	})
	t.Run("configured", func(t *testing.T) {
		plugintest.Split(t, bin, plugintest.SplitOptions{
			Settings: []byte(`{
				"default": {"model": 3333, "studio": 3333, "affiliate": 3333, "platform": 1},
				"tip": {"model": 10000},
				"credit_pack": {"platform": 10000}
			}`),
			InvalidSettings: []plugintest.InvalidSetting{
				{JSON: []byte(`{"tip": {"model": 9000}}`), Key: "tip"},
				{JSON: []byte(`{"private": {"model": 10001, "platform": -1}}`), Key: "private.model"},
			},
		})
	})
}
