package stream_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/errs"
)

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// One UDP port for every session (the port an operator opens in a firewall).
func TestSingleUDPPortCarriesEverySession(t *testing.T) {
	port := freeUDPPort(t)
	f := newFixture(t, func(c *stream.Config) { c.UDPPort = port })
	f.adm.AddShow("show-1", "key-1")
	f.publish(t, "key-1")
	a := f.subscribe(t, "show-1", "")
	b := f.subscribe(t, "show-1", "")
	receiving(t, a)
	receiving(t, b)
	for _, s := range []*streamtest.Subscriber{a, b} {
		remote := s.PC.RemoteDescription().SDP
		for _, line := range strings.Split(remote, "\n") {
			if strings.HasPrefix(line, "a=candidate:") && !strings.Contains(line, " "+strconv.Itoa(port)+" typ") {
				t.Errorf("candidate not on the configured port %d: %s", port, line)
			}
		}
	}
}

func TestPublicIPReplacesHostCandidates(t *testing.T) {
	f := newFixture(t, func(c *stream.Config) { c.PublicIPs = []string{"203.0.113.7"} })
	f.adm.AddShow("show-1", "key-1")
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var answer string
	p, err := streamtest.Publish(c, func(ctx context.Context, offer string) (string, error) {
		s, err := f.sfu.Publish(ctx, "key-1", offer)
		answer = s.AnswerSDP
		return s.AnswerSDP, err
	}, streamtest.PublisherOptions{})
	// The publisher cannot reach 203.0.113.7 on loopback; the answer is what matters.
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.Contains(answer, " 203.0.113.7 ") {
		t.Fatalf("answer does not advertise the public IP:\n%s", answer)
	}
	if strings.Contains(answer, " 127.0.0.1 ") {
		t.Fatalf("answer still advertises a private host address:\n%s", answer)
	}
}

func TestBadConfigIsRefused(t *testing.T) {
	if _, err := stream.New(stream.Config{}); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("no Admission: %v", err)
	}
	if _, err := stream.New(stream.Config{Admission: streamtest.NewAdmission(), PublicIPs: []string{"not-an-ip"}}); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("bad public IP: %v", err)
	}
	if _, err := stream.New(stream.Config{Admission: streamtest.NewAdmission(), UDPPortMin: 5000, UDPPortMax: 4000}); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("inverted port range: %v", err)
	}
}
