package processor

import (
	"context"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/proto/commonv1"
	pb "github.com/camkit/camkit/sdk/proto/processorv1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Plugin is the go-plugin GRPCPlugin of the processor kind. A plugin binary
// serves it (see Serve); the host puts Plugin{} in its plugin map under
// pluginkit.KindProcessor and gets a Processor back from Dispense.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Processor // set on the plugin side only
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// GRPCServer serves Impl's Processor and Module services.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginkit.RegisterModule(s, p.Impl)
	pb.RegisterProcessorServer(s, &server{impl: p.Impl})
	return nil
}

// GRPCClient returns a Processor that calls the plugin over conn.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return NewClient(conn), nil
}

// Serve runs impl as a processor plugin until the host goes away. A plugin's
// main is `processor.Serve(&myProcessor{})`.
func Serve(impl Processor) {
	pluginkit.Serve(pluginkit.KindProcessor, &Plugin{Impl: impl})
}

// server adapts a Processor to the generated gRPC server interface. Every
// error leaves through errs.ToStatus so its code and retry flag survive.
type server struct {
	pb.UnimplementedProcessorServer
	impl Processor
}

var _ pb.ProcessorServer = (*server)(nil)

func (s *server) Capabilities(ctx context.Context, _ *commonv1.Empty) (*pb.Capabilities, error) {
	c, err := s.impl.Capabilities(ctx)
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return capsToPB(c), nil
}

func (s *server) StartCheckout(ctx context.Context, r *pb.StartCheckoutRequest) (*pb.Checkout, error) {
	c, err := s.impl.StartCheckout(ctx, startFromPB(r))
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return checkoutToPB(c), nil
}

func (s *server) CompleteCheckout(ctx context.Context, r *pb.CompleteCheckoutRequest) (*pb.CheckoutResult, error) {
	res, err := s.impl.CompleteCheckout(ctx, CompleteCheckoutRequest{
		CheckoutReference: r.GetCheckoutReference(), CustomerRef: r.GetCustomerRef(), Params: valuesFromPB(r.GetParams()),
	})
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return checkoutResultToPB(res), nil
}

func (s *server) Authorize(ctx context.Context, r *pb.AuthorizeRequest) (*pb.Authorization, error) {
	a, err := s.impl.Authorize(ctx, AuthorizeRequest{
		IdempotencyKey: r.GetIdempotencyKey(), Credential: credFromPB(r.GetCredential()),
		Amount: moneyFromPB(r.GetAmount()), Description: r.GetDescription(),
	})
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return &pb.Authorization{Reference: a.Reference, Amount: moneyToPB(a.Amount), ExpiresAt: timeToPB(a.ExpiresAt)}, nil
}

func (s *server) Capture(ctx context.Context, r *pb.CaptureRequest) (*pb.CaptureResult, error) {
	c, err := s.impl.Capture(ctx, CaptureRequest{
		IdempotencyKey: r.GetIdempotencyKey(), AuthorizationReference: r.GetAuthorizationReference(), Amount: moneyFromPB(r.GetAmount()),
	})
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return &pb.CaptureResult{Reference: c.Reference, Amount: moneyToPB(c.Amount), Released: moneyToPB(c.Released)}, nil
}

func (s *server) Void(ctx context.Context, r *pb.VoidRequest) (*pb.VoidResult, error) {
	v, err := s.impl.Void(ctx, VoidRequest{IdempotencyKey: r.GetIdempotencyKey(), AuthorizationReference: r.GetAuthorizationReference()})
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return &pb.VoidResult{Reference: v.Reference, Amount: moneyToPB(v.Amount)}, nil
}

func (s *server) Charge(ctx context.Context, r *pb.ChargeRequest) (*pb.ChargeResult, error) {
	c, err := s.impl.Charge(ctx, ChargeRequest{
		IdempotencyKey: r.GetIdempotencyKey(), Credential: credFromPB(r.GetCredential()),
		Amount: moneyFromPB(r.GetAmount()), Description: r.GetDescription(),
	})
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return chargeResultToPB(c), nil
}

func (s *server) Refund(ctx context.Context, r *pb.RefundRequest) (*pb.RefundResult, error) {
	res, err := s.impl.Refund(ctx, RefundRequest{
		IdempotencyKey: r.GetIdempotencyKey(), Reference: r.GetReference(), Amount: moneyFromPB(r.GetAmount()), Reason: r.GetReason(),
	})
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return &pb.RefundResult{Reference: res.Reference, Amount: moneyToPB(res.Amount)}, nil
}

func (s *server) CancelRecurring(ctx context.Context, r *pb.CancelRecurringRequest) (*commonv1.Empty, error) {
	err := s.impl.CancelRecurring(ctx, CancelRecurringRequest{IdempotencyKey: r.GetIdempotencyKey(), SubscriptionReference: r.GetSubscriptionReference()})
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return &commonv1.Empty{}, nil
}

func (s *server) ParseWebhook(ctx context.Context, r *pb.HTTPRequest) (*pb.WebhookResult, error) {
	res, err := s.impl.ParseWebhook(ctx, httpRequestFromPB(r))
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return webhookResultToPB(res), nil
}

func (s *server) ServeHTTP(ctx context.Context, r *pb.HTTPRequest) (*pb.HTTPResponse, error) {
	res, err := s.impl.ServeHTTP(ctx, httpRequestFromPB(r))
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return httpResponseToPB(res), nil
}

