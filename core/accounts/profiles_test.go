package accounts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

func usd(a int64) money.Money { return money.Money{Amount: a, Currency: "USD"} }

func TestModelProfileRateChangesAreRecorded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.user(t, "root@example.com", accounts.RoleAdmin)
	m := e.user(t, "nia@example.com", accounts.RoleModel)
	other := e.user(t, "ola@example.com", accounts.RoleModel)
	viewer := e.user(t, "pat@example.com", accounts.RoleViewer)
	if _, err := e.svc.ApproveModel(ctx, admin.ID, m.ID); err != nil {
		t.Fatal(err)
	}

	p, err := e.svc.Profile(ctx, m.ID)
	if err != nil || p.RatePerMinute != usd(0) || len(p.Tags) != 0 {
		t.Fatalf("new profile %+v %v", p, err)
	}
	if _, err := e.svc.SetRate(ctx, m.ID, m.ID, usd(299)); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	if _, err := e.svc.SetRate(ctx, m.ID, m.ID, usd(399)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetRate(ctx, m.ID, m.ID, usd(399)); err != nil { // no change, no record
		t.Fatal(err)
	}
	hist, err := e.svc.RateHistory(ctx, m.ID)
	if err != nil || len(hist) != 2 || hist[0].Previous != usd(0) || hist[0].Rate != usd(299) ||
		hist[1].Previous != usd(299) || hist[1].Rate != usd(399) || !hist[1].ChangedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("rate history %+v %v", hist, err)
	}
	for name, c := range map[string]struct {
		actor string
		rate  money.Money
		code  errs.Code
	}{
		"another model":  {other.ID, usd(100), errs.Forbidden},
		"a viewer":       {viewer.ID, usd(100), errs.Forbidden},
		"zero":           {m.ID, usd(0), errs.Invalid},
		"negative":       {m.ID, usd(-5), errs.Invalid},
		"above the cap":  {m.ID, usd(100_001), errs.Invalid},
		"other currency": {m.ID, money.Money{Amount: 100, Currency: "EUR"}, errs.UnknownCurrency},
		"not a currency": {m.ID, money.Money{Amount: 100, Currency: "XYZ"}, errs.UnknownCurrency},
	} {
		if _, err := e.svc.SetRate(ctx, c.actor, m.ID, c.rate); errs.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	if p, _ := e.svc.Profile(ctx, m.ID); p.RatePerMinute != usd(399) {
		t.Fatalf("refused changes moved the rate: %+v", p.RatePerMinute)
	}
	// An admin may set it.
	if _, err := e.svc.SetRate(ctx, admin.ID, m.ID, usd(450)); err != nil {
		t.Fatal(err)
	}

	bio := "  <script>alert(1)</script>\nHi!  "
	p, err = e.svc.UpdateProfile(ctx, m.ID, m.ID, accounts.ProfileUpdate{Bio: &bio, Tags: []string{"Blonde", "blonde", " chat-only "}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Bio != "<script>alert(1)</script>\nHi!" || strings.Join(p.Tags, ",") != "blonde,chat-only" {
		t.Fatalf("profile stored as typed (themes escape it): %+v", p)
	}
	for name, u := range map[string]accounts.ProfileUpdate{
		"bad tag":      {Tags: []string{"<b>"}},
		"too many":     {Tags: strings.Split("a,b,c,d,e,f,g,h,i,j,k,l,m", ",")},
		"long bio":     {Bio: ptr(strings.Repeat("x", 2001))},
		"control char": {Bio: ptr("hi\u0007")},
	} {
		if _, err := e.svc.UpdateProfile(ctx, m.ID, m.ID, u); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	list, err := e.svc.Models(ctx, accounts.ModelFilter{Tag: "blonde"})
	if err != nil || len(list) != 1 || list[0].User.ID != m.ID {
		t.Fatalf("directory by tag: %+v %v", list, err)
	}
	if list, _ := e.svc.Models(ctx, accounts.ModelFilter{}); len(list) != 1 {
		t.Fatalf("unapproved model listed: %+v", list)
	}
}

func TestStudioMembership(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.user(t, "root@example.com", accounts.RoleAdmin)
	m := e.user(t, "quin@example.com", accounts.RoleModel)
	st := e.user(t, "agency@example.com", accounts.RoleStudio)
	st2 := e.user(t, "agency2@example.com", accounts.RoleStudio)
	if err := e.svc.SetStudio(ctx, st2.ID, m.ID, st.ID); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("another studio enrolling her elsewhere: %v", err)
	}
	if err := e.svc.SetStudio(ctx, m.ID, m.ID, st.ID); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("model joining by herself: %v", err)
	}
	if err := e.svc.SetStudio(ctx, st.ID, m.ID, st.ID); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.svc.Profile(ctx, m.ID); p.StudioID != st.ID {
		t.Fatalf("studio %q", p.StudioID)
	}
	if err := e.svc.SetStudio(ctx, admin.ID, m.ID, admin.ID); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("an admin as a studio: %v", err)
	}
	if err := e.svc.SetStudio(ctx, m.ID, m.ID, ""); err != nil {
		t.Fatalf("model leaving: %v", err)
	}
	if p, _ := e.svc.Profile(ctx, m.ID); p.StudioID != "" {
		t.Fatalf("studio after leaving %q", p.StudioID)
	}
}

func ptr[T any](v T) *T { return &v }
