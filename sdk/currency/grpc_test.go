package currency

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// fakeConverter records what reached it, so the test sees the glue's own checks.
type fakeConverter struct {
	settings []byte
	calls    int
}

func (f *fakeConverter) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindCurrency, Name: "fake", Version: "0.0.1"}, nil
}

func (f *fakeConverter) Configure(_ context.Context, s []byte) error {
	f.settings = s
	if string(s) == `{"bad":1}` {
		return errs.E(errs.Invalid, "settings: bad")
	}
	return nil
}

var asOf = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

func (f *fakeConverter) Quote(_ context.Context, r QuoteRequest) (Quote, error) {
	f.calls++
	if r.From == "CHF" {
		return Quote{}, errs.E(errs.UnknownCurrency, "no rate for %s", r.From)
	}
	if r.From == "SEK" {
		return Quote{}, errs.Retry(errs.Unavailable, "upstream down")
	}
	return Quote{From: r.From, To: r.To, Rate: "0.9213", QuoteID: "q-1", Source: "fake", AsOf: asOf, ExpiresAt: asOf.Add(time.Minute)}, nil
}

// dial serves impl through Plugin's GRPCServer on an in-memory listener and
// returns the Converter from Plugin's GRPCClient: the same glue as over a process.
func dial(t *testing.T, impl Converter) Converter {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer()
	if err := (&Plugin{Impl: impl}).GRPCServer(nil, s); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	raw, err := (&Plugin{}).GRPCClient(context.Background(), nil, conn)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := raw.(Converter)
	if !ok {
		t.Fatalf("GRPCClient returned %T, not a Converter", raw)
	}
	return c
}

func TestGRPCRoundTrip(t *testing.T) {
	impl := &fakeConverter{}
	c := dial(t, impl)
	ctx := context.Background()

	info, err := c.Info(ctx)
	if err != nil || info.Kind != pluginkit.KindCurrency || info.Name != "fake" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := c.Configure(ctx, []byte(`{"x":1}`)); err != nil || string(impl.settings) != `{"x":1}` {
		t.Fatalf("Configure: %v, settings reached plugin as %q", err, impl.settings)
	}
	if err := c.Configure(ctx, []byte(`{"bad":1}`)); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("Configure with bad settings = %v, want errs.Invalid", err)
	}

	req := QuoteRequest{From: "EUR", To: "USD"}
	q, err := c.Quote(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := Quote{From: "EUR", To: "USD", Rate: "0.9213", QuoteID: "q-1", Source: "fake", AsOf: asOf, ExpiresAt: asOf.Add(time.Minute)}
	if q.From != want.From || q.To != want.To || q.Rate != want.Rate || q.QuoteID != want.QuoteID ||
		q.Source != want.Source || !q.AsOf.Equal(want.AsOf) || !q.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("Quote = %+v, want %+v", q, want)
	}
	if err := q.Validate(req); err != nil {
		t.Fatalf("round-tripped quote invalid: %v", err)
	}
}

func TestGRPCTypedErrorsSurvive(t *testing.T) {
	impl := &fakeConverter{}
	c := dial(t, impl)
	ctx := context.Background()

	_, err := c.Quote(ctx, QuoteRequest{From: "CHF", To: "USD"})
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.UnknownCurrency || e.Retryable || e.Message != "no rate for CHF" {
		t.Fatalf("plugin's unknown currency came back as %#v", err)
	}
	_, err = c.Quote(ctx, QuoteRequest{From: "SEK", To: "USD"})
	if errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("plugin's retryable unavailable came back as %#v", err)
	}

	calls := impl.calls
	_, err = c.Quote(ctx, QuoteRequest{From: "XYZ", To: "USD"})
	if errs.CodeOf(err) != errs.UnknownCurrency {
		t.Fatalf("non-ISO code: %v, want errs.UnknownCurrency", err)
	}
	if impl.calls != calls {
		t.Fatal("a non-ISO code reached the plugin; the glue must reject it first")
	}
}
