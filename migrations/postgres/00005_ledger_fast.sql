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
--   5. for the accounts whose constrained side grows (a debit of a
--      debits_must_not_exceed_credits account, a credit of the other kind):
--      locks their shard 0 rows, ascending id, checks after every transfer
--      in batch order their limits and int64, and adds their deltas there.
-- p_timeouts are pending timeouts in microseconds (0: none). p_fail_after_insert
-- is the atomicity test's injection point: it fails after step 3.
CREATE FUNCTION ledger_transfer_batch(
    p_keys text[], p_kinds text[], p_debits text[], p_credits text[], p_amounts bigint[], p_currencies text[],
    p_timeouts bigint[], p_memos text[], p_debit_flags integer[], p_credit_flags integer[],
    p_now timestamptz, p_shards integer, p_fail_after_insert boolean)
RETURNS TABLE (o_repeat boolean, o_id bigint, o_key text, o_kind text, o_debit_id bigint, o_debit text,
               o_credit_id bigint, o_credit text, o_amount bigint, o_currency text, o_pending_id bigint,
               o_timeout_at timestamptz, o_memo text, o_created_at timestamptz, o_debit_flags integer,
               o_credit_flags integer)
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
    v_lfl    integer[];
    v_lmin   numeric[];
    v_done   bigint[];
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
               t.amount, t.currency, t.pending_id, t.timeout_at, t.memo, t.created_at, NULL::integer, NULL::integer
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

    -- Deltas per touched account, split by whether this batch locks it; for
    -- a locked account, its flags and the lowest running slack (credits
    -- posted less debits for flag 1, the reverse for flag 2) over the batch.
    WITH legs AS (
        SELECT u.ord, 0 AS side, v_dids[u.ord] AS acc, v_dfl[u.ord] AS flags, v_dfl[u.ord] = 1 AS locks,
               CASE WHEN u.kind = 'pending' THEN u.amount ELSE 0 END AS dp,
               CASE WHEN u.kind = 'single' THEN u.amount ELSE 0 END AS dpo,
               0::bigint AS cp, 0::bigint AS cpo
        FROM unnest(p_kinds, p_amounts) WITH ORDINALITY AS u (kind, amount, ord)
        UNION ALL
        SELECT u.ord, 1, v_cids[u.ord], v_cfl[u.ord], v_cfl[u.ord] = 2, 0, 0,
               CASE WHEN u.kind = 'pending' THEN u.amount ELSE 0 END,
               CASE WHEN u.kind = 'single' THEN u.amount ELSE 0 END
        FROM unnest(p_kinds, p_amounts) WITH ORDINALITY AS u (kind, amount, ord)
    ), run AS (
        SELECT l.*, bool_or(l.locks) OVER (PARTITION BY l.acc) AS locked,
               sum(CASE l.flags WHEN 1 THEN l.cpo - l.dp - l.dpo WHEN 2 THEN l.dpo - l.cp - l.cpo ELSE 0 END)
                   OVER (PARTITION BY l.acc ORDER BY l.ord, l.side ROWS UNBOUNDED PRECEDING) AS slack
        FROM legs l
    ), acc AS (
        SELECT r.acc, bool_or(r.locked) AS locked, max(r.flags) AS flags, min(r.slack) AS minslack,
               sum(r.dp) AS dp, sum(r.dpo) AS dpo, sum(r.cp) AS cp, sum(r.cpo) AS cpo
        FROM run r GROUP BY r.acc
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
           array_agg(a.flags ORDER BY a.acc) FILTER (WHERE a.locked),
           array_agg(a.minslack ORDER BY a.acc) FILTER (WHERE a.locked),
           -- an unlocked balance beyond int64 (the first such account)
           (array_agg(a.acc ORDER BY a.acc) FILTER (WHERE NOT a.locked AND (
               s.dp + a.dp > v_max OR s.dpo + a.dpo > v_max OR s.cp + a.cp > v_max OR s.cpo + a.cpo > v_max)))[1]
    INTO v_uacc, v_udp, v_udpo, v_ucp, v_ucpo, v_lacc, v_ldp, v_ldpo, v_lcp, v_lcpo, v_lfl, v_lmin, v_over
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
                   u.memo, p_now, v_dfl[u.ord], v_cfl[u.ord]
            FROM unnest(p_keys, p_kinds, p_debits, p_credits, p_amounts, p_currencies, p_timeouts, p_memos)
                 WITH ORDINALITY AS u (key, kind, d, c, amount, cur, timeout, memo, ord)
            ORDER BY u.ord;
        RETURN;
    END IF;

    -- 5. Locked accounts: shard 0 of each, ascending id, is the account's
    -- lock. Make sure the rows exist, then one upsert locks them all and
    -- checks each account on its shard 0's latest version plus its other
    -- shards as of this statement (those only move in its favour without
    -- the lock, so a pass is certain): every prefix of the batch within the
    -- limit (v_lmin: the lowest running slack), every total within int64.
    INSERT INTO ledger_balances (account_id, shard)
    SELECT u.acc, 0 FROM unnest(v_lacc) AS u (acc) ORDER BY u.acc
    ON CONFLICT (account_id, shard) DO NOTHING;
    WITH up AS (
        INSERT INTO ledger_balances AS b (account_id, shard, debits_pending, debits_posted, credits_pending,
                                          credits_posted)
        SELECT u.acc, 0, u.dp, u.dpo, u.cp, u.cpo
        FROM unnest(v_lacc, v_ldp, v_ldpo, v_lcp, v_lcpo) AS u (acc, dp, dpo, cp, cpo)
        ORDER BY u.acc
        ON CONFLICT (account_id, shard) DO UPDATE SET
            debits_pending = b.debits_pending + excluded.debits_pending,
            debits_posted = b.debits_posted + excluded.debits_posted,
            credits_pending = b.credits_pending + excluded.credits_pending,
            credits_posted = b.credits_posted + excluded.credits_posted
        WHERE (SELECT greatest(t.dp + excluded.debits_pending, t.dpo + excluded.debits_posted,
                               t.cp + excluded.credits_pending, t.cpo + excluded.credits_posted) <= v_max
                      AND CASE v_lfl[array_position(v_lacc, b.account_id)]
                              WHEN 1 THEN t.cpo - t.dp - t.dpo ELSE t.dpo - t.cp - t.cpo END
                          + v_lmin[array_position(v_lacc, b.account_id)] >= 0
               FROM (SELECT b.debits_pending::numeric + coalesce(sum(y.debits_pending), 0) AS dp,
                            b.debits_posted::numeric + coalesce(sum(y.debits_posted), 0) AS dpo,
                            b.credits_pending::numeric + coalesce(sum(y.credits_pending), 0) AS cp,
                            b.credits_posted::numeric + coalesce(sum(y.credits_posted), 0) AS cpo
                     FROM ledger_balances y WHERE y.account_id = b.account_id AND y.shard <> 0) AS t)
        RETURNING b.account_id
    )
    SELECT array_agg(up.account_id) INTO v_done FROM up;

    IF coalesce(cardinality(v_done), 0) < cardinality(v_lacc) THEN
        -- 6. The slow way, all shard 0 rows held: everything read fresh, the
        -- first fault raised, or else the rest applied.
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
            -- before this batch: what is stored, less what step 5 applied
            SELECT a.acc, s.dp - CASE WHEN a.done THEN a.dp0 ELSE 0 END AS dp,
                   s.dpo - CASE WHEN a.done THEN a.dpo0 ELSE 0 END AS dpo,
                   s.cp - CASE WHEN a.done THEN a.cp0 ELSE 0 END AS cp,
                   s.cpo - CASE WHEN a.done THEN a.cpo0 ELSE 0 END AS cpo
            FROM (SELECT u.acc, u.acc = ANY (coalesce(v_done, '{}')) AS done, u.dp0, u.dpo0, u.cp0, u.cpo0
                  FROM unnest(v_lacc, v_ldp, v_ldpo, v_lcp, v_lcpo) AS u (acc, dp0, dpo0, cp0, cpo0)) AS a
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
        UPDATE ledger_balances b SET
            debits_pending = b.debits_pending + u.dp, debits_posted = b.debits_posted + u.dpo,
            credits_pending = b.credits_pending + u.cp, credits_posted = b.credits_posted + u.cpo
        FROM unnest(v_lacc, v_ldp, v_ldpo, v_lcp, v_lcpo) AS u (acc, dp, dpo, cp, cpo)
        WHERE b.account_id = u.acc AND b.shard = 0 AND u.acc <> ALL (coalesce(v_done, '{}'));
    END IF;

    RETURN QUERY
        SELECT false, v_ids[u.ord], u.key, u.kind, v_dids[u.ord], u.d, v_cids[u.ord], u.c, u.amount, u.cur,
               NULL::bigint,
               CASE WHEN u.timeout > 0 THEN p_now + (u.timeout / 1000000) * interval '1 second'
                                                  + (u.timeout % 1000000) * interval '1 microsecond' END,
               u.memo, p_now, v_dfl[u.ord], v_cfl[u.ord]
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
    p_now timestamptz, p_shards integer, p_fail_after_insert boolean,
    p_debit_id bigint, p_credit_id bigint)
