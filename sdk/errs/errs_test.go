package errs

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestTypedErrorSurvivesTheGRPCBoundary(t *testing.T) {
	for _, in := range []*Error{
		E(InsufficientFunds, "card 4000 declined"),
		Retry(Unavailable, "processor down"),
		E(Conflict, "key reused"),
		{Code: Timeout, Retryable: true},
	} {
		out := FromStatus(ToStatus(fmt.Errorf("wrapped: %w", in)))
		var e *Error
		if !errors.As(out, &e) || e.Code != in.Code || e.Retryable != in.Retryable || e.Message != in.Message {
			t.Errorf("%#v came back as %#v", in, out)
		}
	}
}

func TestPlainAndTransportErrorsGetAClass(t *testing.T) {
	if c := CodeOf(FromStatus(ToStatus(errors.New("boom")))); c != Internal {
		t.Errorf("plain error -> %s", c)
	}
	if err := FromStatus(ToStatus(context.DeadlineExceeded)); CodeOf(err) != Timeout || !IsRetryable(err) {
		t.Errorf("deadline -> %v", err)
	}
	// A dead plugin process shows up as a bare Unavailable status.
	if err := FromStatus(status.Error(codes.Unavailable, "connection refused")); CodeOf(err) != Unavailable || !IsRetryable(err) {
		t.Errorf("transport failure -> %v", err)
	}
	if err := FromStatus(status.Error(codes.InvalidArgument, "bad")); CodeOf(err) != Invalid || IsRetryable(err) {
		t.Errorf("invalid argument -> %v", err)
	}
	if ToStatus(nil) != nil || FromStatus(nil) != nil || CodeOf(nil) != "" {
		t.Error("nil must stay nil")
	}
}

func TestDeclinesAndMatching(t *testing.T) {
	if !IsDecline(E(ExpiredCard, "x")) || IsDecline(E(Unavailable, "x")) || IsDecline(errors.New("x")) {
		t.Error("IsDecline misclassifies")
	}
	if !errors.Is(fmt.Errorf("ctx: %w", E(NotFound, "seat 9")), &Error{Code: NotFound}) {
		t.Error("errors.Is must match on the code")
	}
	if errors.Is(E(NotFound, "seat 9"), &Error{Code: Conflict}) {
		t.Error("errors.Is matched another code")
	}
}
