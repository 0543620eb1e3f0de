package app_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/theme"
)

// TestRotateStreamKeyThroughTheHost: the dashboard's "Rotate key" form needs
// CSRF, a double submit of the same form rotates once, and afterwards WHIP
// refuses the old key (401) and takes the new one.
func TestRotateStreamKeyThroughTheHost(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keyOf := func() string {
		body := w.model.get("/dashboard").must(t, http.StatusOK, "dashboard").body
		m := mustRE(`id="stream-key" value="([^"]+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("the dashboard shows no stream key:\n%s", body)
		}
		return htmlUnescape(m[1])
	}
	old := keyOf()
	var my struct {
		StreamKey string `json:"stream_key"`
		WHIPURL   string `json:"whip_url"`
	}
	w.model.api(http.MethodGet, "/me/show", nil, "").must(t, http.StatusOK, "my show").json(t, &my)
	if my.StreamKey != old || my.WHIPURL != w.url+"/whip" {
		t.Fatalf("/me/show: %+v, want key %s and whip_url %s/whip", my, old, w.url)
	}

	w.model.form("/dashboard/stream-key", nil, false).must(t, http.StatusForbidden, "rotate without CSRF")
	if keyOf() != old {
		t.Fatal("a post without CSRF rotated the key")
	}
	form := url.Values{theme.IdempotencyField: {"idem-rotate-0123456789"}}
	w.model.form("/dashboard/stream-key", form, true).must(t, http.StatusSeeOther, "rotate")
	fresh := keyOf()
	if fresh == old {
		t.Fatal("the key did not change")
	}
	w.model.form("/dashboard/stream-key", url.Values{theme.IdempotencyField: {"idem-rotate-0123456789"}}, true).must(t, http.StatusSeeOther, "rotate again (double submit)")
	if got := keyOf(); got != fresh {
		t.Fatalf("a double submit rotated twice: %s, want %s", got, fresh)
	}

	_, err := streamtest.Publish(ctx, streamtest.HTTPSignal(w.url+"/whip", old, nil), streamtest.PublisherOptions{})
	if he, ok := err.(*streamtest.HTTPError); !ok || he.Status != http.StatusUnauthorized {
		t.Fatalf("WHIP with the rotated-away key: %v, want 401", err)
	}
	pub, err := streamtest.Publish(ctx, streamtest.HTTPSignal(w.url+"/whip", fresh, nil), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatalf("WHIP with the new key: %v", err)
	}
	pub.Close()
}
