package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/audit"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/prometheus/client_golang/prometheus"
)

func TestRefusalsAreLoggedWithTheClientAndCounted(t *testing.T) {
	var out bytes.Buffer
	reg := prometheus.NewRegistry()
	l, err := audit.New(slog.New(slog.NewTextHandler(&out, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	forged := errs.E(errs.Unauthenticated, "epoch postback: epoch_digest does not match")
	l.WebhookRefused("epoch", audit.WebhookReasonOf(forged), "198.51.100.7", forged)
	l.WebhookRefused("epoch", audit.WebhookReasonOf(errs.E(errs.Invalid, "x")), "198.51.100.7", errs.E(errs.Invalid, "%s", strings.Repeat("é", 400)))
	l.LoginRefused(audit.LoginRateLimited, "203.0.113.5", "")
	l.LoginRefused(audit.LoginBadPassword, "203.0.113.5", "USER1")
	l.Admin(audit.AdminApproveModel, "ADMIN1", "MODEL1", "192.0.2.1", nil)
	l.Admin(audit.AdminRejectModel, "ADMIN1", "MODEL2", "192.0.2.1", errors.New("no such model"))

	want := map[string]float64{
		`camkit_webhooks_refused_total{processor="epoch",reason="unauthenticated"}`: 1,
		`camkit_webhooks_refused_total{processor="epoch",reason="malformed"}`:       1,
		`camkit_logins_refused_total{reason="rate_limited"}`:                        1,
		`camkit_logins_refused_total{reason="bad_password"}`:                        1,
		`camkit_admin_actions_total{action="approve_model",outcome="ok"}`:           1,
		`camkit_admin_actions_total{action="reject_model",outcome="failed"}`:        1,
	}
	if got := series(t, reg); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	logs := out.String()
	for _, want := range []string{
		`level=WARN msg="webhook refused" processor=epoch reason=unauthenticated client=198.51.100.7`,
		`level=WARN msg="log-in refused" reason=rate_limited client=203.0.113.5`,
		`level=INFO msg="log-in refused" reason=bad_password client=203.0.113.5 user=USER1`,
		`level=INFO msg="admin action" action=approve_model outcome=ok admin=ADMIN1 client=192.0.2.1 target=MODEL1`,
		`level=WARN msg="admin action" action=reject_model outcome=failed`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Count(logs, "é") > 300 {
		t.Errorf("a long error was not cut:\n%s", logs)
	}
	var none *audit.Log // records nothing, and does not panic
	none.WebhookRefused("x", audit.WebhookOther, "", nil)
	none.LoginRefused(audit.LoginMalformed, "", "")
	none.Admin(audit.AdminVerifyLedger, "", "", "", nil)
}

// series reads every counter of reg as name{labels} -> value.
func series(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var lv []string
			for _, l := range m.GetLabel() {
				lv = append(lv, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out[mf.GetName()+"{"+strings.Join(lv, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}
