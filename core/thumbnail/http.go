package thumbnail

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Serve answers a thumbnail request: the show's latest JPEG when public is
// true (the host's own word that the show is on air in public) and the SFU
// agrees, else the placeholder. Both carry a strong ETag and must be
// revalidated (no-cache), so a page shows a picture no older than the last
// snapshot and a 304 costs no body; "private" keeps shared caches, which
// would skip the host's age gate, from keeping either.
func (s *Service) Serve(c *fiber.Ctx, showID string, public bool) error {
	body, ctype, etag := Placeholder()
	if public {
		if f, ok := s.Frame(showID); ok {
			body, ctype, etag = f.JPEG, "image/jpeg", f.ETag
			c.Set(fiber.HeaderLastModified, f.At.UTC().Format(httpTime))
		}
	}
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	c.Set(fiber.HeaderETag, etag)
	if etagMatch(c.Get(fiber.HeaderIfNoneMatch), etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, ctype)
	return c.Send(body)
}

const httpTime = "Mon, 02 Jan 2006 15:04:05 GMT"

// etagMatch applies If-None-Match (RFC 9110 13.1.2, weak comparison).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
