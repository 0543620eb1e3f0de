package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// static holds the host's own browser scripts: the WebRTC player, the chat
// client and the site script. Themes include them by the paths in sdk/theme.
//
//go:embed static
var static embed.FS

type staticFile struct {
	body  []byte
	ctype string
	etag  string
}

var staticFiles = func() map[string]staticFile {
	out := map[string]staticFile{}
	_ = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if strings.HasSuffix(p, ".js") {
			ct = "text/javascript; charset=utf-8"
		}
		out[strings.TrimPrefix(p, "static/")] = staticFile{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return out
}()

// mountStatic serves /static/<file> from the embedded folder, with an ETag
// so a browser revalidates cheaply after a deploy changes a script.
func mountStatic(app *fiber.App) {
	app.Get("/static/*", func(c *fiber.Ctx) error {
		f, ok := staticFiles[c.Params("*")]
		if !ok {
			return fiber.ErrNotFound
		}
		c.Set(fiber.HeaderETag, f.etag)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		if c.Get(fiber.HeaderIfNoneMatch) == f.etag {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, f.ctype)
		return c.Send(f.body)
	})
}
