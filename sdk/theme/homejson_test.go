package theme

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

// fill sets every field reachable from v to a value that is not its zero
// (slices get two elements, pointers a value), so a field added to a page
// struct shows up in the comparisons below.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("v%d <&> \"é\" \u2028", *n))
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n) * -7919)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fill(v.Index(i), n)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i), n)
		}
	default:
		panic(fmt.Sprintf("fill: add a case for %s", v.Type()))
	}
}

func filledHome() *HomePage {
	p := new(HomePage)
	n := 0
	fill(reflect.ValueOf(p).Elem(), &n)
	return p
}

// v2Home decodes as DecodePage did before the hand-written decoder.
func v2Home(data []byte) (*HomePage, error) {
	p := new(HomePage)
	err := jsonv2.Unmarshal(data, p)
	return p, err
}

func homeCases() map[string]*HomePage {
	cases := map[string]*HomePage{
		"filled":        filledHome(),
		"zero":          {},
		"empty slices":  {Tags: []string{}, Live: []LiveModel{}, Offline: []ModelSummary{}, Layout: Layout{Flashes: []Flash{}, Nav: []NavItem{}}},
		"100 models":    SampleHomePage(100),
		"hostile texts": SampleHomePage(3),
	}
	for _, s := range SamplePages() {
		if h, ok := s.Page.(*HomePage); ok {
			cases["sample "+s.Name] = h
		}
	}
	// Every ASCII byte, invalid UTF-8, separators, astral runes.
	var all strings.Builder
	for c := 0; c < 128; c++ {
		all.WriteByte(byte(c))
	}
	odd := SampleHomePage(2)
	odd.Query = all.String()
	odd.Live[0].Model.DisplayName = "bad \xff\xfe utf8 \xe2\x82"
	odd.Live[1].Model.DisplayName = "\u2028\u2029 😀 \U0001F600 日本"
	odd.Layout.CSRFToken = "\x00\x1f\x7f"
	cases["odd strings"] = odd
	return cases
}

func TestHomeEncodingIsEncodingJSONs(t *testing.T) {
	for name, p := range homeCases() {
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendHome(nil, p); !bytes.Equal(got, want) {
			t.Errorf("%s: hand-written encoding differs from encoding/json\n got %s\nwant %s", name, got, want)
		}
		kind, data, err := EncodePage(p)
		if err != nil || kind != KindHome || !bytes.Equal(data, want) {
			t.Errorf("%s: EncodePage: %s %v", name, kind, err)
		}
	}
}

