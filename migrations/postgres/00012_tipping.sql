-- +goose Up
-- A model's tip goal (core/tipping): one at a time. Progress is not kept
-- here: it is the sum of her chat_tips since set_at, so it can never drift
-- from the money that moved. reached counts the times the goal has been
-- announced as reached (a goal that resets is reached again and again); it
-- only grows, by compare-and-set, so a goal is announced once per time even
-- when two tips cross it together.
CREATE TABLE tip_goals (
    model_id   TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    amount     BIGINT NOT NULL CHECK (amount > 0),
    currency   TEXT NOT NULL,
    on_reach   TEXT NOT NULL CHECK (on_reach IN ('reset', 'stay')),
    set_at     TIMESTAMPTZ NOT NULL,
    reached    INTEGER NOT NULL DEFAULT 0 CHECK (reached >= 0)
);

-- A model's tip menu: named items with prices, in her order. A viewer's tip
-- names an item by id and the price is read here when the tip is made.
CREATE TABLE tip_menu_items (
    model_id   TEXT NOT NULL,
    id         TEXT NOT NULL,
    position   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    amount     BIGINT NOT NULL CHECK (amount > 0),
    currency   TEXT NOT NULL,
    PRIMARY KEY (model_id, id)
);

-- A tip chosen from a menu names its item, for the viewer's receipt; goal
-- progress sums a model's tips since a time.
ALTER TABLE chat_tips ADD COLUMN item TEXT NOT NULL DEFAULT '';
CREATE INDEX chat_tips_model_time ON chat_tips (model_id, created_at);

-- +goose Down
DROP INDEX chat_tips_model_time;
ALTER TABLE chat_tips DROP COLUMN item;
DROP TABLE tip_menu_items;
DROP TABLE tip_goals;
