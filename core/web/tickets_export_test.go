package web

// The API's answer types, for web_test's check that the OpenAPI schemas
// describe what they encode.
type (
	APITicketShow = apiTicketShow
	APITicket     = apiTicket
)
