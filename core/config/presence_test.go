package config

import (
	"testing"
	"time"
)

// stream.reconnect_grace and stream.thumbnail_every: the example file says
// the defaults, the environment sets them, nonsense is refused.
func TestPresenceAndThumbnailKeys(t *testing.T) {
	ex, err := Load("../../camkit.example.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if ex.Stream.PresenceWindow() != d.Stream.PresenceWindow() || d.Stream.PresenceWindow() != 13*time.Second ||
		ex.Stream.ThumbnailInterval() != d.Stream.ThumbnailInterval() || d.Stream.ThumbnailInterval() != 5*time.Second {
		t.Fatalf("example %v/%v, default %v/%v", ex.Stream.PresenceWindow(), ex.Stream.ThumbnailInterval(),
			d.Stream.PresenceWindow(), d.Stream.ThumbnailInterval())
	}
	c, err := Load("", []string{"CAMKIT_STREAM_RECONNECT_GRACE=4s", "CAMKIT_STREAM_THUMBNAIL_EVERY=2s", "CAMKIT_STREAM_MEDIA_TIMEOUT=1s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Stream.PresenceWindow() != 5*time.Second || c.Stream.ThumbnailInterval() != 2*time.Second {
		t.Fatalf("from the environment: %v, %v", c.Stream.PresenceWindow(), c.Stream.ThumbnailInterval())
	}
	for _, env := range []string{"CAMKIT_STREAM_RECONNECT_GRACE=-1s", "CAMKIT_STREAM_THUMBNAIL_EVERY=100ms"} {
		if _, err := Load("", []string{env}); err == nil {
			t.Errorf("%s accepted", env)
		}
	}
}