func TestHomeDecodingIsV2s(t *testing.T) {
	for name, p := range homeCases() {
		data, _ := json.Marshal(p)
		want, err := v2Home(data)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeHome(data)
		if !ok {
			t.Fatalf("%s: the hand-written decoder gave up on encoding/json's output: %s", name, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded differently from v2\n got %+v\nwant %+v", name, got, want)
		}
		back, err := DecodePage(KindHome, data)
		if err != nil || !reflect.DeepEqual(back, want) {
			t.Errorf("%s: DecodePage: %v", name, err)
		}
	}
	// Whitespace anywhere JSON allows it, and escapes encoding/json never
	// writes, are still read by hand.
	indented, _ := json.MarshalIndent(filledHome(), "", " \t")
	if _, ok := decodeHome(indented); !ok {
		t.Error("gave up on indented JSON")
	}
	esc := []byte(`{"query":"\/\b\f\n\r\t\"\\\u00e9\ud83d\ude00\u0041"}`)
	got, ok := decodeHome(esc)
	want, _ := v2Home(esc)
	if !ok || !reflect.DeepEqual(got, want) || got.Query != "/\b\f\n\r\t\"\\é😀A" {
		t.Errorf("escapes: %q (ok %v), v2 %q", got.Query, ok, want.Query)
	}
}

// TestHomeDecodingLeavesTheRestToV2: input the hand-written decoder was not
// written for is decoded (or refused) by v2, exactly as before it existed.
func TestHomeDecodingLeavesTheRestToV2(t *testing.T) {
	for _, in := range []string{
		`{"added_later": {"x": [1, 2]}, "query": "q"}`,  // a newer host's field: ignored
		`{"query": "a", "query": "b"}`,                  // duplicate name: refused
		`{"live": [{"viewers": 1.5}]}`,                  // a fraction for an int: refused
		`{"live": [{"viewers": 1e3}]}`,                  // an exponent: refused
		`{"live": [{"viewers": 012}]}`,                  // a leading zero: refused
		`{"live": [{"viewers": 99999999999999999999}]}`, // overflow: refused
		`{"layout": null, "query": "q"}`,                // null for a struct
		`{"query": null}`,                               // null for a string
		`{"query": "\ud800"}`,                           // a lone surrogate
		"{\"query\": \"\xff\"}",                         // invalid UTF-8: refused
		`{"query": "q"} {}`,                             // trailing data: refused
		`{"query": "q",}`,                               // trailing comma: refused
		`{"tags": ["a",]}`,                              // trailing comma in an array
		`{"Query": "case"}`,                             // another case
		`{"live": [{"new": "yes"}]}`,                    // a string for a bool: refused
		`{"live": 7}`,                                   // wrong type: refused
		`[]`,                                            // not an object
		``,                                              // nothing
		`{"query": "unterminated`,                       // truncated
		"{\"query\": \"tab\there\"}",                    // a raw control character
		`{"query": "\x"}`,                               // a bad escape
		`{"live": [{"model": {"id": "m", "extra": true}}]}`, // unknown nested field
	} {
		if _, ok := decodeHome([]byte(in)); ok {
			t.Errorf("hand-written decoder accepted %s", in)
		}
		want, werr := v2Home([]byte(in))
		got, gerr := DecodePage(KindHome, []byte(in))
		if (werr == nil) != (gerr == nil) {
			t.Errorf("%s: DecodePage error %v, v2 %v", in, gerr, werr)
			continue
		}
		if werr == nil && !reflect.DeepEqual(got, Page(want)) {
			t.Errorf("%s: DecodePage %+v, v2 %+v", in, got, want)
		}
	}
}

// FuzzHomeDecoding: whatever the hand-written decoder accepts, v2 accepts
// and decodes to the same page.
func FuzzHomeDecoding(f *testing.F) {
	for _, p := range homeCases() {
		b, _ := json.Marshal(p)
		f.Add(b)
	}
	f.Add([]byte(`{"query":"\u00e9\ud83d\ude00","live":[{"viewers":-0}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := decodeHome(data)
		if !ok {
			return
		}
		want, err := v2Home(data)
		if err != nil {
			t.Fatalf("hand-written decoder accepted what v2 refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %q differently:\n got %+v\nwant %+v", data, got, want)
		}
	})
}

// BenchmarkHomeWire compares the hand-written home page codec with the
// reflective ones on a page of 100 live models:
//
//	go test -run '^$' -bench HomeWire ./theme/
func BenchmarkHomeWire(b *testing.B) {
	p := SampleHomePage(100)
	data, _ := json.Marshal(p)
	b.Run("encode/encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			_, _ = json.Marshal(p)
		}
	})
	b.Run("encode/hand", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		buf := make([]byte, 0, 64<<10)
		for b.Loop() {
			buf = appendHome(buf[:0], p)
		}
	})
	b.Run("decode/json-v2", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := v2Home(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/hand", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, ok := decodeHome(data); !ok {
				b.Fatal("gave up")
			}
		}
	})
}

// TestHomeDecodingAgreesWithV2OnMutations runs the fuzz property on a fixed
// set of mutated pages (flipped, cut and inserted JSON bytes) in every plain
// test run.
func TestHomeDecodingAgreesWithV2OnMutations(t *testing.T) {
	base, _ := json.Marshal(SampleHomePage(3))
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(`{}[]":,\ nulltruefalse0123456789-.eE\u00d8ab`)
	accepted := 0
	for range 20000 {
		d := bytes.Clone(base)
		for k := rng.IntN(4); k >= 0; k-- {
			switch rng.IntN(3) {
			case 0:
				d[rng.IntN(len(d))] = alphabet[rng.IntN(len(alphabet))]
			case 1:
				d = d[:rng.IntN(len(d))]
			case 2:
				i := rng.IntN(len(d) + 1)
				d = append(d[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, d[i:]...)...)
			}
			if len(d) == 0 {
				d = []byte("{")
			}
		}
		got, ok := decodeHome(d)
		if !ok {
			continue
		}
		accepted++
		want, err := v2Home(d)
		if err != nil {
			t.Fatalf("hand-written decoder accepted what v2 refuses (%v): %q", err, d)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %q differently:\n got %+v\nwant %+v", d, got, want)
		}
	}
	// Some mutations (a changed letter inside a string) stay valid pages.
	if accepted == 0 {
		t.Fatal("no mutated page was accepted: the comparison checked nothing")
	}
}

// TestDecodePageKeepsNoViewOfTheCallersBytes: the decoded page's strings
// view a private copy, so a caller may reuse its buffer.
func TestDecodePageKeepsNoViewOfTheCallersBytes(t *testing.T) {
	data, _ := json.Marshal(SampleHomePage(3))
	p, err := DecodePage(KindHome, data)
	if err != nil {
		t.Fatal(err)
	}
	want := p.(*HomePage).Live[2].Model.DisplayName
	for i := range data {
		data[i] = 'x'
	}
	if got := p.(*HomePage).Live[2].Model.DisplayName; got != want || got == "" {
		t.Fatalf("display name changed with the caller's buffer: %q, was %q", got, want)
	}
}
