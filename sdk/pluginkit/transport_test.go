package pluginkit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/theme"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// echoTheme answers a page with a document as large as asked that carries
// the page's JSON, so both directions cross with messages past gRPC's
// pooling tiers.
type echoTheme struct{ size int }

func (e *echoTheme) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindTheme, Name: "echo", Version: "0"}, nil
}
func (e *echoTheme) Configure(context.Context, []byte) error { return nil }
func (e *echoTheme) Manifest(context.Context) (theme.Manifest, error) {
	return theme.Manifest{Name: "echo"}, nil
}
func (e *echoTheme) Asset(context.Context, string) (theme.Asset, error) {
	return theme.Asset{}, errs.E(errs.NotFound, "none")
}
func (e *echoTheme) Render(_ context.Context, p theme.Page) (theme.Rendered, error) {
	return theme.Rendered{HTML: echoDoc(p, e.size), Status: 200}, nil
}

func echoDoc(p theme.Page, size int) []byte {
	b, _ := json.Marshal(p)
	doc := append([]byte("<!doctype html><pre>"), b...)
	for len(doc) < size {
		doc = append(doc, "<p>padding</p>"...)
	}
	return doc
}

// TestTunedAndDefaultEndsInteroperate: a host with the tuned dial options
// renders through a plugin served with gRPC's defaults (built against an
// older SDK) and the other way round, as well as tuned to tuned, with
// pages and documents in every size range of the pool.
func TestTunedAndDefaultEndsInteroperate(t *testing.T) {
	for _, c := range []struct {
		name   string
		server []grpc.ServerOption
		dial   []grpc.DialOption
	}{
		{"tuned both", pluginkit.GRPCServerOptions(), pluginkit.GRPCDialOptions()},
		{"default plugin", nil, pluginkit.GRPCDialOptions()},
		{"default host", pluginkit.GRPCServerOptions(), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			impl := &echoTheme{}
			lis := bufconn.Listen(1 << 20)
			srv := grpc.NewServer(c.server...)
			if err := (&theme.Plugin{Impl: impl}).GRPCServer(nil, srv); err != nil {
				t.Fatal(err)
			}
			go srv.Serve(lis)
			defer srv.Stop()
			dial := append([]grpc.DialOption{
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
				grpc.WithTransportCredentials(insecure.NewCredentials()),
			}, c.dial...)
			conn, err := grpc.NewClient("passthrough:///plugin", dial...)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			th := theme.NewClient(conn)
			ctx := context.Background()
			for _, n := range []int{0, 3, 100, 1000} {
				for _, size := range []int{100, 56 << 10, 1<<20 + 7, 3 << 20} {
					impl.size = size
					page := theme.SampleHomePage(n)
					r, err := th.Render(ctx, page)
					if err != nil {
						t.Fatalf("%d models, %d bytes: %v", n, size, err)
					}
					// The plugin decoded the page the host sent, and the
					// host got the whole document back.
					want := echoDoc(page, size)
					if !bytes.Equal(r.HTML, want) {
						t.Fatalf("%d models, %d bytes: got %d bytes back, want %d", n, size, len(r.HTML), len(want))
					}
					if n > 0 && !strings.Contains(string(r.HTML), page.Live[n-1].Model.ProfileURL) {
						t.Fatalf("%d models: the last model did not make the trip", n)
					}
				}
			}
			if info, err := th.Info(ctx); err != nil || info.Name != "echo" {
				t.Fatalf("Info: %+v, %v", info, err)
			}
		})
	}
}
