// Package chat is the room beside every show: messages, tips and system
// events, over one WebSocket per viewer, with history kept in the database.
//
// # Domain
//
// Service.Post and Service.Tip are the actions, callable from the WebSocket
// (Handler) or from the JSON API alike; Service.Broadcast is how other
// packages speak in a room (the show went private, a funding warning for one
// viewer). Text is stored and sent as typed, never as HTML: the wire is JSON,
// and the browser script inserts it with textContent.
//
// A tip is a ledger batch from the viewer's wallet to the parties the split
// plugin names (model, studio, platform), checked by split.Check before
// anything is posted. It is idempotent by the tip id the sender's client
// chose: the ledger keys are tip/<viewer>/<tip id>/<role>, and a chat_tips row
// makes the repeat answer with the first tip instead of announcing it twice.
//
// # Fan-out
//
// A room keeps a copy-on-write slice of its clients, so a broadcast takes no
// lock while it walks them. A frame is encoded once (a PreparedMessage) and
// offered to each client's bounded send queue without blocking; a client whose
// queue is full is disconnected, never waited for, so one slow phone cannot
// hold up a room of a thousand. Each client has its own writer goroutine.
package chat
