package clientaddr

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestResolveWalksFromTheRightPastTrustedProxies(t *testing.T) {
	xff, err := New([]string{"127.0.0.1", "10.0.0.0/8", "::1"}, XForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := New([]string{"10.0.0.0/8"}, Forwarded)
	if err != nil {
		t.Fatal(err)
	}
	none, _ := New(nil, "")
	cases := []struct {
		name   string
		r      *Resolver
		peer   string
		values []string
		want   string
	}{
		{"no proxy configured: the header is ignored", none, "198.51.100.7", []string{"208.236.105.10"}, "198.51.100.7"},
		{"untrusted peer: the header is ignored", xff, "198.51.100.7", []string{"208.236.105.10"}, "198.51.100.7"},
		{"trusted peer, one hop", xff, "127.0.0.1", []string{"198.51.100.7"}, "198.51.100.7"},
		// The symptom: a client prepends a processor's address to the chain.
		{"forged first entry is skipped", xff, "127.0.0.1", []string{"208.236.105.10, 198.51.100.7"}, "198.51.100.7"},
		{"two trusted hops", xff, "10.1.1.1", []string{"208.236.105.10, 198.51.100.7, 10.2.2.2"}, "198.51.100.7"},
		{"header split over instances", xff, "10.1.1.1", []string{"208.236.105.10", "198.51.100.7, 10.2.2.2"}, "198.51.100.7"},
		{"all hops trusted: the leftmost", xff, "10.1.1.1", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"garbage hop stops the walk at the proxy that wrote it", xff, "10.1.1.1", []string{"208.236.105.10, nonsense"}, "10.1.1.1"},
		{"garbage left of the client is never read", xff, "10.1.1.1", []string{"nonsense, 198.51.100.7"}, "198.51.100.7"},
		{"ports and brackets", xff, "127.0.0.1", []string{"[2001:db8::7]:4711, 198.51.100.7:80"}, "198.51.100.7"},
		{"IPv6 client", xff, "::1", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped peer counts as trusted", xff, "::ffff:127.0.0.1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"empty header: the peer", xff, "127.0.0.1", []string{""}, "127.0.0.1"},
		{"Forwarded: from the right", fwd, "10.0.0.1", []string{`for=208.236.105.10, for="198.51.100.7:1234";proto=https, for=10.9.9.9;by=10.0.0.1`}, "198.51.100.7"},
		{"Forwarded: IPv6 quoted", fwd, "10.0.0.1", []string{`for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"Forwarded: obfuscated node stops the walk", fwd, "10.0.0.1", []string{`for=198.51.100.7, for=_hidden`}, "10.0.0.1"},
		{"Forwarded: unknown", fwd, "10.0.0.1", []string{`for=unknown`}, "10.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.r.Resolve(netip.MustParseAddr(tc.peer), tc.values)
			if got.String() != tc.want {
				t.Fatalf("Resolve(%s, %q) = %s, want %s", tc.peer, tc.values, got, tc.want)
			}
		})
	}
}

func TestNewRefusesWhatIsNotAnAddress(t *testing.T) {
	if _, err := New([]string{"proxy.example"}, XForwardedFor); err == nil || !strings.Contains(err.Error(), "proxy.example") {
		t.Fatalf("a host name as trusted proxy: %v", err)
	}
	if _, err := New(nil, "X-Real-IP"); err == nil {
		t.Fatal("an unknown header was accepted")
	}
}

// Over a real socket, only the configured header of a trusted peer counts:
// the other header, sent by the client, is ignored.
func TestMiddlewareOverARealSocket(t *testing.T) {
	get := func(r *Resolver, hdr map[string]string) string {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		app.Use(r.Middleware())
		app.Get("/who", func(c *fiber.Ctx) error { return c.SendString(String(c)) })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go app.Listener(ln)
		defer app.Shutdown()
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/who", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	trusted, _ := New([]string{"127.0.0.1"}, XForwardedFor)
	untrusted, _ := New([]string{"10.0.0.0/8"}, XForwardedFor)
	if got := get(trusted, map[string]string{"X-Forwarded-For": "208.236.105.10, 198.51.100.7"}); got != "198.51.100.7" {
		t.Fatalf("behind a trusted proxy: %q", got)
	}
	if got := get(trusted, map[string]string{"Forwarded": "for=208.236.105.10"}); got != "127.0.0.1" {
		t.Fatalf("the header the proxy does not write was believed: %q", got)
	}
	if got := get(untrusted, map[string]string{"X-Forwarded-For": "208.236.105.10"}); got != "127.0.0.1" {
		t.Fatalf("an untrusted peer named the client: %q", got)
	}
}

// One client-address function: nothing in the host asks fiber for the
// client's address (c.IP, c.IPs), whose proxy handling differs from this one.
func TestNothingElseAsksFiberForTheClient(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..")
	bad := regexp.MustCompile(`\bc\.IPs?\(\)|\.IsProxyTrusted\(\)|EnableTrustedProxyCheck`)
	var hits []string
	for _, dir := range []string{"core", "cmd", "internal", "e2e"} {
		filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			b, _ := os.ReadFile(p)
			for i, line := range strings.Split(string(b), "\n") {
				if bad.MatchString(line) {
					rel, _ := filepath.Rel(root, p)
					hits = append(hits, rel+":"+strconv.Itoa(i+1)+": "+strings.TrimSpace(line))
				}
			}
			return nil
		})
	}
	if len(hits) > 0 {
		t.Fatalf("use clientaddr.Of instead of fiber's client address:\n%s", strings.Join(hits, "\n"))
	}
}
