package ledger

import (
	"context"
	"strconv"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"gorm.io/gorm"
)

// ExpireKey is the idempotency key of the ledger's own void of hold id: being
// derived from the hold, a second expiry (after a restart, or from a second
// host) is a repeat, not a second release.
func ExpireKey(holdID int64) string { return "ledger/expire/" + strconv.FormatInt(holdID, 10) }

const expireChunk = 500

// ExpirePending voids every unresolved hold whose timeout is at or before
// now, each exactly once, and returns how many it voided. The host calls it
// from a ticker and once at start-up, which covers holds that timed out while
// it was down. A hold posted or voided concurrently is simply skipped.
func (l *Ledger) ExpirePending(ctx context.Context, now time.Time) (int, error) {
	now = normTime(now)
	expired := 0
	var lastID int64
	for {
		var due []int64
		err := l.read(ctx, func(tx *gorm.DB) error {
			return tx.Raw(`SELECT t.id FROM ledger_transfers t
				WHERE t.kind = 'pending' AND t.timeout_at IS NOT NULL AND t.timeout_at <= ? AND t.id > ?
				AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = t.id)
				ORDER BY t.id LIMIT ?`, now, lastID, expireChunk).Scan(&due).Error
		})
		if err != nil {
			return expired, err
		}
		for _, id := range due {
			lastID = id
			_, err := l.applyOps(ctx, []op{{Request: Request{Key: ExpireKey(id), Kind: Expire, PendingID: id}}}, now)
			switch {
			case err == nil:
				expired++
			case errs.CodeOf(err) == errs.Conflict:
				// Resolved meanwhile by a post, a void or another expirer.
			default:
				return expired, err
			}
		}
		if len(due) < expireChunk {
			return expired, nil
		}
	}
}
