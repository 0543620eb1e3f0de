package web

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"

	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/stream/whiphttp"
	"github.com/gofiber/fiber/v2"
)

// The OpenAPI 3 document of the JSON API, written as a Go value so it is
// compiled with the handlers it describes; a test walks the fiber routes and
// this document and checks they agree both ways.

type schema = map[string]any

func ref(name string) schema  { return schema{"$ref": "#/components/schemas/" + name} }
func arrayOf(s schema) schema { return schema{"type": "array", "items": s} }
func obj(required []string, props schema) schema {
	s := schema{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

var (
	str     = schema{"type": "string"}
	boolean = schema{"type": "boolean"}
	integer = schema{"type": "integer", "format": "int64"}
	when    = schema{"type": "string", "format": "date-time"}
)

// apiOp describes one operation.
type apiOp struct {
	method, path, id, summary string
	// auth: "" public, "user", "viewer", "model", "admin"
	auth   string
	body   schema
	status int
	resp   schema
}

var apiOps = []apiOp{
	{"get", "/openapi.json", "openapi", "This document", "", nil, 200, schema{"type": "object"}},
	{"get", "/csrf", "csrf", "The CSRF token to send as X-CSRF-Token with cookie authentication", "", nil, 200, ref("CSRF")},
	{"post", "/session", "login", "Log in; the token is a bearer token (no cookie is set)", "", ref("LoginBody"), 201, ref("Session")},
	{"delete", "/session", "logout", "Log out: revoke this session", "", nil, 200, ref("OK")},
	{"post", "/signup", "signup", "Create a viewer or model account and a session", "", ref("SignupBody"), 201, ref("Session")},
	{"post", "/age-confirmations", "confirmAge", "Record an 18+ confirmation and set the age cookie", "", nil, 201, ref("AgeConfirmation")},
	{"get", "/me", "me", "The signed-in user (with the wallet balance for a viewer)", "user", nil, 200, ref("User")},

	{"get", "/shows", "listShows", "Shows on air; q searches names, tag filters", "", nil, 200, arrayOf(ref("Show"))},
	{"get", "/shows/{show}", "getShow", "One show on air", "", nil, 200, ref("Show")},
	{"get", "/shows/{show}/quote", "quote", "The price a private seat would lock now", "", nil, 200, ref("Quote")},
	{"get", "/shows/{show}/chat", "chatHistory", "Recent chat of a room (a show, seat-<id> for a private show, group-<id> for a group show's seat holders)", "", nil, 200, arrayOf(ref("ChatMessage"))},
	{"post", "/shows/{show}/chat", "chatPost", "Say something in a room", "user", ref("ChatBody"), 201, ref("ChatMessage")},
	{"post", "/shows/{show}/tips", "tip", "Tip from the wallet; tip_id makes a retry safe", "viewer", ref("TipBody"), 201, ref("ChatMessage")},
	{"get", "/shows/{show}/tipping", "roomTipping", "The model's tip goal (with its progress) and tip menu", "", nil, 200, ref("Tipping")},
	{"post", "/shows/{show}/menu-tips", "menuTip", "Tip a menu item: exactly its price on the menu now, announced with its name; tip_id makes a retry safe", "viewer", ref("MenuTipBody"), 201, ref("ChatMessage")},
	{"post", "/shows/{show}/private-requests", "requestPrivate", "Ask the model for a private show at the quoted price; the optional body asks for cam2cam at the quoted surcharge", "viewer", ref("PrivateRequestBody"), 201, ref("Request")},
	{"get", "/shows/{show}/spy", "spyOffer", "The price a spy seat in the show's private show would lock now and whether this viewer can pay; 404 when the show is not private or the model refuses spies", "", nil, 200, ref("SpyOffer")},
	{"post", "/shows/{show}/spy-seats", "spy", "Spy on the private show: a receive-only seat (video only: no chat, no tips, no camera) at the model's spy rate, locked now, metered like any seat; it ends when the private show ends. Again: the same seat", "viewer", nil, 201, ref("Seat")},
	{"get", "/shows/{show}/group", "groupOffer", "The show's group show: the price a seat would lock now and whether this viewer can pay", "", nil, 200, ref("GroupOffer")},
	{"post", "/shows/{show}/group/seats", "joinGroup", "Join the group show: a seat at the current group rate (locked now), or, before its minimum is reached, a place among those waiting (nothing is held or billed until it starts); a repeat answers the same", "viewer", nil, 201, ref("GroupJoin")},
	{"delete", "/shows/{show}/group/waiting", "leaveGroupWaiting", "Stop waiting for a group show that has not started (a seat holder ends the seat instead)", "viewer", nil, 200, ref("OK")},
	{"get", "/models/{id}", "getModel", "A model's public profile", "", nil, 200, ref("Profile")},

	{"get", "/me/seat", "mySeat", "The viewer's private show in progress", "viewer", nil, 200, ref("Seat")},
	{"get", "/seats/{seat}", "getSeat", "A seat: running time and cost (its viewer, its model or an admin)", "user", nil, 200, ref("Seat")},
	{"post", "/seats/{seat}/end", "endSeat", "End a seat (its viewer or its model) and get the receipt; idempotent: a repeat answers the same", "user", nil, 200, ref("Receipt")},
	{"get", "/wallet", "wallet", "Wallet balance and history from the ledger", "viewer", nil, 200, ref("Wallet")},
	{"get", "/credit-packs", "listPacks", "Credit packs on sale", "", nil, 200, arrayOf(ref("Pack"))},
	{"post", "/credit-packs/{pack}/purchases", "buyPack", "Buy a pack with the card on file", "viewer", nil, 201, ref("Purchase")},
	{"get", "/card", "getCard", "The card on file (brand, last four digits, expiry; never the number)", "viewer", nil, 200, ref("Card")},
	{"post", "/card/checkouts", "startCardCheckout", "Start the processor's checkout to add a card", "viewer", ref("CardBody"), 201, ref("Checkout")},
	{"post", "/card/completions", "completeCardCheckout", "Finish a card checkout with the return link's parameters", "viewer", ref("CardCompleteBody"), 201, ref("Card")},
	{"get", "/receipts", "listReceipts", "The user's receipts, newest first", "user", nil, 200, arrayOf(ref("Receipt"))},
	{"get", "/receipts/{seat}", "getReceipt", "One receipt (its viewer, its model or an admin)", "user", nil, 200, ref("Receipt")},

	{"get", "/me/show", "myShow", "The model's show on air, with her stream key's hint (the key itself once, right after it was made)", "model", nil, 200, ref("MyShow")},
	{"post", "/me/show", "goLive", "Go live (approved models)", "model", nil, 201, ref("MyShow")},
	{"delete", "/me/show", "endShow", "Go off air; every seat ends", "model", nil, 200, ref("OK")},
	{"put", "/me/rate", "setRate", "Set the per-minute private rate; open seats keep theirs", "model", ref("RateBody"), 200, ref("Profile")},
	{"put", "/me/profile", "setProfile", "Set bio and tags", "model", ref("ProfileBody"), 200, ref("Profile")},
	{"get", "/me/tipping", "myTipping", "Her tip goal and tip menu", "model", nil, 200, ref("Tipping")},
	{"put", "/me/tip-goal", "setTipGoal", "Set her tip goal; it counts tips from now", "model", ref("TipGoalBody"), 200, ref("Tipping")},
	{"delete", "/me/tip-goal", "clearTipGoal", "Remove her tip goal", "model", nil, 200, ref("Tipping")},
	{"put", "/me/tip-menu", "setTipMenu", "Replace her tip menu (at most 30 items; an item keeps its id when sent with it)", "model", ref("TipMenuBody"), 200, ref("Tipping")},
	{"get", "/me/requests", "myRequests", "Pending private requests", "model", nil, 200, arrayOf(ref("Request"))},
	{"get", "/me/earnings", "myEarnings", "Earnings from the ledger", "model", nil, 200, ref("Earnings")},
	{"put", "/me/group-rate", "setGroupRate", "Set the per-minute rate of the group shows she opens without naming one (the private rate's rules); open seats keep theirs", "model", ref("RateBody"), 200, ref("Profile")},
	{"get", "/me/group", "myGroup", "The model's group show and its open seats", "model", nil, 200, ref("MyGroup")},
	{"post", "/me/group", "startGroup", "Open a group show from the public show (rate: default her profile's; minimum paying viewers: default none), or re-price the open one for later joiners; open seats keep their price", "model", ref("GroupBody"), 201, ref("Group")},
	{"delete", "/me/group", "endGroup", "End the group show for all: every seat ends and settles once; the show is public again", "model", nil, 200, ref("OK")},
	{"post", "/requests/{id}/accept", "accept", "Accept a request: the seat opens and the price is locked", "model", nil, 201, ref("Seat")},
	{"post", "/requests/{id}/decline", "decline", "Decline a request", "model", nil, 200, ref("OK")},
	{"put", "/me/cam2cam", "setCam2cam", "Offer cam2cam in private shows at a per-minute surcharge (0: free), or stop offering it (null); open seats keep their price", "model", ref("Cam2camBody"), 200, ref("Cam2camOffer")},
	{"put", "/me/spy-rate", "setSpyRate", "Allow spies on her private shows at a per-minute rate (the private rate's rules), or refuse them (null); open spy seats keep their price", "model", ref("SpyRateBody"), 200, ref("SpyRate")},
	{"get", "/me/spies", "mySpies", "The open spy seats of the model's private show, with their running earnings", "model", nil, 200, arrayOf(ref("Seat"))},
	{"post", "/seats/{seat}/cam2cam/stop", "stopCam2cam", "Stop the viewer's camera for the rest of the seat; the seat's locked price does not change", "model", nil, 200, ref("OK")},

	{"get", "/ticket-shows/{id}", "getTicketShow", "A ticket show: price, times, tickets sold", "", nil, 200, ref("TicketShow")},
	{"get", "/models/{id}/ticket-show", "modelTicketShow", "The model's next ticket show on sale or running", "", nil, 200, ref("TicketShow")},
	{"post", "/ticket-shows/{id}/tickets", "buyTicket", "Buy a ticket from the wallet: held until the show is over, then posted or refunded. " +
		"One ticket per viewer and show: a repeat answers the same ticket. A short wallet or a sold-out show is 402, closed doors 400, " +
		"each with a message; none moves money. Body optional: {\"pay\":\"card\"} charges the card on file the price into the wallet first " +
		"(a decline is the processor's error and reserves nothing); refunds return to the wallet", "viewer", ref("BuyTicketBody"), 201, ref("Ticket")},
	{"get", "/me/tickets", "myTickets", "The viewer's tickets, newest first, each with its WHEP token", "viewer", nil, 200, arrayOf(ref("Ticket"))},
	{"get", "/me/ticket-shows", "myTicketShows", "The model's ticket shows, soonest first", "model", nil, 200, arrayOf(ref("TicketShow"))},
	{"post", "/me/ticket-shows", "scheduleTicketShow", "Schedule a ticket show", "model", ref("ScheduleBody"), 201, ref("TicketShow")},
	{"post", "/me/ticket-shows/{id}/start", "startTicketShow", "Start a ticket show (at or after its start time): only ticket holders watch from now on",
		"model", nil, 200, ref("TicketShow")},
	{"post", "/me/ticket-shows/{id}/end", "endTicketShow", "End a running ticket show: tickets are posted, or refunded by the operator's policy " +
		"when it ran shorter than announced; a repeat settles nothing twice", "model", nil, 200, ref("TicketShow")},
	{"post", "/me/ticket-shows/{id}/cancel", "cancelTicketShow", "Cancel a ticket show: every ticket is refunded in full, exactly once",
		"model", nil, 200, ref("TicketShow")},

	{"get", "/admin/plugins", "plugins", "Plugins and their health", "admin", nil, 200, arrayOf(ref("PluginStatus"))},
	{"post", "/admin/ledger/verify", "verifyLedger", "Run ledger verify now", "admin", nil, 200, ref("LedgerVerify")},
	{"get", "/admin/seats", "openSeats", "Seats in progress", "admin", nil, 200, arrayOf(ref("Seat"))},
	{"get", "/admin/pending-models", "pendingModels", "Models waiting for approval", "admin", nil, 200, arrayOf(ref("User"))},
	{"post", "/admin/models/{id}/approve", "approveModel", "Approve a model", "admin", nil, 200, ref("User")},
	{"post", "/admin/models/{id}/reject", "rejectModel", "Reject (suspend) an account", "admin", nil, 200, ref("OK")},
}

// idempotentOps are the operations that can move money: each takes an
// Idempotency-Key (core/idempotency; mountAPI puts the middleware on exactly
// these routes, and a test checks the two agree).
var idempotentOps = map[string]bool{
	"tip": true, "menuTip": true, "requestPrivate": true, "endSeat": true, "buyPack": true,
	"startCardCheckout": true, "completeCardCheckout": true, "accept": true,
	"joinGroup": true, "endGroup": true, "spy": true,
	"buyTicket": true, "endTicketShow": true, "cancelTicketShow": true,
}

// idempotencyKeyParam is the header of the IETF httpapi draft.
var idempotencyKeyParam = schema{"name": "Idempotency-Key", "in": "header", "required": false,
	"description": "A key unique to this request (a UUID), so a retry is safe: the same key with the same request answers the first " +
		"request's answer again (with Idempotent-Replayed: true) instead of running it twice; with another request, 422; while the " +
		"first still runs, 409 with Retry-After. Keys belong to the signed-in user and are kept 24 h. A 5xx answer is not kept: " +
		"retry it with the same key. Without the header the request is not protected against duplicates. A Structured Field " +
		`string ("...") or the bare value, 8-255 characters.`,
	"schema": schema{"type": "string", "minLength": 8, "maxLength": 257, "pattern": `^"?[A-Za-z0-9._:~+/=-]{8,255}"?$`}}

// moreResponses are answers an operation gives besides its main one and
// the errors every operation shares, by operation id.
var moreResponses = map[string]schema{
	"endSeat": {"202": schema{
		"description": "Ended: the meter stopped at closed_at and nothing after it is billed, but settlement waits for a processor " +
			"(restarting, or down for a moment). It completes by itself; the same POST (or GET /receipts/{seat}) after Retry-After " +
			"answers 200 with the receipt.",
		"headers": schema{"Retry-After": schema{"description": "seconds to wait before asking again", "schema": integer}},
		"content": schema{"application/json": schema{"schema": ref("SeatSettling")}},
	}},
}

var moneySchema = obj([]string{"amount", "currency"}, schema{
	"amount":   schema{"type": "integer", "format": "int64", "description": "minor units (cents for USD, yen for JPY); never a float"},
	"currency": schema{"type": "string", "pattern": "^[A-Z]{3}$"},
})

func components() schema {
	m := ref("Money")
	granularity := schema{"type": "string", "enum": pricing.Granularities()}
	policy := obj(nil, schema{"rate_per_minute": m, "granularity": granularity,
		"minimum_charge": m, "grace_seconds": integer, "block_seconds": integer, "block_cost": m, "max_pause_seconds": integer,
		"funding": schema{"type": "string", "enum": []string{"card_hold", "prepaid_blocks", "wallet", ""}}})
	return schema{
		"Money":  moneySchema,
		"Policy": policy,
		"Error": obj([]string{"error"}, schema{"error": obj([]string{"code", "message"}, schema{
			"code": str, "message": str, "field": schema{"type": "string", "description": "the request field at fault, when one is"}})}),
		"OK":         obj([]string{"ok"}, schema{"ok": boolean}),
		"CSRF":       obj([]string{"token"}, schema{"token": str}),
		"LoginBody":  obj([]string{"email", "password"}, schema{"email": schema{"type": "string", "maxLength": 254}, "password": schema{"type": "string", "maxLength": 256}}),
		"SignupBody": obj([]string{"email", "password", "display_name", "adult"}, schema{"email": str, "password": schema{"type": "string", "minLength": 8, "maxLength": 256}, "display_name": schema{"type": "string", "maxLength": 40}, "role": schema{"type": "string", "enum": []string{"viewer", "model"}}, "adult": boolean}),
		"User":       obj([]string{"id", "display_name", "role", "approved"}, schema{"id": str, "email": str, "display_name": str, "role": str, "approved": boolean, "wallet": m}),
		"Session":    obj([]string{"token", "expires_at", "user"}, schema{"token": str, "expires_at": when, "user": ref("User")}),
		"Show": obj(nil, schema{"id": str, "model_id": str, "model_name": str, "mode": schema{"type": "string", "enum": []string{"public", "private", "group", "offline"}},
			"title": str, "since": when, "viewers": integer, "rate_per_minute": m, "whep_url": str, "chat_url": str}),
		"MyShow": obj([]string{"show", "stream_key_hint", "whip_url"}, schema{"show": ref("Show"),
			"stream_key":      schema{"type": "string", "description": "the whole stream key (the WHIP bearer), only in the first answer after it was made or rotated: the host keeps its SHA-256 alone and cannot show it again; copy it now, or rotate on the dashboard for a new one"},
			"stream_key_hint": schema{"type": "string", "description": "the key's first characters and an ellipsis: which key is current, never enough to publish"},
			"whip_url":        schema{"type": "string", "description": "absolute: http.public_url + /whip"}}),
		"Quote": obj(nil, schema{"policy": ref("Policy"), "allowed": boolean, "reason": str,
			"cam2cam_surcharge_per_minute": schema{"allOf": []schema{m}, "description": "what cam2cam adds to rate_per_minute when asked for with the request and granted by the model; absent: she does not offer it"}}),
		"PrivateRequestBody": obj(nil, schema{"cam2cam": schema{"type": "boolean", "description": "ask to share your camera with the model (she may refuse it when she accepts)"}}),
		"Cam2camBody": obj(nil, schema{"surcharge_per_minute": schema{"allOf": []schema{m}, "nullable": true,
			"description": "added to the private rate a minute for a seat granted cam2cam, in the site currency; 0 is free; null or absent stops offering cam2cam"}}),
		"SpyOffer":     obj([]string{"policy", "allowed"}, schema{"policy": ref("Policy"), "allowed": boolean, "reason": str}),
		"SpyRate":      obj([]string{"allowed"}, schema{"allowed": boolean, "rate_per_minute": m}),
		"SpyRateBody":  obj(nil, schema{"rate_per_minute": schema{"allOf": []schema{m}, "nullable": true, "description": "a spy seat's rate a minute, in the site currency; null or absent refuses spies"}}),
		"Cam2camOffer": obj([]string{"offered"}, schema{"offered": boolean, "surcharge_per_minute": m}),
		"ChatMessage":  schema{"type": "object", "properties": schema{"id": str, "at": when, "author": str, "role": str, "text": str, "tip": m, "system": boolean}},
		"ChatBody":     obj([]string{"text"}, schema{"text": schema{"type": "string", "maxLength": 500}}),
		"TipBody":      obj([]string{"tip_id", "amount"}, schema{"tip_id": schema{"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"}, "amount": m, "text": str}),
		"Request": obj(nil, schema{"id": str, "show_id": str, "viewer_name": str, "at": when, "rate_per_minute": m, "rate_display": str, "seat_id": str,
			"cam2cam": schema{"type": "boolean", "description": "the viewer asks to share her camera"}, "cam2cam_surcharge_per_minute": m,
			"state": schema{"type": "string", "enum": []string{"waiting", "held"}, "description": "held: the model is private with someone else and kept this request"}}),
		"Seat": obj(nil, schema{"id": str, "show_id": str, "model_id": str, "viewer_name": str, "open": boolean,
			"billing": schema{"type": "boolean", "description": "the meter runs now: the model's video flows and reaches the viewer (from the first frame delivered)"},
			"pause_reason": schema{"type": "string", "enum": []string{"model_media", "viewer_connection"},
				"description": "why an open seat is not billing: the model's media stopped, or it does not reach the viewer (connecting, no picture yet, or the connection dropped); absent while billing"},
			"ends_at": schema{"type": "string", "format": "date-time",
				"description": "when the seat ends by itself unless that changes: the pause's start plus policy.max_pause_seconds, or when funded time runs out while an extension fails; absent when nothing is due"},
			"opened_at": when, "policy": ref("Policy"),
			"billable_seconds":     schema{"type": "integer", "description": "whole seconds billed so far, truncated in the viewer's favour; never goes down and never exceeds the receipt (the last seconds count once no backdated pause can take them back)"},
			"running_cost":         schema{"allOf": []schema{m}, "description": "the price of billable_seconds under the locked policy"},
			"running_cost_display": str, "funded_seconds": integer,
			"token": schema{"type": "string", "description": "WHEP bearer token; only for the seat's own viewer"}, "whep_url": str,
			"mode":     schema{"type": "string", "enum": []string{"private", "group", ""}},
			"chat_url": schema{"type": "string", "description": "the seat's chat room: its own in a private show, the group's in a group show"},
			"warnings": arrayOf(obj(nil, schema{"level": str, "message": str})),
			"cam2cam": obj([]string{"granted", "surcharge_per_minute"}, schema{"granted": boolean,
				"surcharge_per_minute": schema{"allOf": []schema{m}, "description": "the part of policy.rate_per_minute that pays for cam2cam: one rate, locked once at the seat"},
				"whip_url":             schema{"type": "string", "description": "the seat's viewer publishes her camera here (WHIP) with the seat token as bearer"},
				"whep_url":             schema{"type": "string", "description": "the model's player of the viewer's camera (WHEP), with token as bearer; only the model gets it"},
				"token":                schema{"type": "string", "description": "the model's WHEP bearer for whep_url; only for the model"}}),
			"spy":   schema{"type": "boolean", "description": "a spy seat: receive-only in someone else's private show (no chat_url, no tips)"},
			"spies": schema{"type": "integer", "description": "on a private seat: how many spies watch; to its model always, to its viewer only when the operator shows it (shows.show_spy_count)"}}),
		"LockedPolicy": obj([]string{"rate_per_minute", "granularity", "minimum_charge", "grace_seconds", "block_seconds", "extension_lead_seconds", "max_pause_seconds"}, schema{
			"rate_per_minute": m, "granularity": granularity, "minimum_charge": m, "grace_seconds": integer, "block_seconds": integer,
			"extension_lead_seconds": integer, "max_pause_seconds": integer,
			"cam2cam_surcharge_per_minute": schema{"allOf": []schema{m}, "description": "present on a seat granted cam2cam: the part of rate_per_minute that pays for it (rate_per_minute includes it)"},
			"fx": obj([]string{"rate", "quote_id", "source", "payment_currency", "expires_at"}, schema{"rate": schema{"type": "string", "description": "a decimal: payment units per rate unit"},
				"quote_id": str, "source": str, "payment_currency": str, "expires_at": when})}),
		"Share": obj([]string{"Role", "PartyID", "Amount"}, schema{"Role": schema{"type": "string", "enum": []string{"model", "studio", "affiliate", "platform"}},
			"PartyID": str, "Amount": m}),
		"LedgerTransfer": obj([]string{"key", "id", "kind", "debit", "credit", "amount"}, schema{"key": str, "id": integer, "kind": str, "debit": str, "credit": str, "amount": m}),
		"Receipt": obj([]string{"seat_id", "show_id", "kind", "viewer_id", "model_id", "strategy", "policy", "opened_at", "closed_at", "close_reason",
			"intervals", "billable_seconds", "rate_price", "minimum_applied", "price", "funded", "released", "refunded", "funding", "processor_calls",
			"ledger_transfers", "settled_at"}, schema{
			"seat_id": str, "show_id": schema{"type": "string", "description": "the show's id in this API (GET /shows/{show})"},
			"kind": schema{"type": "string", "enum": []string{"private", "group"}}, "viewer_id": str, "model_id": str,
			"studio_id":    schema{"type": "string", "description": "only in the model's and an admin's copy"},
			"affiliate_id": schema{"type": "string", "description": "only in the model's and an admin's copy"},
			"strategy":     schema{"type": "string", "enum": []string{"card_hold", "prepaid_blocks", "wallet"}}, "processor": str,
			"policy": ref("LockedPolicy"), "opened_at": when, "closed_at": when,
			"close_reason":     schema{"type": "string", "enum": []string{"viewer", "model", "funding_exhausted", "pause_exceeded", "funding_rejected", "recovered"}},
			"intervals":        arrayOf(obj([]string{"start_ms", "end_ms"}, schema{"start_ms": integer, "end_ms": integer})),
			"billable_seconds": schema{"type": "integer", "description": "whole seconds billed, truncated in the viewer's favour"},
			"rate_price":       schema{"allOf": []schema{m}, "description": "the price in the rate's currency"},
			"minimum_applied":  schema{"type": "boolean", "description": "the policy's minimum charge, not the rate times billable_seconds, is rate_price"},
			"cam2cam": obj([]string{"surcharge_per_minute", "amount"}, schema{"surcharge_per_minute": m,
				"amount": schema{"allOf": []schema{m}, "description": "the part of rate_price cam2cam accounts for: rate_price less the price of the same seconds without the surcharge; a reading of the one price, not an addition"}}),
			"price":  schema{"allOf": []schema{m}, "description": "what was charged, in the payment currency"},
			"funded": m, "released": m, "refunded": m,
			"allocation": schema{"type": "array", "items": ref("Share"),
				"description": "how the platform divides the price; only in the model's and an admin's copy, never the viewer's"},
			"funding": arrayOf(obj([]string{"n", "kind", "amount", "ceiling", "reference", "status"}, schema{"n": integer, "kind": str, "amount": m,
				"ceiling": m, "reference": str, "status": str, "late": boolean})),
			"processor_calls": arrayOf(obj([]string{"key", "op", "state", "amount"}, schema{"key": str, "op": str, "state": str, "reference": str,
				"amount": m, "error_code": str})),
			"ledger_transfers": schema{"type": "array", "items": ref("LedgerTransfer"),
				"description": "the viewer's copy lists only the transfers on her own accounts"},
			"settled_at": when,
			"reversals": arrayOf(obj([]string{"event_id", "type", "reference", "related_reference", "amount", "from_wallet", "at", "ledger_transfers"}, schema{
				"event_id": str, "type": schema{"type": "string", "enum": []string{"refund", "chargeback"}}, "reference": str, "related_reference": str,
				"amount": m, "from_wallet": m, "clawback": arrayOf(ref("Share")), "reason": str, "at": when, "ledger_transfers": arrayOf(ref("LedgerTransfer"))})),
		}),
		"AgeConfirmation": obj([]string{"id", "minimum_age", "confirmed_at"}, schema{"id": str, "minimum_age": integer, "confirmed_at": when}),
		"PluginStatus":    obj(nil, schema{"name": str, "kind": str, "version": str, "healthy": boolean, "restarts": integer, "last_error": str}),
		"LedgerVerify":    obj(nil, schema{"ok": boolean, "at": when, "accounts": integer, "transfers": integer, "problems": arrayOf(str)}),
		"Earnings": obj([]string{"today", "week", "balance", "recent"}, schema{"today": m, "week": m, "balance": m,
			"recent": arrayOf(obj(nil, schema{"at": when, "description": str, "amount": m}))}),
		"LedgerRow": obj(nil, schema{"at": when, "description": schema{"type": "string", "description": "e.g. \"Tip to Mia\": a tip is one row, its whole amount"},
			"amount": schema{"allOf": []schema{m}, "description": "signed: negative is money out"}, "balance": m, "pending": boolean,
			"reference": str, "receipt_url": str}),
		"ShowEvent": obj([]string{"type", "show", "at"}, schema{"type": schema{"type": "string", "enum": []string{"mode", "live", "paused", "ended"}},
			"show": str, "mode": schema{"type": "string", "enum": []string{"public", "private", "group", "offline"}},
			"reason": schema{"type": "string", "enum": []string{"closed", "seat_ended", "show_private", "show_ended", "replaced", "failed", "timeout", "shutdown"}},
			"at":     when}),
		"SeatSettling": obj([]string{"seat_id", "state", "closed_at", "close_reason", "billable_seconds", "price", "funded"}, schema{
			"seat_id": str, "state": schema{"type": "string", "enum": []string{"settling"}}, "closed_at": when,
			"close_reason":     schema{"type": "string", "enum": []string{"viewer", "model", "funding_exhausted", "pause_exceeded", "funding_rejected", "recovered"}},
			"billable_seconds": integer, "price": schema{"allOf": []schema{m}, "description": "what settlement takes, decided at the close"},
			"funded": schema{"allOf": []schema{m}, "description": "what secured the seat when it ended"}}),
		"Wallet":           obj(nil, schema{"balance": m, "held": m, "posted": m, "history": arrayOf(ref("LedgerRow"))}),
		"Pack":             obj(nil, schema{"id": str, "name": str, "price": m, "credits": m, "badge": str}),
		"Purchase":         obj(nil, schema{"id": str, "pack_id": str, "processor": str, "state": str, "price": m, "credits": m}),
		"Card":             obj(nil, schema{"processor": str, "brand": str, "last4": str, "exp_month": integer, "exp_year": integer, "added_at": when, "retired": boolean}),
		"CardBody":         obj(nil, schema{"return_url": schema{"type": "string", "description": "a path on this site; default /wallet/card/return"}}),
		"CardCompleteBody": obj([]string{"params"}, schema{"params": schema{"type": "object", "additionalProperties": str}}),
		"Checkout":         obj(nil, schema{"url": str, "method": str, "processor": str, "fields": schema{"type": "object", "additionalProperties": str}}),
		"Profile": obj(nil, schema{"id": str, "display_name": str, "bio": str, "tags": arrayOf(str), "rate_per_minute": m,
			"group_rate_per_minute": schema{"allOf": []schema{m}, "description": "her group shows' rate; a zero amount: her private rate"}, "show_id": str}),
		"RateBody": obj([]string{"rate"}, schema{"rate": m}),
		"Group": obj(nil, schema{"show_id": str, "model_id": str, "policy": ref("Policy"),
			"minimum": schema{"type": "integer", "description": "paying viewers it waits for before it starts (0: it started at once)"},
			"started": schema{"type": "boolean", "description": "the show is in group mode and seats bill; before, it is public and joiners wait without a seat"},
			"waiting": integer, "seats": schema{"type": "integer", "description": "open seats"},
			"chat_url": schema{"type": "string", "description": "the group's chat room (seat holders and the model), once started"}}),
		"GroupOffer": obj(nil, schema{"group": ref("Group"), "allowed": boolean, "reason": str}),
		"GroupJoin": obj(nil, schema{"waiting": schema{"type": "boolean", "description": "joined before the minimum: no seat yet, nothing billed"},
			"group": ref("Group"), "seat": ref("Seat")}),
		"MyGroup": obj(nil, schema{"group": ref("Group"), "seats": arrayOf(ref("Seat"))}),
		"GroupBody": obj(nil, schema{"rate": schema{"allOf": []schema{m}, "description": "per minute, in the site currency; absent: her profile's rate"},
			"minimum": schema{"type": "integer", "minimum": 0, "maximum": 100}}),
		"TipGoal": obj([]string{"title", "amount", "received", "percent", "on_reach", "done", "rounds", "set_at"}, schema{"title": str, "amount": m,
			"received": schema{"allOf": []schema{m}, "description": "towards this round: tips in any of her rooms since set_at, less the rounds reached (reset), or capped at amount (stay)"},
			"percent":  schema{"type": "integer", "minimum": 0, "maximum": 100},
			"on_reach": schema{"type": "string", "enum": []string{"reset", "stay"}, "description": "reset: starts again once reached; stay: stays reached until the next goal"},
			"done":     schema{"type": "boolean", "description": "a stay goal that is reached"},
			"rounds":   schema{"type": "integer", "description": "times the goal was reached"}, "set_at": when}),
		"TipMenuItem": obj([]string{"id", "name", "price", "price_display"}, schema{"id": str, "name": schema{"type": "string", "minLength": 1, "maxLength": 60},
			"price": m, "price_display": str}),
		"Tipping": obj([]string{"model_id", "goal", "menu"}, schema{"model_id": str,
			"goal": schema{"allOf": []schema{ref("TipGoal")}, "nullable": true, "description": "null when she has no goal"},
			"menu": schema{"type": "array", "maxItems": 30, "items": ref("TipMenuItem")}}),
		"TipGoalBody": obj([]string{"title", "amount"}, schema{"title": schema{"type": "string", "minLength": 1, "maxLength": 80},
			"amount": m, "on_reach": schema{"type": "string", "enum": []string{"reset", "stay"}, "description": "default reset"}}),
		"TipMenuBody": obj(nil, schema{"items": schema{"type": "array", "maxItems": 30, "items": obj([]string{"name", "price"}, schema{
			"id":   schema{"type": "string", "description": "an item of her menu, to keep its id; absent for a new item"},
			"name": schema{"type": "string", "minLength": 1, "maxLength": 60}, "price": schema{"allOf": []schema{m}, "description": "above zero and at most chat.max_tip"}})}}),
		"MenuTipBody": obj([]string{"tip_id", "item_id"}, schema{"tip_id": schema{"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
			"item_id": schema{"type": "string", "description": "the item's id; the price is the menu's, never the client's"}}),
		"TicketShow": obj([]string{"id", "model_id", "title", "price", "price_display", "starts_at", "duration_seconds", "doors_close_at",
			"capacity", "sold", "state"}, schema{"id": str, "model_id": str, "title": str, "price": m, "price_display": str, "starts_at": when,
			"duration_seconds": schema{"type": "integer", "description": "the announced duration"},
			"doors_close_at":   schema{"type": "string", "format": "date-time", "description": "the last moment a ticket is sold (late buyers pay the same price)"},
			"capacity":         schema{"type": "integer", "description": "0: no cap"}, "sold": integer,
			"state":      schema{"type": "string", "enum": []string{"scheduled", "running", "ended", "cancelled"}},
			"started_at": when, "ended_at": when}),
		"Ticket": obj([]string{"id", "show_id", "model_id", "state", "price", "posted", "refunded", "bought_at", "token"}, schema{
			"id": str, "show_id": str, "model_id": str,
			"state": schema{"type": "string", "enum": []string{"buying", "held", "posted", "refunded"},
				"description": "held: the price is held on the wallet; posted: the show happened (posted + refunded = price); refunded: in full"},
			"price": m, "posted": m, "refunded": m, "bought_at": when, "settled_at": when,
			"token":    schema{"type": "string", "description": "the WHEP bearer that admits this ticket's holder to the show"},
			"whep_url": schema{"type": "string", "description": "the model's broadcast, while she is on air and the ticket is held"}}),
		"BuyTicketBody": obj(nil, schema{"pay": schema{"type": "string", "enum": []string{"wallet", "card"}, "default": "wallet"}}),
		"ScheduleBody": obj([]string{"title", "price", "starts_at", "duration_seconds"}, schema{
			"title": schema{"type": "string", "maxLength": 120}, "price": m, "starts_at": when,
			"duration_seconds": schema{"type": "integer", "minimum": 60},
			"doors_close_at":   schema{"type": "string", "format": "date-time", "description": "default: starts_at (no late buyers)"},
			"capacity":         schema{"type": "integer", "minimum": 0}}),
		"ProfileBody": obj(nil, schema{"bio": schema{"type": "string", "maxLength": 2000}, "tags": schema{"type": "array", "maxItems": 12, "items": schema{"type": "string", "maxLength": 24}}}),
	}
}

// OpenAPI is the document, built once.
var OpenAPI = sync.OnceValue(func() []byte {
	paths := schema{}
	errResp := func(d string) schema {
		return schema{"description": d, "content": schema{"application/json": schema{"schema": ref("Error")}}}
	}
	for _, o := range apiOps {
		op := schema{"operationId": o.id, "summary": o.summary}
		resp := schema{strconv.Itoa(o.status): schema{"description": "OK", "content": schema{"application/json": schema{"schema": o.resp}}},
			"400": errResp("bad input: missing, malformed, oversized or unknown fields"), "404": errResp("no such thing, or not yours")}
		for code, r := range moreResponses[o.id] {
			resp[code] = r
		}
		if o.auth != "" {
			op["security"] = []schema{{"session": []string{}}, {"bearer": []string{}}}
			resp["401"] = errResp("not signed in")
			resp["403"] = errResp("signed in with the wrong role, or the CSRF token is missing")
		}
		op["responses"] = resp
		if o.body != nil {
			op["requestBody"] = schema{"required": o.id != "requestPrivate", "content": schema{"application/json": schema{"schema": o.body}}}
			resp["413"] = errResp("body larger than 16 KiB")
			resp["415"] = errResp("not application/json")
		}
		var params []schema
		for _, seg := range strings.Split(o.path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, schema{"name": strings.Trim(seg, "{}"), "in": "path", "required": true,
					"schema": schema{"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}})
			}
		}
		if o.path == "/shows" {
			params = append(params, schema{"name": "q", "in": "query", "schema": schema{"type": "string", "maxLength": 100}},
				schema{"name": "tag", "in": "query", "schema": schema{"type": "string", "maxLength": 100}})
		}
		if o.id == "accept" {
			params = append(params, schema{"name": "others", "in": "query", "description": "what the other waiting requesters get: " +
				"keep (the default) holds their requests until the model is back in public, and tells them so twice; decline declines them",
				"schema": schema{"type": "string", "enum": []string{"keep", "decline"}, "default": "keep"}},
				schema{"name": "cam2cam", "in": "query", "description": "the answer to the request's cam2cam ask: grant locks the rate plus the " +
					"surcharge the viewer was shown; refuse (the default) locks the rate alone and the viewer's camera is refused",
					"schema": schema{"type": "string", "enum": []string{"grant", "refuse"}, "default": "refuse"}})
		}
		if idempotentOps[o.id] {
			params = append(params, idempotencyKeyParam)
			resp["409"] = errResp("a request with this Idempotency-Key is still running: retry after Retry-After seconds")
			resp["422"] = errResp("this Idempotency-Key was used for another request")
		}
		if params != nil {
			op["parameters"] = params
		}
		item, _ := paths[o.path].(schema)
		if item == nil {
			item = schema{}
			paths[o.path] = item
		}
		item[o.method] = op
	}
	addStreamPaths(paths)
	doc := schema{
		"openapi": "3.0.3",
		"info": schema{"title": "camkit API", "version": "1.0.0",
			"description": "The actions of the camkit site as JSON. Authenticate with the session cookie (then send X-CSRF-Token on " +
				"POST/PUT/DELETE, from GET /csrf) or with Authorization: Bearer <token> from POST /session. Money is integer minor units. " +
				"Every operation that can move money takes an Idempotency-Key header: send one with each request and the same one with its retries."},
		"servers": []schema{{"url": APIBase}},
		"paths":   paths,
		"components": schema{
			"schemas": components(),
			"securitySchemes": schema{
				"session": schema{"type": "apiKey", "in": "cookie", "name": "camkit_session"},
				"bearer":  schema{"type": "http", "scheme": "bearer"},
			},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // a static value: fails in every test run if ever
	}
	return b
})

func (p *Product) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(OpenAPI())
}

// streamOp is one media endpoint (core/stream/whiphttp): mounted at the site
// root, not under APIBase, speaking SDP and server-sent events, not JSON.
type streamOp struct {
	method, path, id, summary string
	// bearer says what Authorization: Bearer carries, "" for nothing.
	bearer      string
	reqType     string
	status      int
	respType    string
	resp        schema
	headers     schema
	errs        map[string]string
	description string
}

var sdp = schema{"type": "string", "description": "an SDP document (RFC 8866)"}

// createdHeaders are the headers of a WHIP or WHEP 201 (RFC 9725).
var createdHeaders = schema{
	"Location": schema{"description": "the session URL, /stream/sessions/{id}: PATCH it to trickle, DELETE it to leave", "schema": str},
	"ETag":     schema{"description": "the ICE session's entity tag (RFC 9725)", "schema": str},
	whiphttp.HeaderSessionToken: schema{"description": "the session's bearer for PATCH and DELETE, when the offer sent none (a public viewer)",
		"schema": str},
	whiphttp.HeaderWatchID: schema{"description": "the session's public watch id: ?watch= on the events stream adds this session's own events",
		"schema": str},
	"Link": schema{"description": `STUN/TURN servers, rel="ice-server" (RFC 9725 section 4.6)`, "schema": str},
}

var streamOps = []streamOp{
	{method: "post", path: "/whip", id: "whipPublish", summary: "WHIP: publish the model's show (OBS 30+: Service WHIP, this URL, the stream key as Bearer Token)",
		bearer:  "the model's stream key; or, for cam2cam, the seat token of a private show's viewer, who then publishes her camera to the model alone",
		reqType: "application/sdp", status: 201, respType: "application/sdp", resp: sdp, headers: createdHeaders,
		errs: map[string]string{"401": "no stream key, or an unknown (or rotated-away) one",
			"403": "the model is not approved, or (stream.live_on_publish = false) not on air yet; a seat token: the seat has ended, or cam2cam was not granted",
			"409": "another publisher is on air; send " + whiphttp.HeaderReplace + ": 1 to replace it (the model's explicit switch of device)"}},
	{method: "post", path: "/whip/{key}", id: "whipPublishKey", summary: "WHIP with the stream key in the path (for clients that cannot set a bearer)",
		reqType: "application/sdp", status: 201, respType: "application/sdp", resp: sdp, headers: createdHeaders,
		errs: map[string]string{"401": "unknown stream key"}},
	{method: "post", path: "/whep/{show}", id: "whepWatch", summary: "WHEP: watch a show. A public show needs no bearer (one that is no seat token, " +
		"such as the API session's, is served as public); a private show needs the seat token of GET /seats/{seat}. The viewer's camera of a cam2cam seat (c2c-<seat id>, GET /seats/{seat} cam2cam.whep_url) " +
		"is played only with the model's cam2cam.token; every other bearer is refused with 403",
		bearer: "the seat token (optional for a public show)", reqType: "application/sdp", status: 201, respType: "application/sdp", resp: sdp, headers: createdHeaders,
		errs: map[string]string{"401": "an unknown or expired seat token on a show that is not public", "403": "the show is private and no seat token was sent, or the token is for another show", "404": "the show is not on air"}},
	{method: "patch", path: "/stream/sessions/{id}", id: "trickle", summary: "Trickle ICE candidates for a session (RFC 8840 fragment); an ICE restart answers 422",
		bearer: "the session's bearer (the stream key, the seat token or the minted session token)", reqType: "application/trickle-ice-sdpfrag", status: 204,
		errs: map[string]string{"401": "wrong bearer", "404": "no such stream session", "422": "ICE restart is not supported: send a new offer"}},
	{method: "delete", path: "/stream/sessions/{id}", id: "leave", summary: "End a stream session",
		bearer: "the session's bearer", status: 200, errs: map[string]string{"401": "wrong bearer", "404": "no such stream session"}},
	{method: "get", path: "/stream/events/{show}", id: "roomEvents", summary: "The room's events as server-sent events (text/event-stream): " +
		"event: <type>, data: a ShowEvent; a comment line every heartbeat. Public; ?watch=<Camkit-Watch-Id> adds that session's own (ended, and why)",
		status: 200, respType: "text/event-stream", resp: schema{"allOf": []schema{ref("ShowEvent")}, "description": "the data of each event"}},
}

func addStreamPaths(paths schema) {
	textErr := func(d string) schema {
		return schema{"description": d, "content": schema{"text/plain": schema{"schema": schema{"type": "string", "description": "why, for a person"}}}}
	}
	for _, o := range streamOps {
		ok := schema{"description": "OK"}
		if o.respType != "" {
			ok["content"] = schema{o.respType: schema{"schema": o.resp}}
		}
		if o.headers != nil {
			ok["headers"] = o.headers
		}
		resp := schema{strconv.Itoa(o.status): ok, "400": textErr("bad input: not an offer, or oversized"),
			"default": textErr("refused: the status and a reason a person can act on (core/httperror's table; Retry-After on a cap or an outage)")}
		for code, d := range o.errs {
			resp[code] = textErr(d)
		}
		if o.reqType != "" {
			resp["415"] = textErr("wrong content type: want " + o.reqType)
		}
		// The media endpoints are at the site root, not under the API base.
		op := schema{"operationId": o.id, "summary": o.summary, "responses": resp,
			"servers": []schema{{"url": "/", "description": "the site root"}}}
		if o.bearer != "" {
			op["security"] = []schema{{"bearer": []string{}}}
			op["description"] = "Authorization: Bearer " + o.bearer + "."
		}
		if o.reqType != "" {
			op["requestBody"] = schema{"required": true, "content": schema{o.reqType: schema{"schema": schema{"type": "string"}}}}
		}
		var params []schema
		for _, seg := range strings.Split(o.path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, schema{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": str})
			}
		}
		if o.id == "roomEvents" {
			params = append(params, schema{"name": "watch", "in": "query", "schema": str,
				"description": "the Camkit-Watch-Id of the page's own session"})
		}
		if params != nil {
			op["parameters"] = params
		}
		item, _ := paths[o.path].(schema)
		if item == nil {
			item = schema{}
			paths[o.path] = item
		}
		item[o.method] = op
	}
}
