package currency

import (
	"context"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/proto/currencyv1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Plugin is the go-plugin glue for the currency kind. A plugin serves it with
// Impl set (see Serve); the host registers it with Impl nil under the key
// pluginkit.KindCurrency and gets a Converter from Dispense.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Converter
}

var (
	_ plugin.GRPCPlugin = (*Plugin)(nil)
	_ Converter         = (*grpcClient)(nil)
)

// GRPCServer serves Impl's Currency service and its Module service.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginkit.RegisterModule(s, p.Impl)
	currencyv1.RegisterCurrencyServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a Converter that calls the plugin over conn.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &grpcClient{ModuleClient: pluginkit.NewModuleClient(conn), c: currencyv1.NewCurrencyClient(conn)}, nil
}

type grpcServer struct {
	currencyv1.UnimplementedCurrencyServer
	impl Converter
}

func (s *grpcServer) Quote(ctx context.Context, r *currencyv1.QuoteRequest) (*currencyv1.Quote, error) {
	req := QuoteRequest{From: r.GetFrom(), To: r.GetTo()}
	// Checked here so that no plugin author has to reject non-ISO codes by hand.
	if err := req.Validate(); err != nil {
		return nil, errs.ToStatus(err)
	}
	q, err := s.impl.Quote(ctx, req)
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return &currencyv1.Quote{
		From: q.From, To: q.To, Rate: q.Rate, QuoteId: q.QuoteID, Source: q.Source,
		AsOf: toTimestamp(q.AsOf), ExpiresAt: toTimestamp(q.ExpiresAt),
	}, nil
}

type grpcClient struct {
	pluginkit.ModuleClient
	c currencyv1.CurrencyClient
}

func (c *grpcClient) Quote(ctx context.Context, req QuoteRequest) (Quote, error) {
	r, err := c.c.Quote(ctx, &currencyv1.QuoteRequest{From: req.From, To: req.To})
	if err != nil {
		return Quote{}, errs.FromStatus(err)
	}
	return Quote{
		From: r.GetFrom(), To: r.GetTo(), Rate: r.GetRate(), QuoteID: r.GetQuoteId(), Source: r.GetSource(),
		AsOf: fromTimestamp(r.GetAsOf()), ExpiresAt: fromTimestamp(r.GetExpiresAt()),
	}, nil
}

// A zero time crosses as an absent timestamp, so that it comes back zero
// (and Quote.Validate can say "no as-of time") rather than as year 1.
func toTimestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func fromTimestamp(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
