package chat

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// FuzzChatFrame: a client frame is taken only as exactly one JSON object of
// the documented shape ({"type":"message","text":…} or {"type":"tip",
// "tip_id":…,"amount":"<decimal>","currency":…}) within MaxFrameBytes; a
// tip's amount is its decimal text read exactly; what is taken, sent again
// as the site's JavaScript would (JSON.stringify of the same fields), is
// taken the same; every refusal is errs.Invalid.
func FuzzChatFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"message","text":"hi"}`,
		`{"type":"tip","tip_id":"tip-0001-abcdef","amount":"3.33","currency":"USD","text":"for you <3"}`,
		`{"type":"tip","tip_id":"tip-0004-abcdef","amount":"-1.00","currency":"USD"}`,
		`{"type":"tip","tip_id":"tip-0004-abcdef","amount":"1.001","currency":"USD"}`,
		`{"type":"tip","tip_id":"tip-0004-abcdef","amount":"99999999999999999999","currency":"USD"}`,
		`{"type":"tip","tip_id":"x","amount":" 5000 ","currency":"JPY"}`,
		`{"type":"message","text":"a"}{"type":"tip","tip_id":"tip-0005-abcdef","amount":"500.00","currency":"USD"}`,
		`{"type":"message","text":"a"} `, `{"type":"message","admin":true}`, `{"type":"gift"}`, `{"Type":"message","TEXT":"x"}`,
		`null`, `[]`, `{`, ``, `"message"`, `{"type":"message","text":"` + strings.Repeat("x", MaxFrameBytes) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, ref, err := decodeFrame(data)
		if err != nil {
			if errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("decodeFrame(%.200q): %v; want invalid", data, err)
			}
			return
		}
		if len(data) > MaxFrameBytes {
			t.Fatalf("decodeFrame took a frame of %d bytes (limit %d)", len(data), MaxFrameBytes)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		var raw map[string]json.RawMessage
		if dec.Decode(&raw) != nil || dec.More() {
			t.Fatalf("decodeFrame took %.200q: not exactly one JSON object", data)
		}
		var in inbound
		_ = json.Unmarshal(data, &in)
		resent := map[string]string{"type": in.Type, "text": fr.Text}
		if fr.Tip != nil {
			want, perr := money.ParseDecimal(strings.TrimSpace(in.Amount), in.Currency)
			if in.Type != "tip" || perr != nil || fr.Tip.Amount != want || fr.Tip.TipID != in.TipID || ref != in.TipID || fr.Tip.Text != in.Text {
				t.Fatalf("decodeFrame(%.200q) = %+v (ref %q); the frame says %+v", data, fr.Tip, ref, in)
			}
			d, _ := money.FormatDecimal(fr.Tip.Amount)
			resent = map[string]string{"type": "tip", "tip_id": fr.Tip.TipID, "amount": d, "currency": fr.Tip.Amount.Currency, "text": fr.Tip.Text}
		} else if in.Type != "message" || fr.Text != in.Text {
			t.Fatalf("decodeFrame(%.200q) = %+v; the frame says %+v", data, fr, in)
		}
		b, err := json.Marshal(resent)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > MaxFrameBytes {
			return // re-encoding may grow (escapes); the original fitted
		}
		again, _, err := decodeFrame(b)
		if err != nil || (again.Tip == nil) != (fr.Tip == nil) || again.Text != fr.Text || (fr.Tip != nil && *again.Tip != *fr.Tip) {
			t.Fatalf("%.200q -> %+v; sent again as %s -> %+v, %v", data, fr, b, again, err)
		}
	})
}

// FuzzCleanText: what CleanText lets into a room is valid UTF-8, trimmed,
// at most max characters, without control or invisible formatting
// characters, empty only when allowed, and unchanged by cleaning again.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"hi", "  hi  ", "", " ", "a\u0000b", "a\u202eb", "\xff", "héllo wörld 👋", "line\nbreak", "tab\there",
		"\u200b", "a\u00a0b", strings.Repeat("x", 501), strings.Repeat("é", 500)} {
		f.Add(s, 500, false)
		f.Add(s, 3, true)
	}
	f.Fuzz(func(t *testing.T, raw string, max int, allowEmpty bool) {
		out, err := CleanText(raw, max, allowEmpty)
		if err != nil {
			if errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("CleanText(%q): %v; want invalid", raw, err)
			}
			return
		}
		if !utf8.ValidString(out) || out != strings.TrimSpace(out) || utf8.RuneCountInString(out) > max || (out == "" && !allowEmpty) ||
			!strings.Contains(raw, out) {
			t.Fatalf("CleanText(%q, %d, %v) = %q", raw, max, allowEmpty, out)
		}
		for _, r := range out {
			if !unicode.IsPrint(r) && r != ' ' {
				t.Fatalf("CleanText(%q) = %q lets %U through", raw, out, r)
			}
		}
		if again, err := CleanText(out, max, allowEmpty); err != nil || again != out {
			t.Fatalf("CleanText(%q) = %q, cleaned again %q, %v", raw, out, again, err)
		}
	})
}
