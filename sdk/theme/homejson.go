package theme

import (
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/camkit/camkit/sdk/money"
)

// A hand-written JSON codec for the home page, the page a busy site renders
// most, with a hundred live models and more on it. The reflective codecs
// spent about 100 µs encoding it in the host and 300 µs decoding it in the
// plugin, more than the theme spends rendering it.
//
// It changes nothing on the wire:
//   - appendHome writes exactly what encoding/json's Marshal writes (same
//     field order, same escaping, null for nil slices), which the tests
//     check on pages with every field filled, so a field added to one of
//     these structs without a line here fails the SDK's tests instead of
//     silently missing from the page;
//   - decodeHome reads what appendHome writes and anything close to it; on
//     whatever else it has not been written for (a field it does not know,
//     a duplicate name, a number with a fraction, null where a value was
//     expected, invalid UTF-8 or a lone surrogate, trailing data) it gives
//     up and DecodePage decodes the page with json v2 as before, so its
//     answer, or its error, is v2's.

// ---- encoding ----

func appendHome(b []byte, p *HomePage) []byte {
	b = append(b, `{"layout":`...)
	b = appendLayout(b, &p.Layout)
	b = append(b, `,"query":`...)
	b = appendString(b, p.Query)
	b = append(b, `,"tags":`...)
	b = appendStrings(b, p.Tags)
	b = append(b, `,"live":`...)
	if p.Live == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range p.Live {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLiveModel(b, &p.Live[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"offline":`...)
	if p.Offline == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range p.Offline {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendModelSummary(b, &p.Offline[i])
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendLayout(b []byte, l *Layout) []byte {
	b = append(b, `{"site_name":`...)
	b = appendString(b, l.SiteName)
	b = append(b, `,"brand":`...)
	b = appendString(b, l.Brand)
	b = append(b, `,"asset_base":`...)
	b = appendString(b, l.AssetBase)
	b = append(b, `,"path":`...)
	b = appendString(b, l.Path)
	b = append(b, `,"user":`...)
	if u := l.User; u == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = appendString(b, u.ID)
		b = append(b, `,"name":`...)
		b = appendString(b, u.Name)
		b = append(b, `,"role":`...)
		b = appendString(b, string(u.Role))
		b = append(b, `,"wallet":`...)
		b = appendMoney(b, u.Wallet)
		b = append(b, '}')
	}
	b = append(b, `,"csrf_token":`...)
	b = appendString(b, l.CSRFToken)
	b = append(b, `,"flashes":`...)
	if l.Flashes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, f := range l.Flashes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"level":`...)
			b = appendString(b, string(f.Level))
			b = append(b, `,"message":`...)
			b = appendString(b, f.Message)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"nav":`...)
	if l.Nav == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, n := range l.Nav {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"label":`...)
			b = appendString(b, n.Label)
			b = append(b, `,"href":`...)
			b = appendString(b, n.Href)
			b = append(b, `,"active":`...)
			b = strconv.AppendBool(b, n.Active)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	k := &l.Links
	b = append(b, `,"links":{"home":`...)
	b = appendString(b, k.Home)
	b = append(b, `,"login":`...)
	b = appendString(b, k.Login)
	b = append(b, `,"logout":`...)
	b = appendString(b, k.Logout)
	b = append(b, `,"signup":`...)
	b = appendString(b, k.Signup)
	b = append(b, `,"wallet":`...)
	b = appendString(b, k.Wallet)
	b = append(b, `,"terms":`...)
	b = appendString(b, k.Terms)
	b = append(b, `,"privacy":`...)
	b = appendString(b, k.Privacy)
	b = append(b, `,"support":`...)
	b = appendString(b, k.Support)
	b = append(b, `},"idempotency_key":`...)
	b = appendString(b, l.IdempotencyKey)
	return append(b, '}')
}

func appendLiveModel(b []byte, m *LiveModel) []byte {
	b = append(b, `{"model":`...)
	b = appendModelSummary(b, &m.Model)
	b = append(b, `,"show_id":`...)
	b = appendString(b, m.ShowID)
	b = append(b, `,"thumbnail_url":`...)
	b = appendString(b, m.ThumbnailURL)
	b = append(b, `,"mode":`...)
	b = appendString(b, string(m.Mode))
	b = append(b, `,"viewers":`...)
	b = strconv.AppendInt(b, int64(m.Viewers), 10)
	b = append(b, `,"rate_per_minute":`...)
	b = appendMoney(b, m.RatePerMinute)
	b = append(b, `,"tags":`...)
	b = appendStrings(b, m.Tags)
	b = append(b, `,"new":`...)
	b = strconv.AppendBool(b, m.New)
	return append(b, '}')
}

func appendModelSummary(b []byte, m *ModelSummary) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, m.ID)
	b = append(b, `,"display_name":`...)
	b = appendString(b, m.DisplayName)
	b = append(b, `,"avatar_url":`...)
	b = appendString(b, m.AvatarURL)
	b = append(b, `,"profile_url":`...)
	b = appendString(b, m.ProfileURL)
	b = append(b, `,"room_url":`...)
	b = appendString(b, m.RoomURL)
	return append(b, '}')
}

