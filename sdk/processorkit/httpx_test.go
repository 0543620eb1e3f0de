package processorkit

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

func TestRoundTripAndPostForm(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if r.Method == http.MethodPost && (r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.Header.Get("Accept") != "text/plain") {
			t.Errorf("headers = %v", r.Header)
		}
		w.Write([]byte(r.Method + " amount=" + r.Form.Get("amount") + " old=" + r.Form.Get("old")))
	}))
	defer srv.Close()
	status, body, err := PostForm(context.Background(), NewHTTPClient(5*time.Second), srv.URL, url.Values{"amount": {"10.00"}},
		http.Header{"Accept": {"text/plain"}})
	if err != nil || status != 200 || string(body) != "POST amount=10.00 old=" {
		t.Fatalf("PostForm = %d %q %v", status, body, err)
	}
	status, body, err = Get(context.Background(), NewHTTPClient(5*time.Second), srv.URL+"/x?old=1", url.Values{"amount": {"1"}}, nil)
	if err != nil || status != 200 || string(body) != "GET amount=1 old=" {
		t.Fatalf("Get = %d %q %v", status, body, err)
	}
}

func TestRoundTripTimeoutIsRetryableTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)

	// The client's own timeout.
	_, _, err := PostForm(context.Background(), NewHTTPClient(50*time.Millisecond), srv.URL+"/?security_key=secret", nil, nil)
	if errs.CodeOf(err) != errs.Timeout || !errs.IsRetryable(err) {
		t.Fatalf("client timeout: %v, want retryable timeout", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("the query string leaked into the error: %v", err)
	}
	// The host's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = PostForm(ctx, NewHTTPClient(time.Minute), srv.URL, nil, nil)
	if errs.CodeOf(err) != errs.Timeout || !errs.IsRetryable(err) {
		t.Fatalf("context deadline: %v, want retryable timeout", err)
	}
}

func TestRoundTripRefusedIsRetryableUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, _, err = PostForm(context.Background(), NewHTTPClient(5*time.Second), "http://"+addr+"/", nil, nil)
	if errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("refused connection: %v, want retryable unavailable", err)
	}
}

func TestCheckStatus(t *testing.T) {
	cases := []struct {
		status    int
		code      errs.Code
		retryable bool
	}{
		{200, "", false}, {500, errs.Unavailable, true}, {503, errs.Unavailable, true},
		{401, errs.Forbidden, false}, {403, errs.Forbidden, false}, {400, errs.Invalid, false}, {404, errs.Invalid, false},
	}
	for _, c := range cases {
		err := CheckStatus("acme charge", c.status, []byte(" oops "))
		if errs.CodeOf(err) != c.code || errs.IsRetryable(err) != c.retryable {
			t.Errorf("HTTP %d: %v, want %q retryable=%v", c.status, err, c.code, c.retryable)
		}
		if err != nil && !strings.Contains(err.Error(), "acme charge") {
			t.Errorf("HTTP %d: error does not say what failed: %v", c.status, err)
		}
	}
	if s := Snippet([]byte(strings.Repeat("x", 300))); len(s) != 203 {
		t.Fatalf("Snippet length %d", len(s))
	}
}
