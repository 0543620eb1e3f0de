// Package audit makes what the host refuses, and what its admins do,
// visible: each refused webhook, refused log-in and admin action is logged
// with its reason and the client's address (core/clientaddr), and counted
// in Prometheus:
//
//	camkit_webhooks_refused_total{processor,reason}
//	camkit_logins_refused_total{reason}
//	camkit_admin_actions_total{action,outcome}
//
// Reasons, actions and outcomes are small fixed sets (label cardinality).
// Nothing it logs is a secret, a password, a token or a request body: the
// callers pass a reason, ids and an error whose message was written for the
// log, and that message is cut short.
package audit

import (
	"context"
	"log/slog"
	"unicode/utf8"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/prometheus/client_golang/prometheus"
)

// WebhookReason says why a webhook was refused.
type WebhookReason string

const (
	// WebhookUnauthenticated: the plugin found no valid signature or digest,
	// a source address off its allow-list, or a stale signed time.
	WebhookUnauthenticated WebhookReason = "unauthenticated"
	// WebhookMalformed: the request or the notification cannot be read.
	WebhookMalformed WebhookReason = "malformed"
	// WebhookUnavailable: the plugin could not answer (restarting, a
	// deadline); the processor redelivers.
	WebhookUnavailable WebhookReason = "plugin_unavailable"
	// WebhookNotRecorded: authentic, but the host failed to record its
	// events; the processor redelivers.
	WebhookNotRecorded WebhookReason = "not_recorded"
	// WebhookOther: anything else the plugin refused with.
	WebhookOther WebhookReason = "other"
)

// WebhookReasonOf classifies what ParseWebhook refused with.
func WebhookReasonOf(err error) WebhookReason {
	switch errs.CodeOf(err) {
	case errs.Unauthenticated:
		return WebhookUnauthenticated
	case errs.Invalid, errs.UnknownCurrency:
		return WebhookMalformed
	case errs.Unavailable, errs.Timeout:
		return WebhookUnavailable
	}
	return WebhookOther
}

// LoginReason says why a log-in was refused.
type LoginReason string

const (
	LoginRateLimited LoginReason = "rate_limited"
	LoginBadPassword LoginReason = "bad_password"
	LoginUnknownUser LoginReason = "unknown_user"
	LoginSuspended   LoginReason = "suspended"
	LoginMalformed   LoginReason = "malformed" // no email or password, or one too long
)

// AdminAction names what an admin did.
type AdminAction string

const (
	AdminApproveModel AdminAction = "approve_model"
	AdminRejectModel  AdminAction = "reject_model"
	AdminVerifyLedger AdminAction = "verify_ledger"
)

// Log records. A nil *Log records nothing (a unit test, a CLI command).
type Log struct {
	log      *slog.Logger
	webhooks *prometheus.CounterVec
	logins   *prometheus.CounterVec
	admin    *prometheus.CounterVec
}

// New logs to log and registers the counters on reg (nil: kept private).
func New(log *slog.Logger, reg prometheus.Registerer) (*Log, error) {
	l := &Log{
		log: log,
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "camkit", Name: "webhooks_refused_total", Help: "Processor webhooks refused, by processor and reason.",
		}, []string{"processor", "reason"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "camkit", Name: "logins_refused_total", Help: "Log-ins refused, by reason.",
		}, []string{"reason"}),
		admin: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "camkit", Name: "admin_actions_total", Help: "Admin actions, by action and outcome (ok, failed).",
		}, []string{"action", "outcome"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{l.webhooks, l.logins, l.admin} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// WebhookRefused records a refused POST /webhooks/<processor> from client.
func (l *Log) WebhookRefused(processor string, reason WebhookReason, client string, err error) {
	if l == nil {
		return
	}
	l.webhooks.WithLabelValues(processor, string(reason)).Inc()
	l.log.Warn("webhook refused", "processor", processor, "reason", string(reason), "client", client, "err", short(err))
}

// LoginRefused records a refused log-in from client; userID is the
// account's id when the email named one (never the email or password).
func (l *Log) LoginRefused(reason LoginReason, client, userID string) {
	if l == nil {
		return
	}
	l.logins.WithLabelValues(string(reason)).Inc()
	level := slog.LevelInfo
	if reason == LoginRateLimited || reason == LoginSuspended {
		level = slog.LevelWarn
	}
	args := []any{"reason", string(reason), "client", client}
	if userID != "" {
		args = append(args, "user", userID)
	}
	l.log.Log(context.Background(), level, "log-in refused", args...)
}

// Admin records an admin action by adminID on target (an account id, or ""
// for the site) from client; err is its failure, nil when it was done.
func (l *Log) Admin(action AdminAction, adminID, target, client string, err error) {
	if l == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	l.admin.WithLabelValues(string(action), outcome).Inc()
	args := []any{"action", string(action), "outcome", outcome, "admin", adminID, "client", client}
	if target != "" {
		args = append(args, "target", target)
	}
	if err != nil {
		args = append(args, "err", short(err))
		l.log.Warn("admin action", args...)
		return
	}
	l.log.Info("admin action", args...)
}

// maxErrLen cuts an error message: a plugin's message is written for the
// log, but its length is not the host's to trust.
const maxErrLen = 300

func short(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if len(msg) > maxErrLen {
		cut := maxErrLen
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}