func appendMoney(b []byte, m money.Money) []byte {
	b = append(b, `{"amount":`...)
	b = strconv.AppendInt(b, m.Amount, 10)
	b = append(b, `,"currency":`...)
	b = appendString(b, m.Currency)
	return append(b, '}')
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does: HTML-safe (<, >, & as
// \u escapes), control characters escaped, invalid UTF-8 as U+FFFD, and
// U+2028/U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ---- decoding ----

// decodeHome reads a home page; ok is false when it could not be sure of
// reading it as json v2 would (see above). The page's strings are views
// into data rather than an allocation each (a hundred models have about a
// thousand of them), so data must never be written again: DecodePage
// passes a copy, the plugin's server the request's own bytes.
func decodeHome(data []byte) (p *HomePage, ok bool) {
	r := &reader{d: data}
	p = new(HomePage)
	r.home(p)
	r.ws()
	if r.bad || r.i != len(r.d) {
		return nil, false
	}
	return p, true
}

// reader is a cursor over JSON input; bad is sticky, and every method is a
// no-op once it is set, so the decoders below check it once at the end.
type reader struct {
	d   []byte // owned, never written: strings alias it
	i   int
	bad bool
	// strs is where string slices (tags) are carved from, each capped at
	// its own length so an append by the theme copies instead of writing
	// into its neighbour.
	strs []string
}

func (r *reader) ws() {
	for r.i < len(r.d) {
		switch r.d[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek is the next byte after whitespace, 0 at the end or when bad.
func (r *reader) peek() byte {
	r.ws()
	if r.bad || r.i >= len(r.d) {
		return 0
	}
	return r.d[r.i]
}

func (r *reader) expect(c byte) {
	if r.peek() != c {
		r.bad = true
		return
	}
	r.i++
}

// null consumes a null if that is what comes next.
func (r *reader) null() bool {
	if r.peek() == 'n' && len(r.d)-r.i >= 4 && string(r.d[r.i:r.i+4]) == "null" {
		r.i += 4
		return true
	}
	return false
}

// open starts an object or an array (c is '{' or '['); more then walks its
// members: more(&n) is true while one follows, and n counts them.
func (r *reader) open(c byte) { r.expect(c) }

func (r *reader) more(n *int, end byte) bool {
	c := r.peek()
	if r.bad {
		return false
	}
	if *n == 0 {
		if c == end {
			r.i++
			return false
		}
	} else {
		switch c {
		case ',':
			r.i++
		case end:
			r.i++
			return false
		default:
			r.bad = true
			return false
		}
	}
	*n++
	return true
}

// key reads a member name and its colon. Names with escapes are left to v2.
func (r *reader) key() []byte {
	if r.peek() != '"' {
		r.bad = true
		return nil
	}
	start := r.i + 1
	for i := start; i < len(r.d); i++ {
		switch c := r.d[i]; {
		case c == '"':
			r.i = i + 1
			r.expect(':')
			return r.d[start:i]
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			r.bad = true
			return nil
		}
	}
	r.bad = true
	return nil
}

// seen marks member bit of an object; a name given twice is left to v2
// (which refuses it).
func (r *reader) seen(set *uint32, bit uint) {
	if *set&(1<<bit) != 0 {
		r.bad = true
	}
	*set |= 1 << bit
}

func (r *reader) str() string {
	if r.peek() != '"' {
		r.bad = true
		return ""
	}
	start := r.i + 1
	high := false
	for i := start; i < len(r.d); i++ {
		switch c := r.d[i]; {
		case c == '"':
			r.i = i + 1
			s := r.d[start:i]
			if high && !utf8.Valid(s) {
				r.bad = true
				return ""
			}
			return view(s)
		case c == '\\':
			return r.escaped(start)
		case c < 0x20:
			r.bad = true
			return ""
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	r.bad = true
	return ""
}

// escaped finishes a string that has escapes, from its first byte.
func (r *reader) escaped(start int) string {
	out := make([]byte, 0, 64)
	i := start
	for i < len(r.d) {
		c := r.d[i]
		switch {
		case c == '"':
			r.i = i + 1
			if !utf8.Valid(out) {
				r.bad = true
				return ""
			}
			return string(out)
		case c < 0x20:
			r.bad = true
			return ""
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(r.d) {
			break
		}
		switch e := r.d[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			u, ok := hex4(r.d, i+2)
			if !ok {
				r.bad = true
				return ""
			}
			i += 6
			if u >= 0xD800 && u < 0xE000 {
				// A surrogate pair, or left to v2.
				lo, ok := hex4(r.d, i+2)
				if u >= 0xDC00 || !ok || i+1 >= len(r.d) || r.d[i] != '\\' || r.d[i+1] != 'u' || lo < 0xDC00 || lo >= 0xE000 {
					r.bad = true
					return ""
				}
				u = 0x10000 + (u-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			}
			out = utf8.AppendRune(out, u)
			continue
		default:
			r.bad = true
			return ""
		}
		i += 2
	}
	r.bad = true
	return ""
}

func hex4(d []byte, at int) (rune, bool) {
	if at+4 > len(d) {
		return 0, false
	}
	var v rune
	for _, c := range d[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// view is s as a string without a copy; s must never change.
func view(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	return unsafe.String(&s[0], len(s))
}

// int reads an integer as v2 reads one into an int64: no fraction, no
// exponent, no leading zero.
func (r *reader) int() int64 {
	c := r.peek()
	if r.bad {
		return 0
	}
	start := r.i
	i := start
	if c == '-' {
		i++
	}
	digits := i
	for i < len(r.d) && r.d[i] >= '0' && r.d[i] <= '9' {
		i++
	}
	if i == digits || r.d[digits] == '0' && i-digits > 1 {
		r.bad = true
		return 0
	}
	if i < len(r.d) {
		switch r.d[i] {
		case '.', 'e', 'E':
			r.bad = true
			return 0
		}
	}
	n, err := strconv.ParseInt(string(r.d[start:i]), 10, 64)
	if err != nil {
		r.bad = true
		return 0
	}
	r.i = i
	return n
}

func (r *reader) bool() bool {
	switch r.peek() {
	case 't':
		if len(r.d)-r.i >= 4 && string(r.d[r.i:r.i+4]) == "true" {
			r.i += 4
			return true
		}
	case 'f':
		if len(r.d)-r.i >= 5 && string(r.d[r.i:r.i+5]) == "false" {
			r.i += 5
			return false
		}
	}
	r.bad = true
	return false
}

func (r *reader) strings() []string {
	if r.null() {
		return nil
	}
	if cap(r.strs)-len(r.strs) < 8 {
		r.strs = make([]string, 0, 256)
	}
	start := len(r.strs)
	r.open('[')
	for n := 0; r.more(&n, ']'); {
		r.strs = append(r.strs, r.str())
	}
	return r.strs[start:len(r.strs):len(r.strs)]
}

func (r *reader) home(p *HomePage) {
	var set uint32
	r.open('{')
	for n := 0; r.more(&n, '}'); {
		switch string(r.key()) {
		case "layout":
			r.seen(&set, 0)
			r.layout(&p.Layout)
		case "query":
			r.seen(&set, 1)
			p.Query = r.str()
		case "tags":
			r.seen(&set, 2)
			p.Tags = r.strings()
		case "live":
			r.seen(&set, 3)
			if r.null() {
				p.Live = nil
				break
			}
			p.Live = make([]LiveModel, 0, 64)
			r.open('[')
			for k := 0; r.more(&k, ']'); {
				p.Live = append(p.Live, LiveModel{})
				r.liveModel(&p.Live[len(p.Live)-1])
			}
		case "offline":
			r.seen(&set, 4)
			if r.null() {
				p.Offline = nil
				break
			}
			p.Offline = []ModelSummary{}
			r.open('[')
			for k := 0; r.more(&k, ']'); {
				p.Offline = append(p.Offline, ModelSummary{})
				r.modelSummary(&p.Offline[len(p.Offline)-1])
			}
		default:
			r.bad = true
		}
	}
}

func (r *reader) layout(l *Layout) {
	var set uint32
	r.open('{')
	for n := 0; r.more(&n, '}'); {
		switch string(r.key()) {
		case "site_name":
			r.seen(&set, 0)
			l.SiteName = r.str()
		case "brand":
			r.seen(&set, 1)
			l.Brand = r.str()
		case "asset_base":
			r.seen(&set, 2)
			l.AssetBase = r.str()
		case "path":
			r.seen(&set, 3)
			l.Path = r.str()
		case "user":
			r.seen(&set, 4)
			if r.null() {
				l.User = nil
				break
			}
			l.User = new(User)
			r.user(l.User)
		case "csrf_token":
			r.seen(&set, 5)
			l.CSRFToken = r.str()
		case "flashes":
			r.seen(&set, 6)
			if r.null() {
				l.Flashes = nil
				break
			}
			l.Flashes = []Flash{}
			r.open('[')
			for k := 0; r.more(&k, ']'); {
				var f Flash
				var fs uint32
				r.open('{')
				for m := 0; r.more(&m, '}'); {
					switch string(r.key()) {
					case "level":
						r.seen(&fs, 0)
						f.Level = FlashLevel(r.str())
					case "message":
						r.seen(&fs, 1)
						f.Message = r.str()
					default:
						r.bad = true
					}
				}
				l.Flashes = append(l.Flashes, f)
			}
		case "nav":
			r.seen(&set, 7)
			if r.null() {
				l.Nav = nil
				break
			}
			l.Nav = []NavItem{}
			r.open('[')
			for k := 0; r.more(&k, ']'); {
				var it NavItem
				var is uint32
				r.open('{')
				for m := 0; r.more(&m, '}'); {
					switch string(r.key()) {
					case "label":
						r.seen(&is, 0)
						it.Label = r.str()
					case "href":
						r.seen(&is, 1)
						it.Href = r.str()
					case "active":
						r.seen(&is, 2)
						it.Active = r.bool()
					default:
						r.bad = true
					}
				}
				l.Nav = append(l.Nav, it)
			}
		case "links":
			r.seen(&set, 8)
			r.links(&l.Links)
		case "idempotency_key":
			r.seen(&set, 9)
			l.IdempotencyKey = r.str()
		default:
			r.bad = true
		}
	}
}

func (r *reader) user(u *User) {
	var set uint32
	r.open('{')
	for n := 0; r.more(&n, '}'); {
		switch string(r.key()) {
		case "id":
			r.seen(&set, 0)
			u.ID = r.str()
		case "name":
			r.seen(&set, 1)
			u.Name = r.str()
		case "role":
			r.seen(&set, 2)
			u.Role = Role(r.str())
		case "wallet":
			r.seen(&set, 3)
			r.money(&u.Wallet)
		default:
			r.bad = true
		}
	}
}

func (r *reader) links(k *Links) {
	var set uint32
	r.open('{')
	for n := 0; r.more(&n, '}'); {
		switch string(r.key()) {
		case "home":
			r.seen(&set, 0)
			k.Home = r.str()
		case "login":
			r.seen(&set, 1)
			k.Login = r.str()
		case "logout":
			r.seen(&set, 2)
			k.Logout = r.str()
		case "signup":
			r.seen(&set, 3)
			k.Signup = r.str()
		case "wallet":
			r.seen(&set, 4)
			k.Wallet = r.str()
		case "terms":
			r.seen(&set, 5)
			k.Terms = r.str()
		case "privacy":
			r.seen(&set, 6)
			k.Privacy = r.str()
		case "support":
			r.seen(&set, 7)
			k.Support = r.str()
		default:
			r.bad = true
		}
	}
}

func (r *reader) liveModel(m *LiveModel) {
	var set uint32
	r.open('{')
	for n := 0; r.more(&n, '}'); {
		switch string(r.key()) {
		case "model":
			r.seen(&set, 0)
			r.modelSummary(&m.Model)
		case "show_id":
			r.seen(&set, 1)
			m.ShowID = r.str()
		case "thumbnail_url":
			r.seen(&set, 2)
			m.ThumbnailURL = r.str()
		case "mode":
			r.seen(&set, 3)
			m.Mode = ShowMode(r.str())
		case "viewers":
			r.seen(&set, 4)
			m.Viewers = int(r.int())
		case "rate_per_minute":
			r.seen(&set, 5)
			r.money(&m.RatePerMinute)
		case "tags":
			r.seen(&set, 6)
			m.Tags = r.strings()
		case "new":
			r.seen(&set, 7)
			m.New = r.bool()
		default:
			r.bad = true
		}
	}
}

func (r *reader) modelSummary(m *ModelSummary) {
	var set uint32
	r.open('{')
	for n := 0; r.more(&n, '}'); {
		switch string(r.key()) {
		case "id":
			r.seen(&set, 0)
			m.ID = r.str()
		case "display_name":
			r.seen(&set, 1)
			m.DisplayName = r.str()
		case "avatar_url":
			r.seen(&set, 2)
			m.AvatarURL = r.str()
		case "profile_url":
			r.seen(&set, 3)
			m.ProfileURL = r.str()
		case "room_url":
			r.seen(&set, 4)
			m.RoomURL = r.str()
		default:
			r.bad = true
		}
	}
}

func (r *reader) money(m *money.Money) {
	var set uint32
	r.open('{')
	for n := 0; r.more(&n, '}'); {
		switch string(r.key()) {
		case "amount":
			r.seen(&set, 0)
			m.Amount = r.int()
		case "currency":
			r.seen(&set, 1)
			m.Currency = r.str()
		default:
			r.bad = true
		}
	}
}
