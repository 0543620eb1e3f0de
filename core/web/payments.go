package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/camkit/camkit/sdk/processor"
	"github.com/gofiber/fiber/v2"
)

// ProcessorRoutes proxies /pay/<name>/... to the active processor plugin's own
// routes (hosted card page, return URLs). Bodies pass through unread and are
// never logged: a hosted card form posts card data here.
type ProcessorRoutes struct {
	Name      string
	Processor processor.Processor
}

// Mount adds /pay/<name>/*.
func (r *ProcessorRoutes) Mount(app *fiber.App) {
	app.All("/pay/"+r.Name+"/*", r.proxy)
}

func (r *ProcessorRoutes) proxy(c *fiber.Ctx) error {
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "malformed query string")
	}
	h := http.Header{}
	c.Request().Header.VisitAll(func(k, v []byte) {
		key := string(k)
		if strings.EqualFold(key, fiber.HeaderCookie) || strings.EqualFold(key, fiber.HeaderAuthorization) {
			return // the host's session is none of the plugin's business
		}
		h.Add(key, string(v))
	})
	resp, err := r.Processor.ServeHTTP(c.UserContext(), processor.HTTPRequest{
		Method:     c.Method(),
		Path:       c.Path(),
		Query:      q,
		Headers:    h,
		Body:       append([]byte(nil), c.Body()...),
		RemoteAddr: c.Context().RemoteAddr().String(),
	})
	if err != nil {
		return err
	}
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
