package main

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"github.com/camkit/camkit/sdk/theme"
)

var imgTag = regexp.MustCompile(`<img\b[^>]*>`)
var srcAttr = regexp.MustCompile(`\bsrc="([^"]*)"`)

// imgSources lists the src of every <img> of a page ("" for one without).
func imgSources(t *testing.T, p theme.Page) []string {
	t.Helper()
	r, err := newTheme().Render(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tag := range imgTag.FindAllString(string(r.HTML), -1) {
		m := srcAttr.FindStringSubmatch(tag)
		if m == nil {
			out = append(out, "")
			continue
		}
		out = append(out, m[1])
	}
	return out
}

// A card shows the host's thumbnail, else the model's profile picture, else
// no <img> at all: never one without a source (a broken image).
func TestCardPicturesNeverBreak(t *testing.T) {
	card := func(id, thumb, avatar string) theme.LiveModel {
		return theme.LiveModel{ShowID: "s-" + id, ThumbnailURL: thumb, Mode: theme.ModePublic, Viewers: 3,
			Model: theme.ModelSummary{ID: id, DisplayName: "Model " + id, AvatarURL: avatar, RoomURL: "/shows/s-" + id}}
	}
	page := &theme.HomePage{Live: []theme.LiveModel{
		card("a", "/shows/s-a/thumbnail", "/media/a.jpg"),
		card("b", "", "/media/b.jpg"),
		card("c", "", ""),
	}}
	got := imgSources(t, page)
	for _, src := range got {
		if src == "" {
			t.Fatalf("an <img> without a source: %q", got)
		}
	}
	for _, want := range []string{"/shows/s-a/thumbnail", "/media/b.jpg"} {
		if !slices.Contains(got, want) {
			t.Errorf("no <img> of %s among %q", want, got)
		}
	}
	if slices.Contains(got, "/media/a.jpg") {
		t.Errorf("a card with a thumbnail also shows the profile picture: %q", got)
	}
}

// The room's player shows the show's picture as its poster.
func TestRoomPlayerPoster(t *testing.T) {
	room := &theme.RoomPage{ShowID: "s-1", Mode: theme.ModePublic, PlayerURL: "/whep/s-1", ChatURL: "/ws/chat/s-1",
		PosterURL: "/shows/s-1/thumbnail"}
	r, err := newTheme().Render(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`<video\b[^>]*\bposter="/shows/s-1/thumbnail"`).Match(r.HTML) {
		t.Fatal("the room's player has no poster")
	}
	room.PosterURL = ""
	r, _ = newTheme().Render(context.Background(), room)
	if regexp.MustCompile(`<video\b[^>]*\bposter=`).Match(r.HTML) {
		t.Fatal("an empty poster is written out")
	}
}
