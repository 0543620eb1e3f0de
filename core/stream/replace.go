package stream

import "context"

type replaceKey struct{}

// WithReplacePublisher marks a Publish as the model's explicit switch of
// device ("go live with this browser"): the Admission lets it take the show
// from a publisher still on air, which it refuses to anyone else.
func WithReplacePublisher(ctx context.Context) context.Context {
	return context.WithValue(ctx, replaceKey{}, true)
}

// ReplacesPublisher reports whether ctx carries WithReplacePublisher.
func ReplacesPublisher(ctx context.Context) bool {
	v, _ := ctx.Value(replaceKey{}).(bool)
	return v
}
