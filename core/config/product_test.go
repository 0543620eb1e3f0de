package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The example file documents every key: it must load, and say what Default says.
func TestExampleFileLoadsWithTheProductSections(t *testing.T) {
	c, err := Load("../../camkit.example.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if len(c.CreditPacks) != len(d.CreditPacks) || c.CreditPacks[1] != d.CreditPacks[1] {
		t.Errorf("example packs %+v, default %+v", c.CreditPacks, d.CreditPacks)
	}
	if c.Billing != d.Billing || c.Security != d.Security || c.Chat.MaxTip != d.Chat.MaxTip || c.Stream.MediaTimeout != d.Stream.MediaTimeout {
		t.Errorf("example differs from the default:\n%+v\n%+v", c.Billing, d.Billing)
	}
	if c.SecureCookies() {
		t.Error("auto on an http public URL must not set Secure cookies")
	}
	c.HTTP.PublicURL = "https://cams.example"
	if !c.SecureCookies() {
		t.Error("auto on an https public URL must set Secure cookies")
	}
}

// A file's packs replace the defaults whole: no field leaks from a default pack.
func TestCreditPacksFromAFileReplaceTheDefaults(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(f, []byte("[[credit_packs]]\nid = \"x\"\nname = \"X\"\nprice = \"3\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.CreditPacks) != 1 || c.CreditPacks[0] != (CreditPack{ID: "x", Name: "X", Price: "3"}) {
		t.Fatalf("packs %+v", c.CreditPacks)
	}
	if len(c.Chat.TipPresets) != 3 {
		t.Fatalf("tip presets lost their default: %v", c.Chat.TipPresets)
	}
}

func TestProductSectionsRefuseBadValues(t *testing.T) {
	for _, c := range []struct{ env, want string }{
		{"CAMKIT_SECURITY_COOKIE_SECURE=maybe", "cookie_secure"},
		{"CAMKIT_SECURITY_MINIMUM_AGE=16", "minimum_age"},
		{"CAMKIT_SECURITY_SECRET=short", "secret"},
		{"CAMKIT_BILLING_GRANULARITY=hour", "granularity"},
		{"CAMKIT_BILLING_MINIMUM_CHARGE=1.234", "minimum_charge"},
		{"CAMKIT_BILLING_MINIMUM_CHARGE=-1", "minimum_charge"},
		{"CAMKIT_BILLING_LEAD_SECONDS=400", "lead_seconds"},
		{"CAMKIT_BILLING_FUNDING=cash", "funding"},
		{"CAMKIT_STREAM_UDP_PORT=70000", "UDP"},
		{"CAMKIT_STREAM_MEDIA_TIMEOUT=10ms", "media_timeout"},
		{"CAMKIT_STREAM_MAX_VIEWERS_PER_CLIENT=-1", "max_viewers_per_client"},
		{"CAMKIT_STREAM_MAX_VIEWERS_PER_SHOW=-5", "max_viewers_per_show"},
		{"CAMKIT_CHAT_MAX_TIP=0", "max_tip"},
	} {
		_, err := Load("", []string{c.env})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s", c.env, err, c.want)
		}
	}
	if _, err := Load("", []string{"CAMKIT_BILLING_MAX_PAUSE_SECONDS=8", "CAMKIT_SECURITY_COOKIE_SECURE=false"}); err != nil {
		t.Errorf("good overrides refused: %v", err)
	}
	if c, err := Load("", []string{"CAMKIT_STREAM_MAX_VIEWERS_PER_CLIENT=0", "CAMKIT_STREAM_MAX_VIEWERS_PER_SHOW=42"}); err != nil ||
		c.Stream.MaxViewersPerClient != 0 || c.Stream.MaxViewersPerShow != 42 {
		t.Errorf("viewer caps from the environment: %+v, %v", c.Stream, err)
	}
}

func TestLiveOnPublishDefaultsOnAndCanBeTurnedOff(t *testing.T) {
	if !Default().Stream.LiveOnPublish {
		t.Fatal("stream.live_on_publish defaults to false")
	}
	c, err := Load("", []string{"CAMKIT_STREAM_LIVE_ON_PUBLISH=false"})
	if err != nil || c.Stream.LiveOnPublish {
		t.Fatalf("from the environment: %v %v", c.Stream.LiveOnPublish, err)
	}
}

func TestTicketRefundThresholdIsExact(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "0.5": 5000, "1": 10000, " 0.3333 ": 3333, ".25": 2500} {
		got, err := Tickets{RefundIfShorterThan: in}.RefundBelowBps()
		if err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-0.1", "1.01", "0.33333", "half", "1e-5"} {
		if _, err := (Tickets{RefundIfShorterThan: in}).RefundBelowBps(); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	c := Default()
	c.Tickets.RefundIfShorterThan = "2"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "refund_if_shorter_than") {
		t.Fatalf("validate: %v", err)
	}
}
