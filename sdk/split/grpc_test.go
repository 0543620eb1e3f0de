package split

import (
	"context"
	"errors"
	"net"
	"reflect"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/proto/splitv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

type fakeSplitter struct {
	got   []AllocateRequest
	reply Allocation
	err   error
}

func (f *fakeSplitter) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindSplit, Name: "fake", Version: "0.0.1"}, nil
}

func (f *fakeSplitter) Configure(context.Context, []byte) error { return nil }

func (f *fakeSplitter) Allocate(_ context.Context, r AllocateRequest) (Allocation, error) {
	f.got = append(f.got, r)
	return f.reply, f.err
}

// dial serves impl through Plugin's GRPCServer on an in-memory listener and
// returns the Splitter from Plugin's GRPCClient, plus the raw connection.
func dial(t *testing.T, impl Splitter) (Splitter, *grpc.ClientConn) {
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
	c, ok := raw.(Splitter)
	if !ok {
		t.Fatalf("GRPCClient returned %T, not a Splitter", raw)
	}
	return c, conn
}

func TestGRPCRoundTrip(t *testing.T) {
	impl := &fakeSplitter{reply: fullAllocation()}
	c, _ := dial(t, impl)
	ctx := context.Background()

	if info, err := c.Info(ctx); err != nil || info.Kind != pluginkit.KindSplit {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	req := fullRequest()
	a, err := c.Allocate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(impl.got) != 1 || !reflect.DeepEqual(impl.got[0], req) {
		t.Fatalf("plugin received %+v, host sent %+v", impl.got, req)
	}
	if !reflect.DeepEqual(a, fullAllocation()) {
		t.Fatalf("host received %+v, plugin sent %+v", a, fullAllocation())
	}
}

func TestGRPCTypedErrorSurvives(t *testing.T) {
	impl := &fakeSplitter{err: errs.E(errs.Unsupported, "no rule for kind tip")}
	c, _ := dial(t, impl)
	_, err := c.Allocate(context.Background(), fullRequest())
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.Unsupported || e.Message != "no rule for kind tip" {
		t.Fatalf("plugin error came back as %#v", err)
	}
}

func TestGRPCServerRejectsBadRequestsBeforeThePlugin(t *testing.T) {
	impl := &fakeSplitter{reply: fullAllocation()}
	c, conn := dial(t, impl)
	ctx := context.Background()

	bad := fullRequest()
	bad.Kind = "bonus"
	if _, err := c.Allocate(ctx, bad); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("unknown kind: %v, want errs.Invalid", err)
	}
	// A request without an amount can only come from a hand-made client.
	_, err := splitv1.NewSplitClient(conn).Allocate(ctx, &splitv1.AllocateRequest{
		Kind: "tip", Parties: &splitv1.Parties{ModelId: "m"}, Reference: "tip/1",
	})
	if errs.CodeOf(errs.FromStatus(err)) != errs.Invalid {
		t.Errorf("missing amount: %v, want errs.Invalid", err)
	}
	if len(impl.got) != 0 {
		t.Fatalf("bad requests reached the plugin: %+v", impl.got)
	}
}
