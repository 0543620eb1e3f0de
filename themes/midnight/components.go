package main

import (
	"context"
	"html"
	"io"
	"strconv"

	"github.com/camkit/camkit/sdk/theme"
)

// Small components written in Go for what the home page repeats on each of
// its plates. templ's `{ s }` copies every string through fmt.Sprint and
// each templ component call allocates its context and closure; these write
// the same bytes with neither. A page of 100 live models is rendered on
// every request, so they count.

// text writes s HTML-escaped, as `{ s }` does.
type text string

func (t text) Render(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, html.EscapeString(string(t)))
	return err
}

// num writes an integer.
type num int

func (n num) Render(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, strconv.Itoa(int(n)))
	return err
}

// tagLine writes tags escaped, separated by " · ", spaced as the template
// it replaces wrote them (" a ·  b"; a browser collapses the spaces).
type tagLine []string

func (ts tagLine) Render(_ context.Context, w io.Writer) error {
	for i, t := range ts {
		sep := " "
		if i > 0 {
			sep = " ·  "
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := io.WriteString(w, html.EscapeString(t)); err != nil {
			return err
		}
	}
	return nil
}

// stateMark is a show's mode as a label. Its classes are constants: a class
// expression would cost templ a CSS class builder per plate.
type stateMark theme.ShowMode

func (m stateMark) Render(_ context.Context, w io.Writer) error {
	var open string
	switch theme.ShowMode(m) {
	case theme.ModePublic:
		open = `<span class="state state-air"><span class="state-dot" aria-hidden="true"></span>`
	case theme.ModePrivate:
		open = `<span class="state state-private">`
	case theme.ModeGroup:
		open = `<span class="state state-group">`
	default:
		open = `<span class="state state-off">`
	}
	if _, err := io.WriteString(w, open); err != nil {
		return err
	}
	if _, err := io.WriteString(w, html.EscapeString(modeLabel(theme.ShowMode(m)))); err != nil {
		return err
	}
	_, err := io.WriteString(w, "</span>")
	return err
}
