-- +goose Up
-- PostgreSQL's 00005 adds the ledger's fast-path functions (PL/pgSQL). SQLite
-- has no stored functions and runs one writer at a time: core/ledger keeps its
-- Go path there. This no-op keeps version numbers aligned across dialects.
SELECT 1;

-- +goose Down
SELECT 1;
