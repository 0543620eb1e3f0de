package pluginhost_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// reportLatencies adds p50/p99 in microseconds to a benchmark's output.
func reportLatencies(b *testing.B, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	pick := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(pick(0.50), "p50_µs")
	b.ReportMetric(pick(0.99), "p99_µs")
}

// BenchmarkProcessorCallRoundTrip measures one host -> plugin -> host call
// through the supervised client (deadline, metrics, the restart guard), the
// real go-plugin gRPC transport with AutoMTLS, and the sandbox plugin process.
func BenchmarkProcessorCallRoundTrip(b *testing.B) {
	h := pluginhost.NewHost(quiet(), nil)
	defer h.Close()
	in, err := h.Launch(context.Background(), sandboxSpecB(b))
	if err != nil {
		b.Fatal(err)
	}
	p := pluginhost.NewProcessor(in)
	ctx := context.Background()
	for i := 0; i < 200; i++ { // warm the connection
		if _, err := p.Capabilities(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Capabilities", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if _, err := p.Capabilities(ctx); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportLatencies(b, lat)
	})
	// A money-moving call includes the sandbox's durable write of its
	// idempotency record, as every real processor plugin must do.
	b.Run("Authorize", func(b *testing.B) {
		cred, err := sandboxCard(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			start := time.Now()
			_, err := p.Authorize(ctx, processor.AuthorizeRequest{
				IdempotencyKey: fmt.Sprintf("bench/%d/%d", time.Now().UnixNano(), i),
				Credential:     cred,
				Amount:         money.Money{Amount: 500, Currency: "USD"},
			})
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportLatencies(b, lat)
	})
}

func sandboxSpecB(b *testing.B) pluginhost.Spec {
	return pluginhost.Spec{
		Kind: "processor", Name: "sandbox", Path: testbin.Plugin(b, "processor-sandbox"),
		Settings: []byte(`{"state_file":"` + filepath.Join(b.TempDir(), "state.json") + `","webhook_secret":"pluginhost-bench-secret-0123"}`),
	}
}

// sandboxCard stores the sandbox's approving test card through its hosted
// page, with the calls the host makes.
func sandboxCard(ctx context.Context, p processor.Processor) (processor.StoredCredential, error) {
	co, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: fmt.Sprintf("bench/card/%d", time.Now().UnixNano()),
		CustomerRef: "viewer/1", ReturnURL: "https://camkit.test/return"})
	if err != nil {
		return processor.StoredCredential{}, err
	}
	u, err := url.Parse(co.URL)
	if err != nil {
		return processor.StoredCredential{}, err
	}
	form := url.Values{"ref": {co.Reference}, "card_number": {"4242424242424242"}, "exp": {"12/40"}, "cvc": {"123"}}
	resp, err := p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: u.Path, Body: []byte(form.Encode()),
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if err != nil {
		return processor.StoredCredential{}, err
	}
	back, err := url.Parse(resp.Headers.Get("Location"))
	if err != nil {
		return processor.StoredCredential{}, err
	}
	res, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/1", Params: back.Query()})
	if err != nil {
		return processor.StoredCredential{}, err
	}
	if res.Credential == nil {
		return processor.StoredCredential{}, fmt.Errorf("checkout gave no credential")
	}
	return *res.Credential, nil
}
