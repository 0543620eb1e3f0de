package errs

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const domain = "camkit"

var grpcCodes = map[Code]codes.Code{
	Declined: codes.FailedPrecondition, InsufficientFunds: codes.FailedPrecondition,
	ExpiredCard: codes.FailedPrecondition, InvalidCard: codes.FailedPrecondition,
	FraudSuspected: codes.FailedPrecondition, AuthExpired: codes.FailedPrecondition,
	Limit:   codes.FailedPrecondition,
	Invalid: codes.InvalidArgument, UnknownCurrency: codes.InvalidArgument,
	NotFound: codes.NotFound, Conflict: codes.AlreadyExists, Unsupported: codes.Unimplemented,
	Forbidden: codes.PermissionDenied, Unauthenticated: codes.Unauthenticated,
	Unavailable: codes.Unavailable, Timeout: codes.DeadlineExceeded, Internal: codes.Internal,
}

// ToStatus turns any error into a gRPC status error that keeps the camkit code
// and the retry flag, for a plugin's gRPC server to return.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !isCamkit(err) {
		return err
	}
	var e *Error
	if !errors.As(err, &e) {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			e = &Error{Code: Timeout, Retryable: true, Message: err.Error()}
		case errors.Is(err, context.Canceled):
			e = &Error{Code: Unavailable, Retryable: true, Message: err.Error()}
		default:
			e = &Error{Code: Internal, Message: err.Error()}
		}
	}
	gc, ok := grpcCodes[e.Code]
	if !ok {
		gc = codes.Unknown
	}
	st := status.New(gc, e.Message)
	if d, derr := st.WithDetails(&errdetails.ErrorInfo{
		Reason:   string(e.Code),
		Domain:   domain,
		Metadata: map[string]string{"retryable": strconv.FormatBool(e.Retryable)},
	}); derr == nil {
		st = d
	}
	return st.Err()
}

func isCamkit(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// FromStatus turns an error returned by a gRPC client call back into an *Error.
// A transport failure (the plugin process is gone) becomes a retryable Unavailable.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == domain {
			return &Error{Code: Code(info.Reason), Retryable: info.Metadata["retryable"] == "true", Message: st.Message()}
		}
	}
	switch st.Code() {
	case codes.Unavailable, codes.Canceled, codes.Aborted:
		return &Error{Code: Unavailable, Retryable: true, Message: st.Message()}
	case codes.DeadlineExceeded:
		return &Error{Code: Timeout, Retryable: true, Message: st.Message()}
	case codes.InvalidArgument:
		return &Error{Code: Invalid, Message: st.Message()}
	case codes.NotFound:
		return &Error{Code: NotFound, Message: st.Message()}
	case codes.Unimplemented:
		return &Error{Code: Unsupported, Message: st.Message()}
	}
	return &Error{Code: Internal, Message: st.Message()}
}
