// Package idempotency is the host's one idempotency-key scheme: every POST
// that can move money honours a key, so a client's retry or a double click
// moves money once.
//
// # The HTTP side (Middleware)
//
// It follows the IETF httpapi draft "The Idempotency-Key HTTP Header Field":
//
//   - A request names its key with the Idempotency-Key header: a Structured
//     Field string ("…"), or the bare value for clients that send it
//     unquoted; 8 to 255 of A-Z a-z 0-9 - _ . : ~ + / = (anything else is a
//     400). The site's own HTML forms carry a hidden FormField instead (one
//     random value per rendered page, see sdk/theme Layout.IdempotencyKey);
//     the effective key of a form post is a digest of that value, the form's
//     action and its fields, so two forms of one page never share a key and
//     a double submit of the same form does.
//   - Keys belong to the authenticated user: a key of user A never answers
//     user B (the record is stored under the user's id).
//   - The same key with the same request (method, path, query and a SHA-256
//     fingerprint of the body) gets the first answer again: status, body,
//     Content-Type, Location and the configured headers and cookies, with
//     Idempotent-Replayed: true.
//   - The same key with another request is refused with 422 and nothing runs.
//   - A repeat while the first is still running is refused with 409 and
//     Retry-After (the API); a form post waits briefly for the first answer
//     and replays it (a double click is not an error page).
//   - Only final answers are kept: a 5xx, 202 (accepted, not done), 408,
//     409, 425 or 429 is not, so a retry after a 503 runs again. That is safe
//     because the services below are idempotent on the same key (next
//     section); a request that ran under a key may run again only with it.
//   - A kept answer is replayed for TTL (24 h) after it was given, then
//     expired (Store.Expire, run by Sweep).
//   - A request without a key runs as before, unprotected: API clients that
//     send none get no replay and no duplicate detection.
//
// State lives in the database (table idempotency_keys), so a second host
// sees the first one's claims, and a claim whose host died is taken over
// once its lease ends.
//
// # The service side
//
// The middleware puts the effective key where handlers find it (Key), and a
// handler passes it to the service it calls. A service derives what it
// creates from (user, key) with ID, under a unique constraint: a credit-pack
// purchase retried after a 503 or a host crash finds its first row and
// finishes it with the same processor idempotency key, instead of charging
// again. Without a key a service makes a new id per call, as before.
package idempotency
