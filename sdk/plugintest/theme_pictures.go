package plugintest

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"github.com/camkit/camkit/sdk/theme"
)

var (
	themeImgTag     = regexp.MustCompile(`<img\b[^>]*>`)
	themeSrcAttr    = regexp.MustCompile(`\bsrc="([^"]*)"`)
	themePosterAttr = regexp.MustCompile(`<video\b[^>]*\bposter="([^"]*)"`)
	themeAnyPoster  = regexp.MustCompile(`<video\b[^>]*\bposter=`)
)

// themeImgSources lists the src of every <img> of a rendered page ("" for
// one without).
func themeImgSources(t *testing.T, th theme.Theme, p theme.Page) []string {
	t.Helper()
	r, err := th.Render(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tag := range themeImgTag.FindAllString(string(r.HTML), -1) {
		m := themeSrcAttr.FindStringSubmatch(tag)
		if m == nil {
			out = append(out, "")
			continue
		}
		out = append(out, m[1])
	}
	return out
}

// themeCheckCardPictures: a card shows the host's thumbnail, else the
// model's profile picture, else no <img> at all: never one without a source
// (a broken image).
func themeCheckCardPictures(t *testing.T, th theme.Theme) {
	card := func(id, thumb, avatar string) theme.LiveModel {
		return theme.LiveModel{ShowID: "s-" + id, ThumbnailURL: thumb, Mode: theme.ModePublic, Viewers: 3,
			Model: theme.ModelSummary{ID: id, DisplayName: "Model " + id, AvatarURL: avatar, RoomURL: "/shows/s-" + id}}
	}
	page := &theme.HomePage{Live: []theme.LiveModel{
		card("a", "/shows/s-a/thumbnail", "/media/a.jpg"),
		card("b", "", "/media/b.jpg"),
		card("c", "", ""),
	}}
	got := themeImgSources(t, th, page)
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

// themeCheckRoomPoster: the room's player shows the show's picture as its
// poster, and writes no empty one.
func themeCheckRoomPoster(t *testing.T, th theme.Theme) {
	room := &theme.RoomPage{ShowID: "s-1", Mode: theme.ModePublic, PlayerURL: "/whep/s-1", ChatURL: "/ws/chat/s-1",
		PosterURL: "/shows/s-1/thumbnail"}
	r, err := th.Render(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	if m := themePosterAttr.FindSubmatch(r.HTML); m == nil || string(m[1]) != "/shows/s-1/thumbnail" {
		t.Fatal("the room's player has no poster")
	}
	room.PosterURL = ""
	r, err = th.Render(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	if themeAnyPoster.Match(r.HTML) {
		t.Fatal("an empty poster is written out")
	}
}
