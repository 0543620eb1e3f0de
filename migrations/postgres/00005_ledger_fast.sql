-- +goose Up
-- The ledger's PostgreSQL fast path (core/ledger; its package doc has the
-- design). A single or pending transfer, or a linked batch of them, is ONE
-- statement sent in autocommit: one round trip, the commit riding on it.
--
--   ledger_transfer_one    one transfer between existing accounts (Transfer)
--   ledger_transfer_batch  a linked batch, set-based (Batch); also creates
--                          chart accounts on first use
--   ledger_add_balances    adds deltas to the balance shards of accounts
--                          moved without their lock
--
-- Balance shards. An account's balance is the sum of its ledger_balances rows.
-- Shard 0 of an account is written only by a transaction holding that
-- account's row lock (its limit is at stake: a debit of a wallet); nobody
-- else ever waits for it, since the lock holders take turns. Every other
-- movement ("unlocked": a credit of a wallet, anything on platform:revenue)
-- goes to shards 1..p_shards, taking a row nobody holds (SKIP LOCKED), or
-- creating one, and waits only when all p_shards rows exist and are held.
--
-- Order inside one transaction, which is what makes deadlock impossible:
--   1. transfer rows, inserted in idempotency-key order (a wait on a key taken
--      by an unfinished insert happens while holding only smaller keys);
--   2. unlocked shards, in ascending account id;
--   3. account row locks (SELECT ... FOR NO KEY UPDATE), in ascending id;
--   4. shard 0 of the locked accounts (never waits).
-- A transaction waiting at step 3 holds account locks below the one it waits
-- for and nothing that a step-1 or step-2 waiter can need from it except rows
-- it took without waiting; one waiting at step 2 holds smaller accounts'
-- shards only; so every chain of waits climbs one order and cannot close.
-- Locks are held from step 3 to the commit only: the checks and one upsert.
--
-- Errors a caller must see typed are raised with SQLSTATEs of class CK, which
-- core/ledger maps back to sdk/errs codes:
--   CKLIM limit (an account limit, or a balance beyond int64)
--   CKNFD not found (an account outside the chart that was never opened)
--   CKINV invalid (a request the Go side should never have sent)
--   CKINJ a failure injected by a test after the transfer rows are written
-- Races surface as unique_violation (two batches racing on one key) or
-- serialization_failure, which the Go side retries; a retry then sees the
-- winner and answers as a repeat or a conflict.

-- +goose StatementBegin
-- ledger_add_balances adds (dp, dpo, cp, cpo) to one unlocked shard (1..p_shards)
-- of each account in p_ids (distinct). Pass 1, one statement, accounts in
-- ascending id: a row nobody holds, from a random shard upwards, wrapping
-- round (SKIP LOCKED, no wait); else, if all p_shards rows exist, wait for one.
-- Pass 2, for accounts left over (every existing row held, fewer than
-- p_shards rows): create a row, guarded by a non-blocking advisory lock so no
-- two transactions create the same row and none waits for another's insert.
CREATE FUNCTION ledger_add_balances(p_ids bigint[], p_dp bigint[], p_dpo bigint[], p_cp bigint[], p_cpo bigint[],
                                    p_shards integer) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_off  integer := 1 + floor(random() * p_shards)::integer;
    v_done bigint[];
    v_ok   boolean;
    v_s    integer;
    r      record;
