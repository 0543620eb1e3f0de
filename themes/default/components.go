package main

import (
	"context"
	"html"
	"io"
	"strconv"

	"github.com/camkit/camkit/sdk/theme"
)

// Small components written in Go for what the home page repeats on each of
// its cards. templ's `{ s }` copies every string through fmt.Sprint and
// each templ component call allocates its context and closure; these write
// the same bytes with neither. A page of 100 live models is rendered on
// every request, so they count.

// text writes s HTML-escaped, as `{ s }` does.
type text string

func (t text) Render(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, html.EscapeString(string(t)))
	return err
}

// hashTag writes a tag as "#tag", escaped.
type hashTag string

func (t hashTag) Render(_ context.Context, w io.Writer) error {
	if _, err := io.WriteString(w, "#"); err != nil {
		return err
	}
	_, err := io.WriteString(w, html.EscapeString(string(t)))
	return err
}

// num writes an integer.
type num int

func (n num) Render(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, strconv.Itoa(int(n)))
	return err
}

// modeBadge is a show's mode as a badge. Its classes are constants: a class
// expression would cost templ a CSS class builder per card.
type modeBadge theme.ShowMode

func (m modeBadge) Render(_ context.Context, w io.Writer) error {
	var open string
	switch theme.ShowMode(m) {
	case theme.ModePublic:
		open = `<span class="badge badge-public"><span class="dot" aria-hidden="true"></span>`
	case theme.ModePrivate:
		open = `<span class="badge badge-private"><span class="dot" aria-hidden="true"></span>`
	case theme.ModeGroup:
		open = `<span class="badge badge-group"><span class="dot" aria-hidden="true"></span>`
	default:
		open = `<span class="badge badge-offline">`
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
