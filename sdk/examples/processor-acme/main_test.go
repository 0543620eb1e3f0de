package main

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

func TestConformance(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "processor-acme")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	plugintest.Processor(t, bin, plugintest.ProcessorOptions{
		Settings: []byte(`{"state_file":"` + filepath.ToSlash(filepath.Join(t.TempDir(), "acme.json")) + `"}`),
		Credentials: func(*testing.T, processor.Processor) plugintest.TestCredentials {
			return plugintest.TestCredentials{
				Approve:      processor.StoredCredential{Token: "tok_ok"},
				Decline:      processor.StoredCredential{Token: "tok_decline"},
				Insufficient: processor.StoredCredential{Token: "tok_nsf"},
			}
		},
	})
}
