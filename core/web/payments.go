package web

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/camkit/camkit/core/audit"
	"github.com/camkit/camkit/core/clientaddr"
	"github.com/camkit/camkit/core/httperror"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/gofiber/fiber/v2"
)

// ProcessorRoutes proxies /pay/<name>/... to the active processor plugin's own
// routes (hosted card page, return URLs). Bodies pass through unread and are
// never logged: a hosted card form posts card data here.
type ProcessorRoutes struct {
	Name      string
	Processor processor.Processor
	Sink      WebhookSink
	// Audit records every refused webhook (reason, client address); nil
	// records nothing.
	Audit *audit.Log
}

// WebhookSink receives the verified, normalised events of a webhook. It must
// be idempotent on Event.ID: processors resend, and attackers replay.
type WebhookSink interface {
	HandleProcessorEvents(ctx context.Context, processor string, events []processor.Event) error
}

// Mount adds /pay/<name>/* and POST /webhooks/<name>.
func (r *ProcessorRoutes) Mount(app *fiber.App) {
	app.All("/pay/"+r.Name+"/*", r.proxy)
	app.Post("/webhooks/"+r.Name, r.webhook)
}

// webhook verifies through the plugin, hands the events to the sink, and only
// then answers what the processor expects: a failure to record answers 503 so
// the processor retries instead of the event being lost. Whatever is refused
// is audited with the reason and the client's address (refuse).
func (r *ProcessorRoutes) webhook(c *fiber.Ctx) error {
	req, err := proxiedRequest(c)
	if err != nil {
		return r.refuse(c, audit.WebhookMalformed, err)
	}
	res, err := r.Processor.ParseWebhook(c.UserContext(), req)
	if err != nil {
		return r.refuse(c, audit.WebhookReasonOf(err), err)
	}
	if r.Sink != nil && len(res.Events) > 0 {
		if err := r.Sink.HandleProcessorEvents(c.UserContext(), r.Name, res.Events); err != nil {
			return r.refuse(c, audit.WebhookNotRecorded, err)
		}
	}
	return send(c, res.Response)
}

// refuse audits a refused webhook and answers it in plain text with the
// status of the host's one table: a processor reads no themed page. The
// plugin's words on why it refused are the processor's business; why the
// host failed to record an authentic one (its database, its ledger) is not.
func (r *ProcessorRoutes) refuse(c *fiber.Ctx, reason audit.WebhookReason, err error) error {
	r.Audit.WebhookRefused(r.Name, reason, clientaddr.String(c), err)
	msg := httperror.Message(err)
	if reason == audit.WebhookNotRecorded {
		msg = "the notification was not recorded: deliver it again"
	}
	if after := httperror.RetryAfterHeader(err); after != "" {
		c.Set(fiber.HeaderRetryAfter, after)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.Status(httperror.Status(err)).SendString(msg)
}

func (r *ProcessorRoutes) proxy(c *fiber.Ctx) error {
	req, err := proxiedRequest(c)
	if err != nil {
		return err
	}
	resp, err := r.Processor.ServeHTTP(c.UserContext(), req)
	if err != nil {
		return err
	}
	return send(c, resp)
}

func proxiedRequest(c *fiber.Ctx) (processor.HTTPRequest, error) {
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return processor.HTTPRequest{}, fiber.NewError(fiber.StatusBadRequest, "malformed query string")
	}
	h := http.Header{}
	c.Request().Header.VisitAll(func(k, v []byte) {
		key := string(k)
		if strings.EqualFold(key, fiber.HeaderCookie) || strings.EqualFold(key, fiber.HeaderAuthorization) {
			return // the host's session is none of the plugin's business
		}
		if clientaddr.IsForwarding(key) {
			return // RemoteAddr is the client, resolved once by clientaddr; what a client wrote here is not
		}
		h.Add(key, string(v))
	})
	return processor.HTTPRequest{
		Method:     c.Method(),
		Path:       c.Path(),
		Query:      q,
		Headers:    h,
		Body:       append([]byte(nil), c.Body()...),
		RemoteAddr: remoteAddr(c),
	}, nil
}

func send(c *fiber.Ctx, resp processor.HTTPResponse) error {
	for k, vs := range resp.Headers {
		if strings.EqualFold(k, fiber.HeaderSetCookie) {
			continue
		}
		for _, v := range vs {
			c.Response().Header.Add(k, v)
		}
	}
	status := resp.Status
	if status == 0 {
		status = fiber.StatusOK
	}
	return c.Status(status).Send(resp.Body)
}

// remoteAddr is the sender as processors' IP allow-lists must see it, in the
// "ip:port" form of the plugin contract (the port of a forwarded client is
// unknown: 0).
func remoteAddr(c *fiber.Ctx) string {
	return net.JoinHostPort(clientaddr.String(c), "0")
}
