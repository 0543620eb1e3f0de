-- +goose Up
-- The ledger's PostgreSQL fast path (core/ledger, see its package doc):
--
--   ledger_add_balances    adds per-account deltas to balance shards without
--                          serialising writers of one hot account;
--   ledger_transfer_batch  applies a linked batch of single/pending transfers
--                          in ONE statement, so a transfer costs one round trip
--                          and commits in autocommit.
--
-- Errors a caller must see typed are raised with SQLSTATEs of class CK, which
-- core/ledger maps back to sdk/errs codes:
--   CKLIM limit (an account limit, or a balance beyond int64)
--   CKNFD not found (an account outside the chart that was never opened)
--   CKINV invalid (a request the Go side should never have sent)
--   CKINJ a failure injected by a test after the transfer rows are written
-- Races are raised with the standard codes the Go side retries on
-- (unique_violation from a concurrent insert of one key, serialization_failure).

-- +goose StatementBegin
-- ledger_add_balances adds (dp, dpo, cp, cpo) to one balance shard of each
-- account in p_ids (distinct ids). Accounts are taken in ascending id order.
-- For each, a shard row nobody else holds is taken without waiting (SKIP
-- LOCKED); when every existing row is held:
--   * if the account has fewer than p_shards rows, a new shard row is created
--     (guarded by a non-blocking advisory lock, so that no two transactions
--     insert the same row and neither waits for the other);
--   * if all p_shards rows exist, the transaction waits for one of them, still
--     in ascending account order, so shard waits can never form a cycle.
CREATE FUNCTION ledger_add_balances(p_ids bigint[], p_dp bigint[], p_dpo bigint[], p_cp bigint[], p_cpo bigint[],
                                    p_shards integer) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_off  integer := floor(random() * p_shards)::integer;
    v_done bigint[];
    v_ok   boolean;
    v_s    integer;
    r      record;
