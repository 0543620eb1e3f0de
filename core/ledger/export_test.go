package ledger

// SetAfterInsert installs a hook that runs after a batch's transfer rows are
// written and before its balances move (the atomicity test's injection
// point). On PostgreSQL's fast path the whole transfer is one function call,
// so the hook runs just before it and, when it returns an error, the function
// is told to fail right after inserting the rows (p_fail_after_insert): the
// rows and the failure are then the database's own, and the error says how
// many rows were written.
func SetAfterInsert(l *Ledger, f func() error) { l.afterInsert = f }
