package stream

import (
	"context"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
)

type denyAll struct{}

func (denyAll) ResolveStreamKey(context.Context, string) (string, error) {
	return "", errs.E(errs.Unauthenticated, "no")
}
func (denyAll) AdmitViewer(context.Context, string, string) (Admit, error) {
	return Admit{}, errs.E(errs.NotFound, "no")
}

// Show ids arrive in URLs (the events feed): rooms nobody uses must not pile up.
func TestIdleRoomsAreDropped(t *testing.T) {
	s, err := New(Config{Admission: denyAll{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{"a", "b", "c"} {
		_, stop := s.Watch(id, "")
		stop()
	}
	s.SetMode("d", ModePublic)
	s.EndShow("e")
	s.SetMode("private-show", ModePrivate)
	s.mu.Lock()
	n := len(s.rooms)
	_, kept := s.rooms["private-show"]
	s.mu.Unlock()
	if n != 1 || !kept {
		t.Fatalf("%d rooms left (private kept: %v), want only the private show's", n, kept)
	}
}
