package split

import (
	"context"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/proto/commonv1"
	"github.com/camkit/camkit/sdk/proto/splitv1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Plugin is the go-plugin glue for the split kind. A plugin serves it with
// Impl set (see Serve); the host registers it with Impl nil under the key
// pluginkit.KindSplit and gets a Splitter from Dispense.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Splitter
}

var (
	_ plugin.GRPCPlugin = (*Plugin)(nil)
	_ Splitter          = (*grpcClient)(nil)
)

// GRPCServer serves Impl's Split service and its Module service.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginkit.RegisterModule(s, p.Impl)
	splitv1.RegisterSplitServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a Splitter that calls the plugin over conn. It does not
// Check the allocation: the host does, for plugins and in-process splitters alike.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &grpcClient{ModuleClient: pluginkit.NewModuleClient(conn), c: splitv1.NewSplitClient(conn)}, nil
}

type grpcServer struct {
	splitv1.UnimplementedSplitServer
	impl Splitter
}

func (s *grpcServer) Allocate(ctx context.Context, r *splitv1.AllocateRequest) (*splitv1.Allocation, error) {
	if r.GetAmount() == nil {
		return nil, errs.ToStatus(errs.E(errs.Invalid, "split: request %q has no amount", r.GetReference()))
	}
	req := AllocateRequest{
		Kind:   Kind(r.GetKind()),
		Amount: fromMoney(r.GetAmount()),
		Parties: Parties{
			ModelID:     r.GetParties().GetModelId(),
			StudioID:    r.GetParties().GetStudioId(),
			AffiliateID: r.GetParties().GetAffiliateId(),
		},
		Reference: r.GetReference(),
	}
	// Checked here so that a plugin may rely on a well-formed request.
	if err := req.Validate(); err != nil {
		return nil, errs.ToStatus(err)
	}
	a, err := s.impl.Allocate(ctx, req)
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	out := &splitv1.Allocation{Shares: make([]*splitv1.Share, len(a.Shares))}
	for i, sh := range a.Shares {
		out.Shares[i] = &splitv1.Share{Role: string(sh.Role), PartyId: sh.PartyID, Amount: toMoney(sh.Amount)}
	}
	return out, nil
}

type grpcClient struct {
	pluginkit.ModuleClient
	c splitv1.SplitClient
}

func (c *grpcClient) Allocate(ctx context.Context, req AllocateRequest) (Allocation, error) {
	r, err := c.c.Allocate(ctx, &splitv1.AllocateRequest{
		Kind:   string(req.Kind),
		Amount: toMoney(req.Amount),
		Parties: &splitv1.Parties{
			ModelId:     req.Parties.ModelID,
			StudioId:    req.Parties.StudioID,
			AffiliateId: req.Parties.AffiliateID,
		},
		Reference: req.Reference,
	})
	if err != nil {
		return Allocation{}, errs.FromStatus(err)
	}
	a := Allocation{Shares: make([]Share, len(r.GetShares()))}
	for i, sh := range r.GetShares() {
		if sh.GetAmount() == nil {
			return Allocation{}, errs.E(errs.Invalid, "split %s: plugin returned a %s share without an amount", req.Reference, sh.GetRole())
		}
		a.Shares[i] = Share{Role: Role(sh.GetRole()), PartyID: sh.GetPartyId(), Amount: fromMoney(sh.GetAmount())}
	}
	return a, nil
}

func toMoney(m money.Money) *commonv1.Money {
	return &commonv1.Money{Amount: m.Amount, Currency: m.Currency}
}

func fromMoney(m *commonv1.Money) money.Money {
	return money.Money{Amount: m.GetAmount(), Currency: m.GetCurrency()}
}