RETURNS TABLE (o_repeat boolean, o_id bigint, o_key text, o_kind text, o_debit_id bigint, o_debit text,
               o_credit_id bigint, o_credit text, o_amount bigint, o_currency text, o_pending_id bigint,
               o_timeout_at timestamptz, o_memo text, o_created_at timestamptz, o_debit_flags integer,
               o_credit_flags integer)
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
    v_fl      integer;
    v_lockd   boolean;
    v_lockc   boolean;
    v_max     constant numeric := 9223372036854775807;
BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('single', 'pending') OR p_shards IS NULL OR p_shards < 1 THEN
        RAISE EXCEPTION 'ledger: ledger_transfer_one applies one single or pending transfer' USING ERRCODE = 'CKINV';
    END IF;

    -- Accounts. An id the caller passes (with its flags) comes from what an
    -- earlier call returned: accounts never change, so it saves the look-up.
    -- Creating one is the batch function's business.
    IF p_debit_id > 0 THEN
        v_did := p_debit_id;
        v_dfl := p_debit_flags;
    ELSE
        SELECT a.id, a.flags INTO v_did, v_dfl FROM ledger_accounts a WHERE a.code = p_debit AND a.currency = p_currency;
    END IF;
    IF p_credit_id > 0 THEN
        v_cid := p_credit_id;
        v_cfl := p_credit_flags;
    ELSE
        SELECT a.id, a.flags INTO v_cid, v_cfl FROM ledger_accounts a WHERE a.code = p_credit AND a.currency = p_currency;
    END IF;
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
                   t.amount, t.currency, t.pending_id, t.timeout_at, t.memo, t.created_at, NULL::integer, NULL::integer
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

    -- 2. Unlocked sides, ascending id: a shard row nobody holds, taken
    -- without waiting, if the account stays within int64 (a racy check: the
    -- account is not locked); else the slow way (ledger_add_balances).
    v_off := 1 + floor(random() * p_shards)::integer;
    FOR i IN 1..2 LOOP
        v_acc := CASE WHEN (i = 1) = (v_did < v_cid) THEN v_did ELSE v_cid END;
        CONTINUE WHEN (v_acc = v_did AND v_lockd) OR (v_acc = v_cid AND v_lockc);
        v_x := CASE WHEN v_acc = v_did THEN v_dd ELSE v_cd END;
        UPDATE ledger_balances b SET
            debits_pending = b.debits_pending + v_x[1], debits_posted = b.debits_posted + v_x[2],
            credits_pending = b.credits_pending + v_x[3], credits_posted = b.credits_posted + v_x[4]
        WHERE b.account_id = v_acc
          AND b.shard = (
            SELECT f.shard FROM (
                SELECT x.shard FROM ledger_balances x
                WHERE x.account_id = v_acc AND x.shard >= v_off AND x.shard <= p_shards
                ORDER BY x.shard LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED) AS f
            UNION ALL
            SELECT f.shard FROM (
                SELECT x.shard FROM ledger_balances x
                WHERE x.account_id = v_acc AND x.shard >= 1 AND x.shard < v_off
                ORDER BY x.shard LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED) AS f
            LIMIT 1)
          AND (SELECT greatest(sum(y.debits_pending) + v_x[1], sum(y.debits_posted) + v_x[2],
                               sum(y.credits_pending) + v_x[3], sum(y.credits_posted) + v_x[4])
               FROM ledger_balances y WHERE y.account_id = v_acc) <= v_max;
        CONTINUE WHEN FOUND;
        IF (SELECT greatest(coalesce(sum(y.debits_pending), 0) + v_x[1], coalesce(sum(y.debits_posted), 0) + v_x[2],
                            coalesce(sum(y.credits_pending), 0) + v_x[3], coalesce(sum(y.credits_posted), 0) + v_x[4])
            FROM ledger_balances y WHERE y.account_id = v_acc) > v_max THEN
            RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                'transfer "%s": a balance of account %s would overflow int64', p_key, v_acc);
        END IF;
        PERFORM ledger_add_balances(ARRAY[v_acc], ARRAY[v_x[1]], ARRAY[v_x[2]], ARRAY[v_x[3]], ARRAY[v_x[4]], p_shards);
    END LOOP;

    -- 3. Locked sides, ascending id: shard 0, the account's lock. One upsert
    -- locks the row and checks the limit on its latest version plus the
    -- other shards as of this statement's snapshot; those only ever move in
    -- the account's favour without this lock, so a pass is certain. A failure
    -- (or a shard 0 created meanwhile) is decided again the slow way: lock,
    -- then read everything fresh.
    FOR i IN 1..2 LOOP
        v_acc := CASE WHEN (i = 1) = (v_did < v_cid) THEN v_did ELSE v_cid END;
        CONTINUE WHEN NOT ((v_acc = v_did AND v_lockd) OR (v_acc = v_cid AND v_lockc));
        v_x := CASE WHEN v_acc = v_did THEN v_dd ELSE v_cd END;
        v_fl := CASE WHEN v_acc = v_did THEN v_dfl ELSE v_cfl END;
        INSERT INTO ledger_balances AS b (account_id, shard, debits_pending, debits_posted, credits_pending,
                                          credits_posted)
        SELECT v_acc, 0, v_x[1], v_x[2], v_x[3], v_x[4]
        FROM (SELECT coalesce(sum(y.debits_pending), 0) AS dp, coalesce(sum(y.debits_posted), 0) AS dpo,
                     coalesce(sum(y.credits_pending), 0) AS cp, coalesce(sum(y.credits_posted), 0) AS cpo,
                     bool_or(y.shard = 0) AS has0
              FROM ledger_balances y WHERE y.account_id = v_acc) AS o
        WHERE o.has0 OR (greatest(o.dp + v_x[1], o.dpo + v_x[2], o.cp + v_x[3], o.cpo + v_x[4]) <= v_max
                         AND CASE v_fl WHEN 1 THEN o.dp + v_x[1] + o.dpo + v_x[2] <= o.cpo + v_x[4]
                                       ELSE o.cp + v_x[3] + o.cpo + v_x[4] <= o.dpo + v_x[2] END)
        ON CONFLICT (account_id, shard) DO UPDATE SET
            debits_pending = b.debits_pending + excluded.debits_pending,
            debits_posted = b.debits_posted + excluded.debits_posted,
            credits_pending = b.credits_pending + excluded.credits_pending,
            credits_posted = b.credits_posted + excluded.credits_posted
        WHERE (SELECT greatest(t.dp, t.dpo, t.cp, t.cpo) <= v_max
                      AND CASE v_fl WHEN 1 THEN t.dp + t.dpo <= t.cpo ELSE t.cp + t.cpo <= t.dpo END
               FROM (SELECT b.debits_pending::numeric + excluded.debits_pending + coalesce(sum(y.debits_pending), 0) AS dp,
                            b.debits_posted::numeric + excluded.debits_posted + coalesce(sum(y.debits_posted), 0) AS dpo,
                            b.credits_pending::numeric + excluded.credits_pending + coalesce(sum(y.credits_pending), 0) AS cp,
                            b.credits_posted::numeric + excluded.credits_posted + coalesce(sum(y.credits_posted), 0) AS cpo
                     FROM ledger_balances y WHERE y.account_id = b.account_id AND y.shard <> 0) AS t);
        CONTINUE WHEN FOUND;
        INSERT INTO ledger_balances (account_id, shard) VALUES (v_acc, 0) ON CONFLICT (account_id, shard) DO NOTHING;
        PERFORM 1 FROM ledger_balances x WHERE x.account_id = v_acc AND x.shard = 0 FOR NO KEY UPDATE;
        SELECT ARRAY[sum(y.debits_pending) + v_x[1], sum(y.debits_posted) + v_x[2],
                     sum(y.credits_pending) + v_x[3], sum(y.credits_posted) + v_x[4]]
        INTO v_b FROM ledger_balances y WHERE y.account_id = v_acc;
        IF greatest(v_b[1], v_b[2], v_b[3], v_b[4]) > v_max THEN
            RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                'transfer "%s": a balance of account %s would overflow int64', p_key, v_acc);
        ELSIF v_fl = 1 AND v_b[1] + v_b[2] > v_b[4] THEN
            RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                'transfer "%s": account %s (%s): debits (pending %s + posted %s) would exceed posted credits %s',
                p_key, CASE WHEN v_acc = v_did THEN p_debit ELSE p_credit END, p_currency, v_b[1], v_b[2], v_b[4]);
        ELSIF v_fl = 2 AND v_b[3] + v_b[4] > v_b[2] THEN
            RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
                'transfer "%s": account %s (%s): credits (pending %s + posted %s) would exceed posted debits %s',
                p_key, CASE WHEN v_acc = v_did THEN p_debit ELSE p_credit END, p_currency, v_b[3], v_b[4], v_b[2]);
        END IF;
        UPDATE ledger_balances b SET
            debits_pending = b.debits_pending + v_x[1], debits_posted = b.debits_posted + v_x[2],
            credits_pending = b.credits_pending + v_x[3], credits_posted = b.credits_posted + v_x[4]
        WHERE b.account_id = v_acc AND b.shard = 0;
    END LOOP;

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
    o_debit_flags := v_dfl;
    o_credit_flags := v_cfl;
    RETURN NEXT;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION ledger_transfer_one(text, text, text, text, bigint, text, bigint, text, integer, integer, timestamptz,
                                  integer, boolean, bigint, bigint);
DROP FUNCTION ledger_transfer_batch(text[], text[], text[], text[], bigint[], text[], bigint[], text[], integer[],
                                    integer[], timestamptz, integer, boolean);
DROP FUNCTION ledger_add_balances(bigint[], bigint[], bigint[], bigint[], bigint[], integer);
