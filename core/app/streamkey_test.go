package app_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/theme"
)

// TestRotateStreamKeyThroughTheHost: the host keeps only a digest of the
// key, so her dashboard shows the whole key once, right after it was made or
// rotated, and its hint afterwards. The "Rotate key" form needs CSRF, a
// double submit of the same form rotates once, and afterwards WHIP refuses
// the old key (401) and takes the new one. No table of the database, the
// idempotency records included, holds either key.
func TestRotateStreamKeyThroughTheHost(t *testing.T) {
	db := storetest.Postgres(t)
	w := newWorldOn(t, newSiteOn(t, db, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dashboard := func() (key, body string) {
		body = w.model.get("/dashboard").must(t, http.StatusOK, "dashboard").body
		if m := mustRE(`id="stream-key" value="([^"]+)"`).FindStringSubmatch(body); m != nil {
			key = htmlUnescape(m[1])
		}
		return key, body
	}
	hidden := func(what, hint string) {
		t.Helper()
		key, body := dashboard()
		if key != "" || !strings.Contains(body, hint) || strings.Contains(body, "data-stream-key-once") {
			t.Fatalf("%s: the dashboard shows key %q (want none) and hint %q:\n%s", what, key, hint, body)
		}
	}
	// Going live made her key: the first dashboard shows it, once.
	old, body := dashboard()
	if !strings.HasPrefix(old, "sk_") || !strings.Contains(body, "data-stream-key-once") || !strings.Contains(body, "will not be shown again") {
		t.Fatalf("the first dashboard shows key %q:\n%s", old, body)
	}
	hidden("the second dashboard", shows.StreamKeyHint(old))
	var my struct {
		StreamKey     string `json:"stream_key"`
		StreamKeyHint string `json:"stream_key_hint"`
		WHIPURL       string `json:"whip_url"`
	}
	w.model.api(http.MethodGet, "/me/show", nil, "").must(t, http.StatusOK, "my show").json(t, &my)
	if my.StreamKey != "" || my.StreamKeyHint != shows.StreamKeyHint(old) || my.WHIPURL != w.url+"/whip" {
		t.Fatalf("/me/show: %+v, want hint %s only and whip_url %s/whip", my, shows.StreamKeyHint(old), w.url)
	}

	w.model.form("/dashboard/stream-key", nil, false).must(t, http.StatusForbidden, "rotate without CSRF")
	hidden("after a post without CSRF", shows.StreamKeyHint(old))
	form := url.Values{theme.IdempotencyField: {"idem-rotate-0123456789"}}
	w.model.form("/dashboard/stream-key", form, true).must(t, http.StatusSeeOther, "rotate")
	fresh, body := dashboard()
	if fresh == "" || fresh == old || !strings.Contains(body, "data-stream-key-once") {
		t.Fatalf("after rotating the dashboard shows key %q (old %q):\n%s", fresh, old, body)
	}
	w.model.form("/dashboard/stream-key", url.Values{theme.IdempotencyField: {"idem-rotate-0123456789"}}, true).must(t, http.StatusSeeOther, "rotate again (double submit)")
	hidden("after a double submit (rotated once)", shows.StreamKeyHint(fresh))

	for _, k := range []string{old, fresh} {
		if where := findInDatabase(t, db, k); where != "" {
			t.Fatalf("the key %s is stored in %s", shows.StreamKeyHint(k), where)
		}
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

// findInDatabase names the first table of the PostgreSQL database whose
// rows, as text, contain s, or its bytes in hex as a bytea column shows
// them ("" when none does).
func findInDatabase(t *testing.T, db *store.DB, s string) string {
	t.Helper()
	rows, err := db.SQL().Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if err := rows.Close(); err != nil || len(tables) < 10 {
		t.Fatalf("tables %v: %v", tables, err)
	}
	for _, tb := range tables {
		var n int
		if err := db.SQL().QueryRow(`SELECT count(*) FROM "`+tb+`" t WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0`,
			s, hex.EncodeToString([]byte(s))).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return tb
		}
	}
	return ""
}
