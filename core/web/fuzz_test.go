package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// The API's request bodies, as decode receives them.
var fuzzBodies = []any{loginBody{}, signupBody{}, chatBody{}, tipBody{}, cardBody{}, cardCompleteBody{}, rateBody{}, profileBody{}}

// topLevelKeys lists an object's keys in order with their raw values, read
// with the tokenizer rather than by decoding into a struct; ok is false when
// body is not exactly one JSON object.
func topLevelKeys(body []byte) (keys []string, vals []json.RawMessage, ok bool) {
	if !json.Valid(body) {
		return nil, nil, false
	}
	var m json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if dec.Decode(&m) != nil || len(m) == 0 || m[0] != '{' {
		return nil, nil, false
	}
	dec = json.NewDecoder(bytes.NewReader(m))
	_, _ = dec.Token() // {
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return nil, nil, false
		}
		keys, vals = append(keys, k.(string)), append(vals, v)
	}
	return keys, vals, true
}

// FuzzDecode: decode succeeds only for exactly one JSON object whose every
// key names a field of the body type (as encoding/json matches names), in
// which every req:"1" field is present, not null and not empty; what it
// decodes reads back the same after encoding. A refusal is always a 400
// field error naming a field, in words that do not leak Go types.
func FuzzDecode(f *testing.F) {
	// kind picks the body type: 0 login, 1 signup, 2 chat, 3 tip, 4 card,
	// 5 card completion, 6 rate, 7 profile.
	for _, c := range []struct {
		body string
		kind byte
	}{
		{`{"email":"ann@example.com","password":"correct horse battery"}`, 0},
		{`{"email":"ann@example.com","password":"pw","display_name":"Ann","role":"viewer","adult":true}`, 1},
		{`{"text":"hi"}`, 2},
		{`{"tip_id":"tip-0123456789","amount":{"amount":500,"currency":"USD"},"text":"for you"}`, 3},
		{`{"return_url":"https://camkit.test/account"}`, 4},
		{`{"params":{"token":"sbx_tok_1","checkout":"co_1"}}`, 5},
		{`{"rate":{"amount":199,"currency":"USD"}}`, 6},
		{`{"bio":"hello","tags":["a","b"]}`, 7},
		{`{"EMAIL":"a","Password":"b"}`, 0}, {`{"email":"a","password":"b","email":""}`, 0}, {`{"email":"a"}`, 0},
		{`{"email":" ","password":"b"}`, 0}, {`{"email":"a","password":"b","display_name":"A","adult":false}`, 1},
		{`{"tip_id":"t","amount":{}}`, 3}, {`{"tip_id":"t","amount":null}`, 3}, {`{"tip_id":"t","amount":{"amount":"100","currency":"USD"}}`, 3},
		{`{"params":{}}`, 5}, {`{"params":[]}`, 5}, {`{"rate":{"amount":0,"currency":""}}`, 6}, {`{"tags":"a"}`, 7},
		{`{"text":"a","colour":"red"}`, 2}, {`{} {}`, 4}, {`{}x`, 4}, {`null`, 4}, {`[]`, 6}, {`"x"`, 7}, {`1`, 0},
		{``, 2}, {`   `, 2}, {`{`, 2}, {`{"text":`, 2}, {`{"text":"\ud800"}`, 2},
	} {
		f.Add([]byte(c.body), c.kind)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	var got struct {
		dst any
		err error
	}
	app.Post("/", func(c *fiber.Ctx) error {
		got.err = decode(c, got.dst)
		return c.SendStatus(fiber.StatusNoContent)
	})
	f.Fuzz(func(t *testing.T, body []byte, kind byte) {
		typ := reflect.TypeOf(fuzzBodies[int(kind)%len(fuzzBodies)])
		got.dst = reflect.New(typ).Interface()
		req := httptest.NewRequest(fiber.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()

		if err := got.err; err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" || errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("decode(%q) into %s: %v; want a 400 field error", body, typ.Name(), err)
			}
			said := strings.Replace(fe.Err.Message, strconv.Quote(fe.Field), "", 1) // the client's own field name
			for _, leak := range []string{"money.", "web.", "reflect", "struct", "map[", "*", "Go "} {
				if strings.Contains(said, leak) {
					t.Fatalf("decode(%q) into %s: the message %q shows Go internals (%q)", body, typ.Name(), fe.Err.Message, leak)
				}
			}
			return
		}
		keys, vals, ok := topLevelKeys(body)
		if !ok {
			t.Fatalf("decode accepted %q into %s: not exactly one JSON object", body, typ.Name())
		}
		for _, k := range keys {
			known := false
			for i := 0; i < typ.NumField(); i++ {
				known = known || strings.EqualFold(k, strings.Split(typ.Field(i).Tag.Get("json"), ",")[0])
			}
			if !known {
				t.Fatalf("decode accepted %q into %s: unknown field %q", body, typ.Name(), k)
			}
		}
		v := reflect.ValueOf(got.dst).Elem()
		for i := 0; i < typ.NumField(); i++ {
			fld := typ.Field(i)
			if fld.Tag.Get("req") != "1" {
				continue
			}
			name := strings.Split(fld.Tag.Get("json"), ",")[0]
			var last json.RawMessage
			for j, k := range keys {
				if strings.EqualFold(k, name) {
					last = vals[j]
				}
			}
			if last == nil || string(last) == "null" {
				t.Fatalf("decode accepted %q into %s without the required %q", body, typ.Name(), name)
			}
			if empty(v.Field(i)) {
				t.Fatalf("decode accepted %q into %s with the required %q empty (%v)", body, typ.Name(), name, v.Field(i))
			}
		}
		again, err := json.Marshal(got.dst)
		if err != nil {
			t.Fatalf("%+v: %v", got.dst, err)
		}
		first := got.dst
		got.dst = reflect.New(typ).Interface()
		req = httptest.NewRequest(fiber.MethodPost, "/", bytes.NewReader(again))
		if resp, err := app.Test(req, -1); err == nil {
			resp.Body.Close()
		}
		if got.err != nil || !reflect.DeepEqual(got.dst, first) {
			t.Fatalf("%q decoded to %+v, encoded to %s, decoded to %+v, %v", body, first, again, got.dst, got.err)
		}
	})
}

