package web_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/sdk/theme"
)

type openAPIDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(web.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// typed says why s (resolved through $ref) does not describe its answer's
// shape, or "" when it does: an object names its properties, an array types
// its items.
func typed(doc openAPIDoc, s map[string]any, seen map[string]bool) string {
	if r, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(r, "#/components/schemas/")
		if seen[name] {
			return ""
		}
		seen[name] = true
		c, ok := doc.Components.Schemas[name]
		if !ok {
			return "no schema " + name
		}
		if why := typed(doc, c, seen); why != "" {
			return name + ": " + why
		}
		return ""
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, a := range all {
			if why := typed(doc, a.(map[string]any), seen); why != "" {
				return why
			}
		}
		return ""
	}
	switch s["type"] {
	case "object":
		props, _ := s["properties"].(map[string]any)
		if len(props) == 0 && s["additionalProperties"] == nil {
			return "an object without properties"
		}
		for k, p := range props {
			if why := typed(doc, p.(map[string]any), seen); why != "" {
				return k + ": " + why
			}
		}
	case "array":
		items, ok := s["items"].(map[string]any)
		if !ok {
			return "an array without items"
		}
		return typed(doc, items, seen)
	case nil:
		return "no type"
	}
	return ""
}

// Every answer of every operation (the JSON API and the media endpoints)
// has a schema that says its shape; only this document itself is free-form.
func TestOpenAPITypesEveryAnswer(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, want := range []string{"/whip", "/whip/{key}", "/whep/{show}", "/stream/sessions/{id}", "/stream/events/{show}"} {
		if doc.Paths[want] == nil {
			t.Errorf("%s is not documented", want)
		}
	}
	var untyped []string
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "servers" || method == "parameters" {
				continue
			}
			var op struct {
				ID        string `json:"operationId"`
				Responses map[string]struct {
					Content map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			if op.ID == "openapi" {
				continue
			}
			for code, r := range op.Responses {
				if !strings.HasPrefix(code, "2") {
					continue
				}
				for ct, c := range r.Content {
					if why := typed(doc, c.Schema, map[string]bool{}); why != "" {
						untyped = append(untyped, method+" "+path+" "+code+" "+ct+": "+why)
					}
				}
			}
		}
	}
	sort.Strings(untyped)
	if len(untyped) > 0 {
		t.Fatalf("answers without a shape:\n%s", strings.Join(untyped, "\n"))
	}
}

// jsonFields are the JSON names of t's fields, and those always present.
func jsonFields(t reflect.Type) (all, required []string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			required = append(required, name)
		}
	}
	sort.Strings(all)
	sort.Strings(required)
	return all, required
}

// The documented shapes are the Go types the handlers encode: a field added
// to the receipt or a wallet row without documenting it fails here.
func TestOpenAPISchemasMatchTheGoTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, typ := range map[string]reflect.Type{
		"Receipt":        reflect.TypeFor[billing.Receipt](),
		"LockedPolicy":   reflect.TypeFor[pricing.Policy](),
		"LedgerTransfer": reflect.TypeFor[billing.LedgerTransfer](),
		"LedgerRow":      reflect.TypeFor[theme.LedgerRow](),
		"Earnings":       reflect.TypeFor[theme.Earnings](),
		"PluginStatus":   reflect.TypeFor[theme.PluginStatus](),
		"LedgerVerify":   reflect.TypeFor[theme.LedgerVerify](),
		"TipGoal":        reflect.TypeFor[web.APIGoal](),
		"TipMenuItem":    reflect.TypeFor[web.APIMenuItem](),
		"Tipping":        reflect.TypeFor[web.APITipping](),
		"TipGoalBody":    reflect.TypeFor[web.GoalBody](),
		"MenuTipBody":    reflect.TypeFor[web.MenuTipBody](),
		"TicketShow":     reflect.TypeFor[web.APITicketShow](),
		"Ticket":         reflect.TypeFor[web.APITicket](),
		"SpyOffer":       reflect.TypeFor[web.APISpyOffer](),
		"SpyRate":        reflect.TypeFor[web.APISpyRate](),
		"SpyRateBody":    reflect.TypeFor[web.SpyRateBody](),
	} {
		s := doc.Components.Schemas[name]
		var props []string
		for k := range s["properties"].(map[string]any) {
			props = append(props, k)
		}
		sort.Strings(props)
		all, required := jsonFields(typ)
		if !slices.Equal(props, all) {
			t.Errorf("%s: documented %v, the type encodes %v", name, props, all)
		}
		if req, ok := s["required"].([]any); ok {
			var got []string
			for _, r := range req {
				got = append(got, r.(string))
			}
			sort.Strings(got)
			if !slices.Equal(got, required) {
				t.Errorf("%s: required %v, always encoded %v", name, got, required)
			}
		}
	}
}
