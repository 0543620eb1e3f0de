package shows

import (
	"context"
	"strings"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/split"
)

// Tips tells chat whose show a room is, from the live store: it is built
// before chat (which takes it) and the Service (which takes chat), so the
// three are made in one direction.
type Tips struct {
	Store    Store
	Accounts *accounts.Service
}

// TipParties names who a tip in room goes to: the broadcast's model (or, in
// a seat's room, the seat's model, for the seat's viewer only; in a group
// room, the group's model, for its seat holders only) and her studio.
func (t *Tips) TipParties(ctx context.Context, room, viewerID string) (split.Parties, error) {
	var model string
	if id, ok := strings.CutPrefix(room, "group-"); ok {
		// A group room: a tip there is the whole group's to see, from a
		// viewer holding a seat in it.
		seats, err := t.Store.Seats(ctx)
		if err != nil {
			return split.Parties{}, err
		}
		for _, st := range seats {
			if st.PaidShowID == id && st.ViewerID == viewerID {
				model = st.ModelID
			}
		}
	} else if id, ok := strings.CutPrefix(room, "seat-"); ok {
		seats, err := t.Store.Seats(ctx)
		if err != nil {
			return split.Parties{}, err
		}
		paid := ""
		for _, st := range seats {
			if st.ID == id {
				paid = st.PaidShowID
			}
		}
		// A private show's paid show holds its viewer's seat (the
		// broadcast's) and its spies' seats: a spy only watches, so it
		// tips neither in the private room nor in a room of its own.
		private, err := t.privateSeatOf(ctx, paid)
		if err != nil {
			return split.Parties{}, err
		}
		for _, st := range seats {
			if st.PaidShowID != paid || st.ViewerID != viewerID {
				continue
			}
			if private != "" && st.ID != private {
				return split.Parties{}, errSpyOnly()
			}
			if st.ID == id {
				model = st.ModelID
			}
		}
	} else {
		bs, err := t.Store.Broadcasts(ctx)
		if err != nil {
			return split.Parties{}, err
		}
		for _, b := range bs {
			if b.ID == room {
				model = b.ModelID
			}
		}
	}
	if model == "" {
		return split.Parties{}, errs.E(errs.NotFound, "this show is not on air")
	}
	p, err := t.Accounts.Profile(ctx, model)
	if err != nil {
		return split.Parties{}, err
	}
	return split.Parties{ModelID: model, StudioID: p.StudioID}, nil
}

// privateSeatOf is the viewer's seat of the private show paidID (the
// broadcast's SeatID); "" when no broadcast runs it.
func (t *Tips) privateSeatOf(ctx context.Context, paidID string) (string, error) {
	if paidID == "" {
		return "", nil
	}
	bs, err := t.Store.Broadcasts(ctx)
	if err != nil {
		return "", err
	}
	for _, b := range bs {
		if b.PaidShowID == paidID {
			return b.SeatID, nil
		}
	}
	return "", nil
}
