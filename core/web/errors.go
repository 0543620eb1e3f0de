package web

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/camkit/camkit/core/httperror"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// FieldError is bad input in one named field: a form shows it beside the
// field, the API names the field in its JSON error.
type FieldError struct {
	Field string
	Err   *errs.Error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Message }
func (e *FieldError) Unwrap() error { return e.Err }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: errs.E(errs.Invalid, format, args...)}
}

func fieldErrors(err error) []theme.FieldError {
	var fe *FieldError
	if errors.As(err, &fe) {
		return []theme.FieldError{{Field: fe.Field, Message: fe.Err.Message}}
	}
	return []theme.FieldError{{Message: message(err)}}
}

// message is what a person is told: a fiber error's own text (the
// framework's, or one built from httperror already), else the host's one
// client-safe message (internals stay in the log).
func message(err error) string {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return httperror.Message(err)
}

// pageError is the error handler's answer for a page (not /api/): a GET that
// needs a session goes to the log-in page, everything else gets the theme's
// error page with the status.
func (p *Product) PageError(c *fiber.Ctx, status int, err error) error {
	if status == fiber.StatusUnauthorized && (c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead) {
		return c.Redirect("/login?return_to="+url.QueryEscape(string(c.Request().URI().RequestURI())), fiber.StatusSeeOther)
	}
	msg := message(err)
	if status == fiber.StatusNotFound && !strings.Contains(msg, " ") {
		msg = "There is nothing here."
	}
	return p.Pages.RenderError(c, status, msg)
}

// back redirects to where a form came from, with a flash saying what happened.
func back(c *fiber.Ctx, to string, level theme.FlashLevel, format string, args ...any) error {
	flash(c, level, fmt.Sprintf(format, args...))
	return c.Redirect(to, fiber.StatusSeeOther)
}