BEGIN
    IF p_shards IS NULL OR p_shards < 1 THEN
        RAISE EXCEPTION 'ledger: % balance shards', p_shards USING ERRCODE = 'CKINV';
    END IF;
    IF coalesce(cardinality(p_ids), 0) = 0 THEN
        RETURN;
    END IF;
    WITH pick AS MATERIALIZED (
        SELECT d.account_id, d.dp, d.dpo, d.cp, d.cpo, s.shard
        FROM (SELECT u.account_id, u.dp, u.dpo, u.cp, u.cpo
              FROM unnest(p_ids, p_dp, p_dpo, p_cp, p_cpo) AS u (account_id, dp, dpo, cp, cpo)
              ORDER BY u.account_id) AS d
        CROSS JOIN LATERAL (
            SELECT f.shard FROM (
                SELECT x.shard FROM ledger_balances x
                WHERE x.account_id = d.account_id AND x.shard >= v_off AND x.shard <= p_shards
                ORDER BY x.shard
                LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED) AS f
            UNION ALL
            SELECT f.shard FROM (
                SELECT x.shard FROM ledger_balances x
                WHERE x.account_id = d.account_id AND x.shard >= 1 AND x.shard < v_off
                ORDER BY x.shard
                LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED) AS f
            UNION ALL
            SELECT w.shard FROM (
                SELECT x.shard FROM ledger_balances x
                WHERE x.account_id = d.account_id AND x.shard >= 1 AND x.shard <= p_shards
                  AND (SELECT count(*) FROM ledger_balances y
                       WHERE y.account_id = d.account_id AND y.shard >= 1 AND y.shard <= p_shards) >= p_shards
                ORDER BY (x.shard + p_shards - v_off) % p_shards
                LIMIT 1 FOR NO KEY UPDATE) AS w
            LIMIT 1) AS s
    ), upd AS (
        UPDATE ledger_balances b SET
            debits_pending  = b.debits_pending + p.dp,
            debits_posted   = b.debits_posted + p.dpo,
            credits_pending = b.credits_pending + p.cp,
            credits_posted  = b.credits_posted + p.cpo
        FROM pick p
        WHERE b.account_id = p.account_id AND b.shard = p.shard
        RETURNING b.account_id
    )
    SELECT array_agg(upd.account_id) INTO v_done FROM upd;

    IF coalesce(cardinality(v_done), 0) = cardinality(p_ids) THEN
        RETURN;
    END IF;
    FOR r IN SELECT u.account_id, u.dp, u.dpo, u.cp, u.cpo
             FROM unnest(p_ids, p_dp, p_dpo, p_cp, p_cpo) AS u (account_id, dp, dpo, cp, cpo)
             WHERE u.account_id <> ALL (coalesce(v_done, '{}'))
             ORDER BY u.account_id LOOP
        v_ok := false;
        FOR v_s IN SELECT g FROM generate_series(1, p_shards) AS g
                   WHERE NOT EXISTS (SELECT 1 FROM ledger_balances x WHERE x.account_id = r.account_id AND x.shard = g)
                   ORDER BY (g + p_shards - v_off) % p_shards LOOP
            -- Held until commit by whoever creates (account, shard): a second
            -- creator moves on to another number instead of waiting.
            IF pg_try_advisory_xact_lock(hashint8(r.account_id), v_s) THEN
                INSERT INTO ledger_balances (account_id, shard, debits_pending, debits_posted, credits_pending, credits_posted)
                VALUES (r.account_id, v_s, r.dp, r.dpo, r.cp, r.cpo)
                ON CONFLICT (account_id, shard) DO NOTHING;
                IF FOUND THEN
                    v_ok := true;
                    EXIT;
                END IF;
            END IF;
        END LOOP;
        IF NOT v_ok THEN
            -- Every shard was taken between the two looks: run again.
            RAISE EXCEPTION 'ledger: no free balance shard for account %', r.account_id
                USING ERRCODE = 'serialization_failure';
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- ledger_transfer_batch applies a linked batch of single and pending transfers
-- (arrays aligned by position), all or nothing, in batch order:
--   1. if any key is already stored, returns the stored transfers (o_repeat)
--      and writes nothing: the caller compares contents (repeat or conflict);
--   2. resolves the accounts, creating chart accounts on first use
--      (p_*_flags >= 0 gives the chart's flags; -1: the account must exist);
--   3. inserts the transfers: ids ascending in batch order, rows in key order;
--   4. checks that no unlocked balance would leave int64, then adds the
--      unlocked deltas (ledger_add_balances);
--   5. locks the accounts whose constrained side grows (a debit of a
--      debits_must_not_exceed_credits account, a credit of the other kind);
--   6. checks, after every transfer in batch order, their limits and int64;
--   7. adds their deltas to their shard 0.
-- p_timeouts are pending timeouts in microseconds (0: none). p_fail_after_insert
-- is the atomicity test's injection point: it fails after step 3.
CREATE FUNCTION ledger_transfer_batch(
    p_keys text[], p_kinds text[], p_debits text[], p_credits text[], p_amounts bigint[], p_currencies text[],
    p_timeouts bigint[], p_memos text[], p_debit_flags integer[], p_credit_flags integer[],
    p_now timestamptz, p_shards integer, p_fail_after_insert boolean)
RETURNS TABLE (o_repeat boolean, o_id bigint, o_key text, o_kind text, o_debit_id bigint, o_debit text,
               o_credit_id bigint, o_credit text, o_amount bigint, o_currency text, o_pending_id bigint,
               o_timeout_at timestamptz, o_memo text, o_created_at timestamptz)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_n      integer := coalesce(cardinality(p_keys), 0);
    v_dids   bigint[];
    v_cids   bigint[];
    v_dfl    integer[];
    v_cfl    integer[];
    v_ids    bigint[];
    v_seq    regclass := pg_get_serial_sequence('ledger_transfers', 'id')::regclass;
    -- per touched account, ascending id: unlocked (u) and locked (l)
    v_uacc   bigint[];
    v_udp    bigint[];
    v_udpo   bigint[];
    v_ucp    bigint[];
    v_ucpo   bigint[];
    v_lacc   bigint[];
    v_ldp    bigint[];
    v_ldpo   bigint[];
    v_lcp    bigint[];
    v_lcpo   bigint[];
    v_over   bigint;
    v_bad    record;
    v_max    constant numeric := 9223372036854775807;
BEGIN
    IF v_n = 0 OR cardinality(p_kinds) <> v_n OR cardinality(p_debits) <> v_n OR cardinality(p_credits) <> v_n
       OR cardinality(p_amounts) <> v_n OR cardinality(p_currencies) <> v_n OR cardinality(p_timeouts) <> v_n
       OR cardinality(p_memos) <> v_n OR cardinality(p_debit_flags) <> v_n OR cardinality(p_credit_flags) <> v_n
       OR p_shards IS NULL OR p_shards < 1 THEN
        RAISE EXCEPTION 'ledger: malformed batch of % transfers', v_n USING ERRCODE = 'CKINV';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_kinds) AS k WHERE k IS NULL OR k NOT IN ('single', 'pending')) THEN
        RAISE EXCEPTION 'ledger: the batch function applies single and pending transfers only' USING ERRCODE = 'CKINV';
    END IF;

    -- 1. A repeat writes nothing.
    RETURN QUERY
        SELECT true, t.id, t.idempotency_key, t.kind,
               t.debit_account_id, (SELECT a.code FROM ledger_accounts a WHERE a.id = t.debit_account_id),
               t.credit_account_id, (SELECT a.code FROM ledger_accounts a WHERE a.id = t.credit_account_id),
               t.amount, t.currency, t.pending_id, t.timeout_at, t.memo, t.created_at
        FROM ledger_transfers t
        WHERE t.idempotency_key = ANY (p_keys);
    IF FOUND THEN
        RETURN;
    END IF;

    -- 2. Accounts (index look-ups, whatever the batch size).
    FOR i IN 1..2 LOOP
        SELECT array_agg(da.id ORDER BY u.ord), array_agg(da.flags ORDER BY u.ord),
               array_agg(ca.id ORDER BY u.ord), array_agg(ca.flags ORDER BY u.ord)
        INTO v_dids, v_dfl, v_cids, v_cfl
        FROM unnest(p_debits, p_credits, p_currencies) WITH ORDINALITY AS u (d, c, cur, ord)
        LEFT JOIN LATERAL (SELECT a.id, a.flags FROM ledger_accounts a
                           WHERE a.code = u.d AND a.currency = u.cur LIMIT 1) AS da ON true
        LEFT JOIN LATERAL (SELECT a.id, a.flags FROM ledger_accounts a
                           WHERE a.code = u.c AND a.currency = u.cur LIMIT 1) AS ca ON true;
        EXIT WHEN array_position(v_dids, NULL) IS NULL AND array_position(v_cids, NULL) IS NULL;
        IF i = 2 THEN
            RAISE EXCEPTION 'ledger: accounts of the batch were not created' USING ERRCODE = 'CKINV';
        END IF;
        FOR j IN 1..v_n LOOP
            IF v_dids[j] IS NULL AND p_debit_flags[j] < 0 THEN
                RAISE EXCEPTION USING ERRCODE = 'CKNFD', MESSAGE = format(
                    'account %s (%s) does not exist: open it first, or use a code from the chart of accounts',
                    p_debits[j], p_currencies[j]);
            END IF;
            IF v_cids[j] IS NULL AND p_credit_flags[j] < 0 THEN
                RAISE EXCEPTION USING ERRCODE = 'CKNFD', MESSAGE = format(
                    'account %s (%s) does not exist: open it first, or use a code from the chart of accounts',
                    p_credits[j], p_currencies[j]);
            END IF;
        END LOOP;
        -- Sorted, so two creators take the unique-index entries in one order.
        INSERT INTO ledger_accounts (code, currency, flags, created_at)
        SELECT m.code, m.currency, m.flags, p_now
        FROM (SELECT p_debits[g] AS code, p_currencies[g] AS currency, p_debit_flags[g] AS flags
              FROM generate_subscripts(p_keys, 1) AS g WHERE v_dids[g] IS NULL
              UNION
              SELECT p_credits[g], p_currencies[g], p_credit_flags[g]
              FROM generate_subscripts(p_keys, 1) AS g WHERE v_cids[g] IS NULL) AS m
        ORDER BY m.code COLLATE "C", m.currency COLLATE "C"
        ON CONFLICT (code, currency) DO NOTHING;
    END LOOP;

    -- 3. The transfers.
    SELECT array_agg(nextval(v_seq) ORDER BY g) INTO v_ids FROM generate_series(1, v_n) AS g;
    INSERT INTO ledger_transfers (id, idempotency_key, kind, debit_account_id, credit_account_id, amount, currency,
                                  pending_id, timeout_at, memo, created_at)
    SELECT v_ids[u.ord], u.key, u.kind, v_dids[u.ord], v_cids[u.ord], u.amount, u.cur, NULL,
           CASE WHEN u.timeout > 0 THEN
               p_now + (u.timeout / 1000000) * interval '1 second' + (u.timeout % 1000000) * interval '1 microsecond'
           END,
           u.memo, p_now
    FROM unnest(p_keys, p_kinds, p_amounts, p_currencies, p_timeouts, p_memos)
         WITH ORDINALITY AS u (key, kind, amount, cur, timeout, memo, ord)
    ORDER BY u.key COLLATE "C";

    IF p_fail_after_insert THEN
        RAISE EXCEPTION USING ERRCODE = 'CKINJ', MESSAGE = format(
            'injected failure after %s transfer rows were written and before balances moved',
            (SELECT count(*) FROM ledger_transfers t WHERE t.id = ANY (v_ids)));
    END IF;

    -- Deltas per touched account, split by whether this batch locks it.
    WITH legs AS (
        SELECT v_dids[u.ord] AS acc, v_dfl[u.ord] = 1 AS locks,
               CASE WHEN u.kind = 'pending' THEN u.amount ELSE 0 END AS dp,
               CASE WHEN u.kind = 'single' THEN u.amount ELSE 0 END AS dpo,
               0::bigint AS cp, 0::bigint AS cpo
        FROM unnest(p_kinds, p_amounts) WITH ORDINALITY AS u (kind, amount, ord)
        UNION ALL
        SELECT v_cids[u.ord], v_cfl[u.ord] = 2, 0, 0,
               CASE WHEN u.kind = 'pending' THEN u.amount ELSE 0 END,
               CASE WHEN u.kind = 'single' THEN u.amount ELSE 0 END
        FROM unnest(p_kinds, p_amounts) WITH ORDINALITY AS u (kind, amount, ord)
    ), acc AS (
        SELECT l.acc, bool_or(l.locks) AS locked, sum(l.dp) AS dp, sum(l.dpo) AS dpo, sum(l.cp) AS cp,
               sum(l.cpo) AS cpo
        FROM legs l GROUP BY l.acc
    )
    SELECT array_agg(a.acc ORDER BY a.acc) FILTER (WHERE NOT a.locked),
           array_agg(a.dp::bigint ORDER BY a.acc) FILTER (WHERE NOT a.locked),
           array_agg(a.dpo::bigint ORDER BY a.acc) FILTER (WHERE NOT a.locked),
           array_agg(a.cp::bigint ORDER BY a.acc) FILTER (WHERE NOT a.locked),
           array_agg(a.cpo::bigint ORDER BY a.acc) FILTER (WHERE NOT a.locked),
           array_agg(a.acc ORDER BY a.acc) FILTER (WHERE a.locked),
           array_agg(a.dp::bigint ORDER BY a.acc) FILTER (WHERE a.locked),
           array_agg(a.dpo::bigint ORDER BY a.acc) FILTER (WHERE a.locked),
           array_agg(a.cp::bigint ORDER BY a.acc) FILTER (WHERE a.locked),
           array_agg(a.cpo::bigint ORDER BY a.acc) FILTER (WHERE a.locked),
           -- an unlocked balance beyond int64 (the first such account)
           (array_agg(a.acc ORDER BY a.acc) FILTER (WHERE NOT a.locked AND (
               s.dp + a.dp > v_max OR s.dpo + a.dpo > v_max OR s.cp + a.cp > v_max OR s.cpo + a.cpo > v_max)))[1]
    INTO v_uacc, v_udp, v_udpo, v_ucp, v_ucpo, v_lacc, v_ldp, v_ldpo, v_lcp, v_lcpo, v_over
    FROM acc a
    LEFT JOIN LATERAL (
        SELECT coalesce(sum(b.debits_pending), 0) AS dp, coalesce(sum(b.debits_posted), 0) AS dpo,
               coalesce(sum(b.credits_pending), 0) AS cp, coalesce(sum(b.credits_posted), 0) AS cpo
        FROM ledger_balances b WHERE b.account_id = a.acc AND NOT a.locked) AS s ON true;

    -- 4. Unlocked balances (a racy int64 check: they are not locked).
    IF v_over IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
            'transfer "%s": a balance of account %s would overflow int64',
            p_keys[least(coalesce(array_position(v_dids, v_over), v_n), coalesce(array_position(v_cids, v_over), v_n))],
            v_over);
    END IF;
    PERFORM ledger_add_balances(v_uacc, v_udp, v_udpo, v_ucp, v_ucpo, p_shards);
    IF v_lacc IS NULL THEN
        RETURN QUERY
            SELECT false, v_ids[u.ord], u.key, u.kind, v_dids[u.ord], u.d, v_cids[u.ord], u.c, u.amount, u.cur,
                   NULL::bigint,
                   CASE WHEN u.timeout > 0 THEN p_now + (u.timeout / 1000000) * interval '1 second'
                                                      + (u.timeout % 1000000) * interval '1 microsecond' END,
                   u.memo, p_now
            FROM unnest(p_keys, p_kinds, p_debits, p_credits, p_amounts, p_currencies, p_timeouts, p_memos)
                 WITH ORDINALITY AS u (key, kind, d, c, amount, cur, timeout, memo, ord)
            ORDER BY u.ord;
        RETURN;
    END IF;

    -- 5. Locks.
    PERFORM 1 FROM ledger_accounts a WHERE a.id = ANY (v_lacc) ORDER BY a.id FOR NO KEY UPDATE;

    -- 6. After each transfer in order (debit leg first), every locked account
    -- within its limit and within int64. Sums are numeric.
    WITH legs AS (
        SELECT u.ord, 0 AS side, v_dids[u.ord] AS acc, v_dfl[u.ord] AS flags,
               CASE WHEN u.kind = 'pending' THEN u.amount ELSE 0 END AS dp,
               CASE WHEN u.kind = 'single' THEN u.amount ELSE 0 END AS dpo,
               0::bigint AS cp, 0::bigint AS cpo
        FROM unnest(p_kinds, p_amounts) WITH ORDINALITY AS u (kind, amount, ord)
        WHERE v_dids[u.ord] = ANY (v_lacc)
        UNION ALL
        SELECT u.ord, 1, v_cids[u.ord], v_cfl[u.ord], 0, 0,
               CASE WHEN u.kind = 'pending' THEN u.amount ELSE 0 END,
               CASE WHEN u.kind = 'single' THEN u.amount ELSE 0 END
        FROM unnest(p_kinds, p_amounts) WITH ORDINALITY AS u (kind, amount, ord)
        WHERE v_cids[u.ord] = ANY (v_lacc)
    ), base AS (
        SELECT a.acc, s.dp, s.dpo, s.cp, s.cpo
        FROM unnest(v_lacc) AS a (acc)
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(b.debits_pending), 0) AS dp, coalesce(sum(b.debits_posted), 0) AS dpo,
                   coalesce(sum(b.credits_pending), 0) AS cp, coalesce(sum(b.credits_posted), 0) AS cpo
            FROM ledger_balances b WHERE b.account_id = a.acc) AS s
    ), run AS (
        SELECT l.ord, l.side, l.acc, l.flags,
               b.dp + sum(l.dp) OVER w AS dp, b.dpo + sum(l.dpo) OVER w AS dpo,
               b.cp + sum(l.cp) OVER w AS cp, b.cpo + sum(l.cpo) OVER w AS cpo
        FROM legs l JOIN base b ON b.acc = l.acc
        WINDOW w AS (PARTITION BY l.acc ORDER BY l.ord, l.side ROWS UNBOUNDED PRECEDING)
    )
    SELECT run.*, greatest(run.dp, run.dpo, run.cp, run.cpo) > v_max AS overflow
    INTO v_bad
    FROM run
    WHERE greatest(run.dp, run.dpo, run.cp, run.cpo) > v_max
       OR (run.flags = 1 AND run.dp + run.dpo > run.cpo) OR (run.flags = 2 AND run.cp + run.cpo > run.dpo)
    ORDER BY run.ord, run.side
    LIMIT 1;
    IF FOUND THEN
        IF v_bad.overflow THEN
            RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                'transfer "%s": a balance of account %s would overflow int64', p_keys[v_bad.ord], v_bad.acc);
        ELSIF v_bad.flags = 1 THEN
            RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                'transfer "%s": account %s (%s): debits (pending %s + posted %s) would exceed posted credits %s',
                p_keys[v_bad.ord], CASE v_bad.side WHEN 0 THEN p_debits[v_bad.ord] ELSE p_credits[v_bad.ord] END,
                p_currencies[v_bad.ord], v_bad.dp, v_bad.dpo, v_bad.cpo);
        ELSE
            RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                'transfer "%s": account %s (%s): credits (pending %s + posted %s) would exceed posted debits %s',
                p_keys[v_bad.ord], CASE v_bad.side WHEN 0 THEN p_debits[v_bad.ord] ELSE p_credits[v_bad.ord] END,
                p_currencies[v_bad.ord], v_bad.cp, v_bad.cpo, v_bad.dpo);
        END IF;
    END IF;

    -- 7. Shard 0 of each locked account: only its lock holder writes it.
    INSERT INTO ledger_balances (account_id, shard, debits_pending, debits_posted, credits_pending, credits_posted)
    SELECT u.acc, 0, u.dp, u.dpo, u.cp, u.cpo
    FROM unnest(v_lacc, v_ldp, v_ldpo, v_lcp, v_lcpo) AS u (acc, dp, dpo, cp, cpo)
    ORDER BY u.acc
    ON CONFLICT (account_id, shard) DO UPDATE SET
        debits_pending = ledger_balances.debits_pending + excluded.debits_pending,
        debits_posted = ledger_balances.debits_posted + excluded.debits_posted,
        credits_pending = ledger_balances.credits_pending + excluded.credits_pending,
        credits_posted = ledger_balances.credits_posted + excluded.credits_posted;

    RETURN QUERY
        SELECT false, v_ids[u.ord], u.key, u.kind, v_dids[u.ord], u.d, v_cids[u.ord], u.c, u.amount, u.cur,
               NULL::bigint,
               CASE WHEN u.timeout > 0 THEN p_now + (u.timeout / 1000000) * interval '1 second'
                                                  + (u.timeout % 1000000) * interval '1 microsecond' END,
               u.memo, p_now
        FROM unnest(p_keys, p_kinds, p_debits, p_credits, p_amounts, p_currencies, p_timeouts, p_memos)
             WITH ORDINALITY AS u (key, kind, d, c, amount, cur, timeout, memo, ord)
        ORDER BY u.ord;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- ledger_transfer_one is ledger_transfer_batch for one transfer whose two
