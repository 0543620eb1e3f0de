package tickets

import (
	"context"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/sdk/split"
)

// AccountParties names a model's studio from her profile, as tips do.
type AccountParties struct{ Accounts *accounts.Service }

// PartiesOf implements Parties.
func (a AccountParties) PartiesOf(ctx context.Context, modelID string) (split.Parties, error) {
	p, err := a.Accounts.Profile(ctx, modelID)
	if err != nil {
		return split.Parties{}, err
	}
	return split.Parties{ModelID: modelID, StudioID: p.StudioID}, nil
}

var _ Parties = AccountParties{}
