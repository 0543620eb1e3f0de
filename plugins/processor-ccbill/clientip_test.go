package main

import (
	"net/http"
	"testing"

	"github.com/camkit/camkit/sdk/processor"
)

// The ipAddress CCBill scores for fraud is the client the host resolved, not
// an X-Forwarded-For entry the client wrote itself.
func TestClientIPIsTheHostsResolvedClient(t *testing.T) {
	req := processor.HTTPRequest{RemoteAddr: "198.51.100.7:0", Headers: http.Header{"X-Forwarded-For": {"64.38.212.7"}}}
	if got := clientIP(req); got != "198.51.100.7" {
		t.Fatalf("clientIP = %q, want the resolved client 198.51.100.7", got)
	}
}