-- accounts exist, with scalars and the fewest statements: the hot path of
-- Transfer. It does not look for a repeat first: the insert does (ON CONFLICT
-- on the key) before any check, so a repeat is answered with the stored
-- transfer, and a concurrent twin is waited for and then read. A missing
-- account (to be created) hands the transfer to ledger_transfer_batch.
CREATE FUNCTION ledger_transfer_one(
    p_key text, p_kind text, p_debit text, p_credit text, p_amount bigint, p_currency text,
    p_timeout bigint, p_memo text, p_debit_flags integer, p_credit_flags integer,
    p_now timestamptz, p_shards integer, p_fail_after_insert boolean)
RETURNS TABLE (o_repeat boolean, o_id bigint, o_key text, o_kind text, o_debit_id bigint, o_debit text,
               o_credit_id bigint, o_credit text, o_amount bigint, o_currency text, o_pending_id bigint,
               o_timeout_at timestamptz, o_memo text, o_created_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_did     bigint;
    v_dfl     integer;
    v_cid     bigint;
    v_cfl     integer;
    v_id      bigint;
    v_timeout timestamptz;
    v_off     integer;
    v_b       numeric[];
    v_dd      bigint[];
    v_cd      bigint[];
    v_x       bigint[];
    v_acc     bigint;
    v_lockd   boolean;
    v_lockc   boolean;
    v_max     constant numeric := 9223372036854775807;
BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('single', 'pending') OR p_shards IS NULL OR p_shards < 1 THEN
        RAISE EXCEPTION 'ledger: ledger_transfer_one applies one single or pending transfer' USING ERRCODE = 'CKINV';
    END IF;

    -- Accounts; creating one is the batch function's business.
    SELECT a.id, a.flags INTO v_did, v_dfl FROM ledger_accounts a WHERE a.code = p_debit AND a.currency = p_currency;
    SELECT a.id, a.flags INTO v_cid, v_cfl FROM ledger_accounts a WHERE a.code = p_credit AND a.currency = p_currency;
    IF v_did IS NULL OR v_cid IS NULL THEN
        RETURN QUERY SELECT * FROM ledger_transfer_batch(ARRAY[p_key], ARRAY[p_kind], ARRAY[p_debit], ARRAY[p_credit],
            ARRAY[p_amount], ARRAY[p_currency], ARRAY[p_timeout], ARRAY[p_memo], ARRAY[p_debit_flags],
            ARRAY[p_credit_flags], p_now, p_shards, p_fail_after_insert);
        RETURN;
    END IF;
    IF p_kind = 'pending' THEN
        v_dd := ARRAY[p_amount, 0, 0, 0];
        v_cd := ARRAY[0, 0, p_amount, 0];
    ELSE
        v_dd := ARRAY[0, p_amount, 0, 0];
        v_cd := ARRAY[0, 0, 0, p_amount];
    END IF;
    v_lockd := v_dfl = 1;
    v_lockc := v_cfl = 2;

    -- 1. The transfer, unless its key is taken: then it is a repeat.
    IF p_timeout > 0 THEN
        v_timeout := p_now + (p_timeout / 1000000) * interval '1 second'
                           + (p_timeout % 1000000) * interval '1 microsecond';
    END IF;
    INSERT INTO ledger_transfers (idempotency_key, kind, debit_account_id, credit_account_id, amount, currency,
                                  pending_id, timeout_at, memo, created_at)
    VALUES (p_key, p_kind, v_did, v_cid, p_amount, p_currency, NULL, v_timeout, p_memo, p_now)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN QUERY
            SELECT true, t.id, t.idempotency_key, t.kind,
                   t.debit_account_id, (SELECT a.code FROM ledger_accounts a WHERE a.id = t.debit_account_id),
                   t.credit_account_id, (SELECT a.code FROM ledger_accounts a WHERE a.id = t.credit_account_id),
                   t.amount, t.currency, t.pending_id, t.timeout_at, t.memo, t.created_at
            FROM ledger_transfers t
            WHERE t.idempotency_key = p_key;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ledger: transfer "%" was neither written nor found', p_key
                USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN;
    END IF;
    IF p_fail_after_insert THEN
        RAISE EXCEPTION USING ERRCODE = 'CKINJ', MESSAGE = format(
            'injected failure after %s transfer rows were written and before balances moved',
            (SELECT count(*) FROM ledger_transfers t WHERE t.id = v_id));
    END IF;

    -- 2. Unlocked sides: int64 check (racy, they are not locked), then a
    -- shard row nobody holds, without waiting; else ledger_add_balances.
    IF NOT (v_lockd AND v_lockc) THEN
        SELECT ARRAY[coalesce(sum(b.debits_pending) FILTER (WHERE b.account_id = v_did), 0) + v_dd[1],
                     coalesce(sum(b.debits_posted) FILTER (WHERE b.account_id = v_did), 0) + v_dd[2],
                     coalesce(sum(b.credits_pending) FILTER (WHERE b.account_id = v_cid), 0) + v_cd[3],
                     coalesce(sum(b.credits_posted) FILTER (WHERE b.account_id = v_cid), 0) + v_cd[4]]
        INTO v_b
        FROM ledger_balances b
        WHERE b.account_id IN (CASE WHEN NOT v_lockd THEN v_did END, CASE WHEN NOT v_lockc THEN v_cid END);
        IF NOT v_lockd AND greatest(v_b[1], v_b[2]) > v_max THEN
            RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                'transfer "%s": a balance of account %s would overflow int64', p_key, v_did);
        END IF;
        IF NOT v_lockc AND greatest(v_b[3], v_b[4]) > v_max THEN
            RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                'transfer "%s": a balance of account %s would overflow int64', p_key, v_cid);
        END IF;
        v_off := 1 + floor(random() * p_shards)::integer;
        FOR i IN 1..2 LOOP
            v_acc := CASE WHEN (i = 1) = (v_did < v_cid) THEN v_did ELSE v_cid END;
            CONTINUE WHEN (v_acc = v_did AND v_lockd) OR (v_acc = v_cid AND v_lockc);
            v_x := CASE WHEN v_acc = v_did THEN v_dd ELSE v_cd END;
            UPDATE ledger_balances b SET
                debits_pending = b.debits_pending + v_x[1], debits_posted = b.debits_posted + v_x[2],
                credits_pending = b.credits_pending + v_x[3], credits_posted = b.credits_posted + v_x[4]
            WHERE b.account_id = v_acc AND b.shard = (
                SELECT f.shard FROM (
                    SELECT x.shard FROM ledger_balances x
                    WHERE x.account_id = v_acc AND x.shard >= v_off AND x.shard <= p_shards
                    ORDER BY x.shard LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED) AS f
                UNION ALL
                SELECT f.shard FROM (
                    SELECT x.shard FROM ledger_balances x
                    WHERE x.account_id = v_acc AND x.shard >= 1 AND x.shard < v_off
                    ORDER BY x.shard LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED) AS f
                LIMIT 1);
            IF NOT FOUND THEN
                PERFORM ledger_add_balances(ARRAY[v_acc], ARRAY[v_x[1]], ARRAY[v_x[2]], ARRAY[v_x[3]], ARRAY[v_x[4]],
                                            p_shards);
            END IF;
        END LOOP;
    END IF;

    -- 3. Locked sides: lock (ascending id), check after the transfer, add to
    -- shard 0.
    IF v_lockd OR v_lockc THEN
        IF v_lockd AND v_lockc THEN
            PERFORM 1 FROM ledger_accounts a WHERE a.id IN (v_did, v_cid) ORDER BY a.id FOR NO KEY UPDATE;
        ELSE
            PERFORM 1 FROM ledger_accounts a WHERE a.id = CASE WHEN v_lockd THEN v_did ELSE v_cid END
            FOR NO KEY UPDATE;
        END IF;
        SELECT ARRAY[coalesce(sum(b.debits_pending) FILTER (WHERE b.account_id = v_did), 0) + v_dd[1],
                     coalesce(sum(b.debits_posted) FILTER (WHERE b.account_id = v_did), 0) + v_dd[2],
                     coalesce(sum(b.credits_posted) FILTER (WHERE b.account_id = v_did), 0),
                     coalesce(sum(b.debits_posted) FILTER (WHERE b.account_id = v_cid), 0),
                     coalesce(sum(b.credits_pending) FILTER (WHERE b.account_id = v_cid), 0) + v_cd[3],
                     coalesce(sum(b.credits_posted) FILTER (WHERE b.account_id = v_cid), 0) + v_cd[4]]
        INTO v_b
        FROM ledger_balances b
        WHERE b.account_id IN (CASE WHEN v_lockd THEN v_did END, CASE WHEN v_lockc THEN v_cid END);
        IF v_lockd THEN
            IF greatest(v_b[1], v_b[2]) > v_max THEN
                RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                    'transfer "%s": a balance of account %s would overflow int64', p_key, v_did);
            ELSIF v_b[1] + v_b[2] > v_b[3] THEN
                RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                    'transfer "%s": account %s (%s): debits (pending %s + posted %s) would exceed posted credits %s',
                    p_key, p_debit, p_currency, v_b[1], v_b[2], v_b[3]);
            END IF;
        END IF;
        IF v_lockc THEN
            IF greatest(v_b[5], v_b[6]) > v_max THEN
                RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                    'transfer "%s": a balance of account %s would overflow int64', p_key, v_cid);
            ELSIF v_b[5] + v_b[6] > v_b[4] THEN
                RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                    'transfer "%s": account %s (%s): credits (pending %s + posted %s) would exceed posted debits %s',
                    p_key, p_credit, p_currency, v_b[5], v_b[6], v_b[4]);
            END IF;
        END IF;
        FOR i IN 1..2 LOOP
            v_acc := CASE WHEN (i = 1) = (v_did < v_cid) THEN v_did ELSE v_cid END;
            CONTINUE WHEN NOT ((v_acc = v_did AND v_lockd) OR (v_acc = v_cid AND v_lockc));
            v_x := CASE WHEN v_acc = v_did THEN v_dd ELSE v_cd END;
            INSERT INTO ledger_balances AS b (account_id, shard, debits_pending, debits_posted, credits_pending,
                                              credits_posted)
            VALUES (v_acc, 0, v_x[1], v_x[2], v_x[3], v_x[4])
            ON CONFLICT (account_id, shard) DO UPDATE SET
                debits_pending = b.debits_pending + excluded.debits_pending,
                debits_posted = b.debits_posted + excluded.debits_posted,
                credits_pending = b.credits_pending + excluded.credits_pending,
                credits_posted = b.credits_posted + excluded.credits_posted;
        END LOOP;
    END IF;

    o_repeat := false;
    o_id := v_id;
    o_key := p_key;
    o_kind := p_kind;
    o_debit_id := v_did;
    o_debit := p_debit;
    o_credit_id := v_cid;
    o_credit := p_credit;
    o_amount := p_amount;
    o_currency := p_currency;
    o_pending_id := NULL;
    o_timeout_at := v_timeout;
    o_memo := p_memo;
    o_created_at := p_now;
    RETURN NEXT;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION ledger_transfer_one(text, text, text, text, bigint, text, bigint, text, integer, integer, timestamptz,
                                  integer, boolean);
DROP FUNCTION ledger_transfer_batch(text[], text[], text[], text[], bigint[], text[], bigint[], text[], integer[],
                                    integer[], timestamptz, integer, boolean);
DROP FUNCTION ledger_add_balances(bigint[], bigint[], bigint[], bigint[], bigint[], integer);
