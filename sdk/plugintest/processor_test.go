package plugintest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

// The suite is tested against testdata/processor-memory: it must pass the
// plugin as it is and fail it, at the right subtest, for each rule the plugin
// is told to break.

const (
	childMode = "PLUGINTEST_PROCESSOR_MODE" // set in the child process that runs the suite
	childBin  = "PLUGINTEST_PROCESSOR_BIN"
	memSecret = "processor-memory-secret" // testdata/processor-memory's Secret
)

func buildMemoryProcessor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "processor-memory")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/processor-memory").CombinedOutput()
	if err != nil {
		t.Fatalf("building testdata/processor-memory: %v\n%s", err, out)
	}
	return bin
}

var evSeq atomic.Int64

func memoryOptions(mode string) plugintest.ProcessorOptions {
	return plugintest.ProcessorOptions{
		Settings: []byte(fmt.Sprintf(`{"break":%q}`, mode)),
		Credentials: func(*testing.T, processor.Processor) plugintest.TestCredentials {
			return plugintest.TestCredentials{
				Approve:      processor.StoredCredential{Token: "mem_approve"},
				Decline:      processor.StoredCredential{Token: "mem_decline"},
				Insufficient: processor.StoredCredential{Token: "mem_insufficient"},
			}
		},
		Webhook: func(*testing.T) processor.WebhookRequest {
			body := []byte(fmt.Sprintf(`{"ID":"ev_%d_%d","Type":"sale"}`, time.Now().UnixNano(), evSeq.Add(1)))
			mac := hmac.New(sha256.New, []byte(memSecret))
			mac.Write(body)
			return processor.WebhookRequest{Method: http.MethodPost, Body: body,
				Headers: http.Header{"X-Mem-Signature": {hex.EncodeToString(mac.Sum(nil))}}}
		},
	}
}

func TestProcessorSuite(t *testing.T) {
	bin := buildMemoryProcessor(t)
	t.Run("a conforming plugin passes", func(t *testing.T) {
		plugintest.Processor(t, bin, memoryOptions(""))
	})
	for mode, failing := range map[string]string{
		"idempotency":     "repeated_idempotency_key_returns_the_first_result",
		"untyped_decline": "declines_are_typed",
		"forged_webhook":  "forged_webhooks_are_unauthenticated",
		"second_capture":  "partial_capture_releases_the_remainder",
		"any_currency":    "unknown_currency_is_refused",
		// Capabilities that cannot fund a seat (funding.go).
		"no_checkout":   "capabilities_can_fund_a_seat",
		"hold_only":     "capabilities_can_fund_a_seat",
		"sells_nothing": "capabilities_can_fund_a_seat",
	} {
		t.Run("catches "+mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestProcessorSuiteChild$", "-test.v")
			cmd.Env = append(os.Environ(), childMode+"="+mode, childBin+"="+bin)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a plugin that breaks %q:\n%s", mode, out)
			}
			if want := "--- FAIL: TestProcessorSuiteChild/" + failing; !strings.Contains(string(out), want) {
				t.Fatalf("output lacks %q:\n%s", want, out)
			}
		})
	}
}

// TestProcessorSuiteChild runs the suite in a child process of
// TestProcessorSuite, where failing is the expected outcome.
func TestProcessorSuiteChild(t *testing.T) {
	mode, ok := os.LookupEnv(childMode)
	if !ok {
		t.Log("runs only as a child process of TestProcessorSuite")
		return
	}
	plugintest.Processor(t, os.Getenv(childBin), memoryOptions(mode))
}