BEGIN
    IF p_shards IS NULL OR p_shards < 1 THEN
        RAISE EXCEPTION 'ledger: % balance shards', p_shards USING ERRCODE = 'CKINV';
    END IF;
    WITH pick AS MATERIALIZED (
        SELECT d.account_id, d.dp, d.dpo, d.cp, d.cpo, s.shard
        FROM (SELECT u.account_id, u.dp, u.dpo, u.cp, u.cpo
              FROM unnest(p_ids, p_dp, p_dpo, p_cp, p_cpo) AS u (account_id, dp, dpo, cp, cpo)
              ORDER BY u.account_id) AS d
        CROSS JOIN LATERAL (
            -- From a random shard upwards, wrapping around: index order, so
            -- the scan stops at the first row nobody holds.
            SELECT f.shard FROM (
                SELECT x.shard FROM ledger_balances x
                WHERE x.account_id = d.account_id AND x.shard >= v_off AND x.shard < p_shards
                ORDER BY x.shard
                LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED) AS f
            UNION ALL
            SELECT f.shard FROM (
                SELECT x.shard FROM ledger_balances x
                WHERE x.account_id = d.account_id AND x.shard < v_off
                ORDER BY x.shard
                LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED) AS f
            UNION ALL
            SELECT w.shard FROM (
                SELECT x.shard FROM ledger_balances x
                WHERE x.account_id = d.account_id AND x.shard < p_shards
                  AND (SELECT count(*) FROM ledger_balances y
                       WHERE y.account_id = d.account_id AND y.shard < p_shards) >= p_shards
                ORDER BY (x.shard + v_off) % p_shards
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
        FOR v_s IN SELECT g FROM generate_series(0, p_shards - 1) AS g
                   WHERE NOT EXISTS (SELECT 1 FROM ledger_balances x WHERE x.account_id = r.account_id AND x.shard = g)
                   ORDER BY (g + v_off) % p_shards LOOP
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
            -- Every shard was taken in the instant between the two looks: run
            -- again (the caller retries serialization failures).
            RAISE EXCEPTION 'ledger: no free balance shard for account %', r.account_id
                USING ERRCODE = 'serialization_failure';
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- ledger_transfer_batch applies a linked batch of single and pending transfers
-- (arrays aligned by position), all or nothing:
--   1. if any key is already stored, returns the stored transfers (o_repeat)
--      and writes nothing: the caller compares contents (repeat or conflict);
--   2. resolves the accounts, creating chart accounts on first use (p_*_flags
--      >= 0 gives the chart's flags; -1 means the account must exist);
--   3. locks the accounts whose constrained side grows, ascending id, in one
--      statement;
--   4. checks, after every transfer in batch order, the limits of the locked
--      accounts and that no balance leaves int64;
--   5. inserts the transfers, in batch order;
--   6. adds one aggregated delta per touched account (ledger_add_balances).
-- p_timeouts are pending timeouts in microseconds (0: none). p_fail_after_insert
-- is the atomicity test's injection point: it fails after step 5.
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
    v_locked bigint[];
    v_ids    bigint[];
    v_acc    bigint[];
    v_dp     bigint[];
    v_dpo    bigint[];
    v_cp     bigint[];
    v_cpo    bigint[];
    v_bad    record;
    i        integer;
BEGIN
    IF v_n = 0 OR cardinality(p_kinds) <> v_n OR cardinality(p_debits) <> v_n OR cardinality(p_credits) <> v_n
       OR cardinality(p_amounts) <> v_n OR cardinality(p_currencies) <> v_n OR cardinality(p_timeouts) <> v_n
       OR cardinality(p_memos) <> v_n OR cardinality(p_debit_flags) <> v_n OR cardinality(p_credit_flags) <> v_n THEN
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

    -- 2. Accounts.
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

    -- 3. Lock the accounts whose constrained side grows: debits of a
    -- debits_must_not_exceed_credits account, credits of the other kind.
    SELECT array_agg(DISTINCT l.id) INTO v_locked
    FROM (SELECT v_dids[g] AS id FROM generate_subscripts(p_keys, 1) AS g WHERE v_dfl[g] = 1
          UNION ALL
          SELECT v_cids[g] FROM generate_subscripts(p_keys, 1) AS g WHERE v_cfl[g] = 2) AS l;
    IF v_locked IS NOT NULL THEN
        PERFORM 1 FROM ledger_accounts a WHERE a.id = ANY (v_locked) ORDER BY a.id FOR NO KEY UPDATE;
    END IF;

    -- 4. After each transfer in order (debit leg first): every touched balance
    -- within int64, every locked account within its limit. Sums are numeric,
    -- so an overflow is found here rather than raised by an UPDATE.
    WITH legs AS (
        SELECT u.ord, 0 AS side, v_dids[u.ord] AS acc, v_dfl[u.ord] AS flags,
               CASE WHEN u.kind = 'pending' THEN u.amount ELSE 0 END AS dp,
               CASE WHEN u.kind = 'single' THEN u.amount ELSE 0 END AS dpo,
               0::bigint AS cp, 0::bigint AS cpo
        FROM unnest(p_kinds, p_amounts) WITH ORDINALITY AS u (kind, amount, ord)
        UNION ALL
        SELECT u.ord, 1, v_cids[u.ord], v_cfl[u.ord], 0, 0,
               CASE WHEN u.kind = 'pending' THEN u.amount ELSE 0 END,
               CASE WHEN u.kind = 'single' THEN u.amount ELSE 0 END
        FROM unnest(p_kinds, p_amounts) WITH ORDINALITY AS u (kind, amount, ord)
    ), base AS (
        SELECT a.acc AS account_id, s.dp, s.dpo, s.cp, s.cpo
        FROM (SELECT DISTINCT legs.acc FROM legs) AS a
        CROSS JOIN LATERAL (
            SELECT sum(b.debits_pending) AS dp, sum(b.debits_posted) AS dpo,
                   sum(b.credits_pending) AS cp, sum(b.credits_posted) AS cpo
            FROM ledger_balances b WHERE b.account_id = a.acc) AS s
    ), run AS (
        SELECT l.ord, l.side, l.acc, l.flags,
               coalesce(b.dp, 0) + sum(l.dp) OVER w AS dp, coalesce(b.dpo, 0) + sum(l.dpo) OVER w AS dpo,
               coalesce(b.cp, 0) + sum(l.cp) OVER w AS cp, coalesce(b.cpo, 0) + sum(l.cpo) OVER w AS cpo
        FROM legs l LEFT JOIN base b ON b.account_id = l.acc
        WINDOW w AS (PARTITION BY l.acc ORDER BY l.ord, l.side ROWS UNBOUNDED PRECEDING)
    )
    SELECT run.*,
           greatest(run.dp, run.dpo, run.cp, run.cpo) > 9223372036854775807
               OR least(run.dp, run.dpo, run.cp, run.cpo) < -9223372036854775808 AS overflow
    INTO v_bad
    FROM run
    WHERE greatest(run.dp, run.dpo, run.cp, run.cpo) > 9223372036854775807
       OR least(run.dp, run.dpo, run.cp, run.cpo) < -9223372036854775808
       OR (run.acc = ANY (v_locked) AND (
             (run.flags = 1 AND run.dp + run.dpo > run.cpo) OR (run.flags = 2 AND run.cp + run.cpo > run.dpo)))
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

    -- 5. The transfers, ids ascending in batch order.
    WITH ins AS (
        INSERT INTO ledger_transfers (idempotency_key, kind, debit_account_id, credit_account_id, amount, currency,
                                      pending_id, timeout_at, memo, created_at)
        SELECT u.key, u.kind, v_dids[u.ord], v_cids[u.ord], u.amount, u.cur, NULL,
               CASE WHEN u.timeout > 0 THEN
                   p_now + (u.timeout / 1000000) * interval '1 second' + (u.timeout % 1000000) * interval '1 microsecond'
               END,
               u.memo, p_now
        FROM unnest(p_keys, p_kinds, p_amounts, p_currencies, p_timeouts, p_memos)
             WITH ORDINALITY AS u (key, kind, amount, cur, timeout, memo, ord)
        ORDER BY u.ord
        RETURNING ledger_transfers.id, ledger_transfers.idempotency_key
    )
    SELECT array_agg(ins.id ORDER BY k.ord) INTO v_ids
    FROM ins JOIN unnest(p_keys) WITH ORDINALITY AS k (key, ord) ON k.key = ins.idempotency_key;

    IF p_fail_after_insert THEN
        RAISE EXCEPTION USING ERRCODE = 'CKINJ', MESSAGE = format(
            'injected failure after %s transfer rows were written and before balances moved',
            (SELECT count(*) FROM ledger_transfers t WHERE t.id = ANY (v_ids)));
    END IF;

    -- 6. Balances: one delta per touched account.
    SELECT array_agg(s.acc ORDER BY s.acc), array_agg(s.dp ORDER BY s.acc), array_agg(s.dpo ORDER BY s.acc),
           array_agg(s.cp ORDER BY s.acc), array_agg(s.cpo ORDER BY s.acc)
    INTO v_acc, v_dp, v_dpo, v_cp, v_cpo
    FROM (SELECT l.acc, sum(l.dp)::bigint AS dp, sum(l.dpo)::bigint AS dpo, sum(l.cp)::bigint AS cp,
                 sum(l.cpo)::bigint AS cpo
          FROM (SELECT v_dids[u.ord] AS acc,
                       CASE WHEN u.kind = 'pending' THEN u.amount ELSE 0 END AS dp,
                       CASE WHEN u.kind = 'single' THEN u.amount ELSE 0 END AS dpo,
                       0::bigint AS cp, 0::bigint AS cpo
                FROM unnest(p_kinds, p_amounts) WITH ORDINALITY AS u (kind, amount, ord)
                UNION ALL
                SELECT v_cids[u.ord], 0, 0,
                       CASE WHEN u.kind = 'pending' THEN u.amount ELSE 0 END,
                       CASE WHEN u.kind = 'single' THEN u.amount ELSE 0 END
                FROM unnest(p_kinds, p_amounts) WITH ORDINALITY AS u (kind, amount, ord)) AS l
          GROUP BY l.acc) AS s;
    PERFORM ledger_add_balances(v_acc, v_dp, v_dpo, v_cp, v_cpo, p_shards);

    RETURN QUERY
        SELECT false, v_ids[u.ord], u.key, u.kind, v_dids[u.ord], u.d, v_cids[u.ord], u.c, u.amount, u.cur,
               NULL::bigint,
               CASE WHEN u.timeout > 0 THEN
                   p_now + (u.timeout / 1000000) * interval '1 second' + (u.timeout % 1000000) * interval '1 microsecond'
               END,
               u.memo, p_now
        FROM unnest(p_keys, p_kinds, p_debits, p_credits, p_amounts, p_currencies, p_timeouts, p_memos)
             WITH ORDINALITY AS u (key, kind, d, c, amount, cur, timeout, memo, ord)
        ORDER BY u.ord;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- ledger_transfer_one is ledger_transfer_batch for one transfer whose two
-- accounts exist, written with scalars: the hot path of Transfer, in about
-- ten index-sized statements. Anything else (an account to create) is handed
-- to ledger_transfer_batch, which behaves the same.
CREATE FUNCTION ledger_transfer_one(
    p_key text, p_kind text, p_debit text, p_credit text, p_amount bigint, p_currency text,
    p_timeout bigint, p_memo text, p_debit_flags integer, p_credit_flags integer,
    p_now timestamptz, p_shards integer, p_fail_after_insert boolean)
RETURNS TABLE (o_repeat boolean, o_id bigint, o_key text, o_kind text, o_debit_id bigint, o_debit text,
               o_credit_id bigint, o_credit text, o_amount bigint, o_currency text, o_pending_id bigint,
               o_timeout_at timestamptz, o_memo text, o_created_at timestamptz)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_did     bigint;
    v_dfl     integer;
    v_cid     bigint;
    v_cfl     integer;
    v_id      bigint;
    v_timeout timestamptz;
    v_off     integer;
    v_d       numeric[];
    v_c       numeric[];
    v_ids     bigint[];
    v_sh      integer;
    v_pend    boolean := p_kind = 'pending';
    v_lockd   boolean;
    v_lockc   boolean;
    v_max     constant numeric := 9223372036854775807;
BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('single', 'pending') OR p_shards IS NULL OR p_shards < 1 THEN
        RAISE EXCEPTION 'ledger: ledger_transfer_one applies one single or pending transfer' USING ERRCODE = 'CKINV';
    END IF;

    -- 1. A repeat writes nothing.
    RETURN QUERY
        SELECT true, t.id, t.idempotency_key, t.kind,
               t.debit_account_id, (SELECT a.code FROM ledger_accounts a WHERE a.id = t.debit_account_id),
               t.credit_account_id, (SELECT a.code FROM ledger_accounts a WHERE a.id = t.credit_account_id),
               t.amount, t.currency, t.pending_id, t.timeout_at, t.memo, t.created_at
        FROM ledger_transfers t
        WHERE t.idempotency_key = p_key;
    IF FOUND THEN
        RETURN;
    END IF;

    -- 2. Accounts; creating one is the batch function's business.
    SELECT a.id, a.flags INTO v_did, v_dfl FROM ledger_accounts a WHERE a.code = p_debit AND a.currency = p_currency;
    SELECT a.id, a.flags INTO v_cid, v_cfl FROM ledger_accounts a WHERE a.code = p_credit AND a.currency = p_currency;
    IF v_did IS NULL OR v_cid IS NULL THEN
        RETURN QUERY SELECT * FROM ledger_transfer_batch(ARRAY[p_key], ARRAY[p_kind], ARRAY[p_debit], ARRAY[p_credit],
            ARRAY[p_amount], ARRAY[p_currency], ARRAY[p_timeout], ARRAY[p_memo], ARRAY[p_debit_flags],
            ARRAY[p_credit_flags], p_now, p_shards, p_fail_after_insert);
        RETURN;
    END IF;

    -- 3. Lock the constrained side that grows (one or two rows, ascending id).
    v_lockd := v_dfl = 1;
    v_lockc := v_cfl = 2;
    IF v_lockd AND v_lockc THEN
        PERFORM 1 FROM ledger_accounts a WHERE a.id IN (v_did, v_cid) ORDER BY a.id FOR NO KEY UPDATE;
    ELSIF v_lockd THEN
        PERFORM 1 FROM ledger_accounts a WHERE a.id = v_did FOR NO KEY UPDATE;
    ELSIF v_lockc THEN
        PERFORM 1 FROM ledger_accounts a WHERE a.id = v_cid FOR NO KEY UPDATE;
    END IF;

    -- 4. Both balances after the transfer (numeric: an overflow is found, not raised).
    SELECT ARRAY[coalesce(sum(b.debits_pending) FILTER (WHERE b.account_id = v_did), 0),
                 coalesce(sum(b.debits_posted) FILTER (WHERE b.account_id = v_did), 0),
                 coalesce(sum(b.credits_pending) FILTER (WHERE b.account_id = v_did), 0),
                 coalesce(sum(b.credits_posted) FILTER (WHERE b.account_id = v_did), 0)],
           ARRAY[coalesce(sum(b.debits_pending) FILTER (WHERE b.account_id = v_cid), 0),
                 coalesce(sum(b.debits_posted) FILTER (WHERE b.account_id = v_cid), 0),
                 coalesce(sum(b.credits_pending) FILTER (WHERE b.account_id = v_cid), 0),
                 coalesce(sum(b.credits_posted) FILTER (WHERE b.account_id = v_cid), 0)]
    INTO v_d, v_c
    FROM ledger_balances b WHERE b.account_id IN (v_did, v_cid);
    IF v_pend THEN
        v_d[1] := v_d[1] + p_amount;
        v_c[3] := v_c[3] + p_amount;
    ELSE
        v_d[2] := v_d[2] + p_amount;
        v_c[4] := v_c[4] + p_amount;
    END IF;
    IF greatest(v_d[1], v_d[2]) > v_max THEN
        RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
            'transfer "%s": a balance of account %s would overflow int64', p_key, v_did);
    END IF;
    IF v_lockd AND v_d[1] + v_d[2] > v_d[4] THEN
        RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
            'transfer "%s": account %s (%s): debits (pending %s + posted %s) would exceed posted credits %s',
            p_key, p_debit, p_currency, v_d[1], v_d[2], v_d[4]);
    END IF;
    IF greatest(v_c[3], v_c[4]) > v_max THEN
        RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
            'transfer "%s": a balance of account %s would overflow int64', p_key, v_cid);
    END IF;
    IF v_lockc AND v_c[3] + v_c[4] > v_c[2] THEN
        RAISE EXCEPTION USING ERRCODE = 'CKLIM', MESSAGE = format(
            'transfer "%s": account %s (%s): credits (pending %s + posted %s) would exceed posted debits %s',
            p_key, p_credit, p_currency, v_c[3], v_c[4], v_c[2]);
    END IF;

    -- 5. The transfer.
    IF p_timeout > 0 THEN
        v_timeout := p_now + (p_timeout / 1000000) * interval '1 second' + (p_timeout % 1000000) * interval '1 microsecond';
    END IF;
    INSERT INTO ledger_transfers (idempotency_key, kind, debit_account_id, credit_account_id, amount, currency,
                                  pending_id, timeout_at, memo, created_at)
    VALUES (p_key, p_kind, v_did, v_cid, p_amount, p_currency, NULL, v_timeout, p_memo, p_now)
    RETURNING id INTO v_id;
    IF p_fail_after_insert THEN
        RAISE EXCEPTION USING ERRCODE = 'CKINJ', MESSAGE = format(
            'injected failure after %s transfer rows were written and before balances moved',
            (SELECT count(*) FROM ledger_transfers t WHERE t.id = v_id));
    END IF;

    -- 6. Balances, ascending account id: a free shard row without waiting,
    -- else ledger_add_balances for that account (it may create a shard or
    -- wait, and is still in order).
    v_off := floor(random() * p_shards)::integer;
    v_ids := ARRAY[least(v_did, v_cid), greatest(v_did, v_cid)];
    FOR i IN 1..2 LOOP
        SELECT f.shard INTO v_sh FROM (
            SELECT x.shard FROM ledger_balances x
            WHERE x.account_id = v_ids[i] AND x.shard >= v_off AND x.shard < p_shards
            ORDER BY x.shard LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED) AS f
        UNION ALL
        SELECT f.shard FROM (
            SELECT x.shard FROM ledger_balances x
            WHERE x.account_id = v_ids[i] AND x.shard < v_off
            ORDER BY x.shard LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED) AS f
        LIMIT 1;
        IF FOUND THEN
            IF v_ids[i] = v_did THEN
                UPDATE ledger_balances b SET
                    debits_pending = b.debits_pending + CASE WHEN v_pend THEN p_amount ELSE 0 END,
                    debits_posted = b.debits_posted + CASE WHEN v_pend THEN 0 ELSE p_amount END
                WHERE b.account_id = v_did AND b.shard = v_sh;
            ELSE
                UPDATE ledger_balances b SET
                    credits_pending = b.credits_pending + CASE WHEN v_pend THEN p_amount ELSE 0 END,
                    credits_posted = b.credits_posted + CASE WHEN v_pend THEN 0 ELSE p_amount END
                WHERE b.account_id = v_cid AND b.shard = v_sh;
            END IF;
        ELSIF v_ids[i] = v_did THEN
            PERFORM ledger_add_balances(ARRAY[v_did],
                ARRAY[CASE WHEN v_pend THEN p_amount ELSE 0 END], ARRAY[CASE WHEN v_pend THEN 0 ELSE p_amount END],
                ARRAY[0::bigint], ARRAY[0::bigint], p_shards);
        ELSE
            PERFORM ledger_add_balances(ARRAY[v_cid], ARRAY[0::bigint], ARRAY[0::bigint],
                ARRAY[CASE WHEN v_pend THEN p_amount ELSE 0 END], ARRAY[CASE WHEN v_pend THEN 0 ELSE p_amount END],
                p_shards);
        END IF;
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
