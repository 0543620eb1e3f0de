package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/sdk/money"
)

// BenchmarkHomePage100Live renders the home page with 100 models on air
// through the theme plugin process, with concurrent requests from anonymous
// visitors (past the 18+ gate) over loopback HTTP to the fiber app; their
// page is shared among them for up to a second (web.Pages.RenderShared). It
// reports pages/s; the target on the 2-core reference machine is 2,000.
//
//	go test -run '^$' -bench HomePage100Live -benchtime 5s ./core/app
func BenchmarkHomePage100Live(b *testing.B) { benchHome(b, false) }

// BenchmarkHomePage100LiveSignedIn is the same page for a signed-in viewer:
// her name and wallet are on it, so every request is rendered through the
// theme plugin (the anonymous page is shared for a second).
//
//	go test -run '^$' -bench HomePage100LiveSignedIn -benchtime 5s ./core/app
func BenchmarkHomePage100LiveSignedIn(b *testing.B) { benchHome(b, true) }

func benchHome(b *testing.B, signedIn bool) {
	s := newSite(b, nil)
	ctx := context.Background()
	admin, err := s.acc.CreateUser(ctx, accounts.NewUser{Email: "ops@example.com", DisplayName: "Ops", Password: "correct horse battery", Role: accounts.RoleAdmin})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		m, err := s.acc.CreateUser(ctx, accounts.NewUser{Email: fmt.Sprintf("model%03d@example.com", i), DisplayName: fmt.Sprintf("Model %03d", i),
			Password: "correct horse battery", Role: accounts.RoleModel})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.acc.ApproveModel(ctx, admin.ID, m.ID); err != nil {
			b.Fatal(err)
		}
		if _, err := s.acc.SetRate(ctx, m.ID, m.ID, money.Money{Amount: int64(100 + i), Currency: "USD"}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.acc.UpdateProfile(ctx, m.ID, m.ID, accounts.ProfileUpdate{Tags: []string{"tag" + fmt.Sprint(i%7), "hd"}}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.app.Shows.GoLive(ctx, m.ID); err != nil {
			b.Fatal(err)
		}
	}
	v := s.browser("visitor")
	if signedIn {
		v.signup("viewer@example.com", "Vera Viewer", "viewer")
	} else {
		v.passAge()
	}
	u := v.s.url + "/"
	// Every worker shares the visitor's cookies (age gate, CSRF binding).
	cookies := v.c.Jar.Cookies(mustURL(u))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	get := func() (int, int) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		r, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return r.StatusCode, int(n)
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	first := v.do(req)
	if first.code != 200 || strings.Count(first.body, "/shows/") < 100 {
		b.Fatalf("home page: %d with %d show links", first.code, strings.Count(first.body, "/shows/"))
	}
	if signedIn != strings.Contains(first.body, "Vera Viewer") {
		b.Fatalf("signed in %v, but the page names the viewer: %v", signedIn, !signedIn)
	}
	var bytes atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			code, n := get()
			if code != 200 {
				b.Errorf("status %d", code)
				return
			}
			bytes.Add(int64(n))
		}
	})
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "pages/s")
	b.ReportMetric(float64(bytes.Load())/float64(b.N), "bytes/page")
}
