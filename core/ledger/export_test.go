package ledger

// SetAfterInsert installs a hook that runs after a batch's transfer rows are
// written and before its balances move (the atomicity test's injection point).
func SetAfterInsert(l *Ledger, f func() error) { l.afterInsert = f }