// empty is what a required field must not be: zero, a blank string, a
// pointer to a zero value, or an empty map or slice.
func empty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return strings.TrimSpace(v.String()) == ""
	case reflect.Pointer:
		return v.IsNil() || empty(v.Elem())
	case reflect.Map, reflect.Slice:
		return v.Len() == 0
	}
	return v.IsZero()
}

// FuzzParseAmount: a form's decimal amount (a tip, a model's rate) is read
// exactly in the site's currency or refused as a 400 on that field; what is
// read shows back (display) as text that reads the same again, and every
// amount a page shows is read back as itself when typed into a form.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"5", "5.00", " 12.34 ", "0.5", ".5", "-1", "+1", "1.001", "1e3", "1,00", "", " ", "١",
		"99999999999999999999999", "92233720368547758.07", "000000000000000000000001"} {
		f.Add(s, int64(0), byte(0))
		f.Add(s, int64(0), byte(1))
	}
	f.Add("", int64(1999), byte(0))
	f.Add("", int64(-5), byte(2))
	f.Add("", int64(9223372036854775807), byte(1))
	currencies := []string{"USD", "JPY", "BHD"}
	f.Fuzz(func(t *testing.T, raw string, minor int64, pick byte) {
		cur := currencies[int(pick)%len(currencies)]
		m, err := parseAmount("amount", raw, cur)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "amount" || errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("parseAmount(%q, %s): %v; want a 400 on amount", raw, cur, err)
			}
		} else {
			want, perr := money.ParseDecimal(strings.TrimSpace(raw), cur)
			if perr != nil || m != want || len(strings.TrimSpace(raw)) > 24 {
				t.Fatalf("parseAmount(%q, %s) = %v; money.ParseDecimal says %v, %v", raw, cur, m, want, perr)
			}
			shown := strings.TrimSuffix(display(m), " "+cur)
			if back, err := parseAmount("amount", shown, cur); err != nil || back != m {
				t.Fatalf("%v shows as %q, which reads back as %v, %v", m, shown, back, err)
			}
		}
		// What a page shows (without its currency code) typed back into a form.
		shown := money.Money{Amount: minor, Currency: cur}
		text := strings.TrimSuffix(display(shown), " "+cur)
		back, err := parseAmount("amount", text, cur)
		if minor != math.MinInt64 && len(text) <= 24 && (err != nil || back != shown) {
			t.Fatalf("%v shows as %q, which reads back as %v, %v", shown, text, back, err)
		}
	})
}