func (s *server) Transactions(ctx context.Context, r *pb.TransactionsRequest) (*pb.TransactionReport, error) {
	res, err := s.impl.Transactions(ctx, TransactionsRequest{From: timeFromPB(r.GetFrom()), To: timeFromPB(r.GetTo())})
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return reportToPB(res), nil
}

// Client is the host's side: a Processor backed by a plugin's gRPC connection.
// Every error comes back as the *errs.Error the plugin raised.
type Client struct {
	pluginkit.ModuleClient
	c pb.ProcessorClient
}

var _ Processor = (*Client)(nil)

// NewClient wraps a gRPC connection to a processor plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{ModuleClient: pluginkit.NewModuleClient(conn), c: pb.NewProcessorClient(conn)}
}

func (c *Client) Capabilities(ctx context.Context) (Capabilities, error) {
	r, err := c.c.Capabilities(ctx, &commonv1.Empty{})
	if err != nil {
		return Capabilities{}, errs.FromStatus(err)
	}
	return capsFromPB(r), nil
}

func (c *Client) StartCheckout(ctx context.Context, req StartCheckoutRequest) (Checkout, error) {
	r, err := c.c.StartCheckout(ctx, startToPB(req))
	if err != nil {
		return Checkout{}, errs.FromStatus(err)
	}
	return checkoutFromPB(r), nil
}

func (c *Client) CompleteCheckout(ctx context.Context, req CompleteCheckoutRequest) (CheckoutResult, error) {
	r, err := c.c.CompleteCheckout(ctx, &pb.CompleteCheckoutRequest{
		CheckoutReference: req.CheckoutReference, CustomerRef: req.CustomerRef, Params: valuesToPB(req.Params),
	})
	if err != nil {
		return CheckoutResult{}, errs.FromStatus(err)
	}
	return checkoutResultFromPB(r), nil
}

func (c *Client) Authorize(ctx context.Context, req AuthorizeRequest) (Authorization, error) {
	r, err := c.c.Authorize(ctx, &pb.AuthorizeRequest{
		IdempotencyKey: req.IdempotencyKey, Credential: credToPB(req.Credential),
		Amount: moneyToPB(req.Amount), Description: req.Description,
	})
	if err != nil {
		return Authorization{}, errs.FromStatus(err)
	}
	return Authorization{Reference: r.GetReference(), Amount: moneyFromPB(r.GetAmount()), ExpiresAt: timeFromPB(r.GetExpiresAt())}, nil
}

func (c *Client) Capture(ctx context.Context, req CaptureRequest) (CaptureResult, error) {
	r, err := c.c.Capture(ctx, &pb.CaptureRequest{
		IdempotencyKey: req.IdempotencyKey, AuthorizationReference: req.AuthorizationReference, Amount: moneyToPB(req.Amount),
	})
	if err != nil {
		return CaptureResult{}, errs.FromStatus(err)
	}
	return CaptureResult{Reference: r.GetReference(), Amount: moneyFromPB(r.GetAmount()), Released: moneyFromPB(r.GetReleased())}, nil
}

func (c *Client) Void(ctx context.Context, req VoidRequest) (VoidResult, error) {
	r, err := c.c.Void(ctx, &pb.VoidRequest{IdempotencyKey: req.IdempotencyKey, AuthorizationReference: req.AuthorizationReference})
	if err != nil {
		return VoidResult{}, errs.FromStatus(err)
	}
	return VoidResult{Reference: r.GetReference(), Amount: moneyFromPB(r.GetAmount())}, nil
}

func (c *Client) Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error) {
	r, err := c.c.Charge(ctx, &pb.ChargeRequest{
		IdempotencyKey: req.IdempotencyKey, Credential: credToPB(req.Credential),
		Amount: moneyToPB(req.Amount), Description: req.Description,
	})
	if err != nil {
		return ChargeResult{}, errs.FromStatus(err)
	}
	return chargeResultFromPB(r), nil
}

func (c *Client) Refund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	r, err := c.c.Refund(ctx, &pb.RefundRequest{
		IdempotencyKey: req.IdempotencyKey, Reference: req.Reference, Amount: moneyToPB(req.Amount), Reason: req.Reason,
	})
	if err != nil {
		return RefundResult{}, errs.FromStatus(err)
	}
	return RefundResult{Reference: r.GetReference(), Amount: moneyFromPB(r.GetAmount())}, nil
}

func (c *Client) CancelRecurring(ctx context.Context, req CancelRecurringRequest) error {
	_, err := c.c.CancelRecurring(ctx, &pb.CancelRecurringRequest{IdempotencyKey: req.IdempotencyKey, SubscriptionReference: req.SubscriptionReference})
	return errs.FromStatus(err)
}

func (c *Client) ParseWebhook(ctx context.Context, req WebhookRequest) (WebhookResult, error) {
	r, err := c.c.ParseWebhook(ctx, httpRequestToPB(req))
	if err != nil {
		return WebhookResult{}, errs.FromStatus(err)
	}
	return webhookResultFromPB(r), nil
}

func (c *Client) ServeHTTP(ctx context.Context, req HTTPRequest) (HTTPResponse, error) {
	r, err := c.c.ServeHTTP(ctx, httpRequestToPB(req))
	if err != nil {
		return HTTPResponse{}, errs.FromStatus(err)
	}
	return httpResponseFromPB(r), nil
}

func (c *Client) Transactions(ctx context.Context, req TransactionsRequest) (TransactionReport, error) {
	r, err := c.c.Transactions(ctx, &pb.TransactionsRequest{From: timeToPB(req.From), To: timeToPB(req.To)})
	if err != nil {
		return TransactionReport{}, errs.FromStatus(err)
	}
	return reportFromPB(r), nil
}
