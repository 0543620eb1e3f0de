package pluginhost

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
)

// slogWriter re-emits hclog's JSON lines as slog records.
type slogWriter struct {
	log *slog.Logger
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *slogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadBytes('\n')
		if err != nil {
			// keep the partial line for the next write
			rest := append([]byte(nil), line...)
			w.buf.Reset()
			w.buf.Write(rest)
			return len(p), nil
		}
		w.emit(bytes.TrimSpace(line))
	}
}

func (w *slogWriter) emit(line []byte) {
	if len(line) == 0 {
		return
	}
	var rec map[string]any
	if json.Unmarshal(line, &rec) != nil {
		w.log.Info(string(line))
		return
	}
	level := slog.LevelInfo
	switch strings.ToLower(str(rec["@level"])) {
	case "trace", "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	msg := str(rec["@message"])
	attrs := make([]any, 0, len(rec)*2)
	for k, v := range rec {
		if strings.HasPrefix(k, "@") && k != "@module" {
			continue
		}
		attrs = append(attrs, k, v)
	}
	w.log.Log(context.Background(), level, msg, attrs...)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
