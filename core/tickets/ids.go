package tickets

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

func randomID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
