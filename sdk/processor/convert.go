package processor

import (
	"net/http"
	"net/url"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/proto/commonv1"
	pb "github.com/camkit/camkit/sdk/proto/processorv1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Conversions between the Go contract and its protobuf form. Optional values
// (a nil pointer, a zero time) travel as unset fields and come back the same.

func moneyToPB(m money.Money) *commonv1.Money {
	return &commonv1.Money{Amount: m.Amount, Currency: m.Currency}
}

func moneyFromPB(m *commonv1.Money) money.Money {
	return money.Money{Amount: m.GetAmount(), Currency: m.GetCurrency()}
}

func optMoneyToPB(m *money.Money) *commonv1.Money {
	if m == nil {
		return nil
	}
	return moneyToPB(*m)
}

func optMoneyFromPB(m *commonv1.Money) *money.Money {
	if m == nil {
		return nil
	}
	v := moneyFromPB(m)
	return &v
}

func timeToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromPB(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func credToPB(c StoredCredential) *pb.StoredCredential {
	return &pb.StoredCredential{
		Token: c.Token, Brand: c.Brand, Last4: c.Last4,
		ExpMonth: int32(c.ExpMonth), ExpYear: int32(c.ExpYear), CustomerRef: c.CustomerRef, Country: c.Country,
	}
}

func credFromPB(c *pb.StoredCredential) StoredCredential {
	return StoredCredential{
		Token: c.GetToken(), Brand: c.GetBrand(), Last4: c.GetLast4(),
		ExpMonth: int(c.GetExpMonth()), ExpYear: int(c.GetExpYear()), CustomerRef: c.GetCustomerRef(), Country: c.GetCountry(),
	}
}

func optCredToPB(c *StoredCredential) *pb.StoredCredential {
	if c == nil {
		return nil
	}
	return credToPB(*c)
}

func optCredFromPB(c *pb.StoredCredential) *StoredCredential {
	if c == nil {
		return nil
	}
	v := credFromPB(c)
	return &v
}

func valuesToPB(v map[string][]string) map[string]*pb.Values {
	if v == nil {
		return nil
	}
	out := make(map[string]*pb.Values, len(v))
	for k, vs := range v {
		out[k] = &pb.Values{Values: vs}
	}
	return out
}

func valuesFromPB(v map[string]*pb.Values) map[string][]string {
	if v == nil {
		return nil
	}
	out := make(map[string][]string, len(v))
	for k, vs := range v {
		out[k] = vs.GetValues()
	}
	return out
}

func capsToPB(c Capabilities) *pb.Capabilities {
	return &pb.Capabilities{
		AuthCapture: c.AuthCapture, PartialCapture: c.PartialCapture, Void: c.Void,
		Refund: c.Refund, PartialRefund: c.PartialRefund, ChargeStoredCredential: c.ChargeStoredCredential,
		HostedCheckoutRequired: c.HostedCheckoutRequired, NativeRecurring: c.NativeRecurring,
		WebhookAuth: string(c.WebhookAuth), Currencies: c.Currencies, MaxHoldDays: int32(c.MaxHoldDays),
	}
}

func capsFromPB(c *pb.Capabilities) Capabilities {
	return Capabilities{
		AuthCapture: c.GetAuthCapture(), PartialCapture: c.GetPartialCapture(), Void: c.GetVoid(),
		Refund: c.GetRefund(), PartialRefund: c.GetPartialRefund(), ChargeStoredCredential: c.GetChargeStoredCredential(),
		HostedCheckoutRequired: c.GetHostedCheckoutRequired(), NativeRecurring: c.GetNativeRecurring(),
		WebhookAuth: WebhookAuth(c.GetWebhookAuth()), Currencies: c.GetCurrencies(), MaxHoldDays: int(c.GetMaxHoldDays()),
	}
}

func startToPB(r StartCheckoutRequest) *pb.StartCheckoutRequest {
	out := &pb.StartCheckoutRequest{
		IdempotencyKey: r.IdempotencyKey, CustomerRef: r.CustomerRef, ReturnUrl: r.ReturnURL,
		CancelUrl: r.CancelURL, Purchase: optMoneyToPB(r.Purchase), Description: r.Description, Locale: r.Locale,
	}
	if r.Recurring != nil {
		out.Recurring = &pb.RecurringTerms{Amount: moneyToPB(r.Recurring.Amount), PeriodDays: int32(r.Recurring.PeriodDays)}
	}
	return out
}

func startFromPB(r *pb.StartCheckoutRequest) StartCheckoutRequest {
	out := StartCheckoutRequest{
		IdempotencyKey: r.GetIdempotencyKey(), CustomerRef: r.GetCustomerRef(), ReturnURL: r.GetReturnUrl(),
		CancelURL: r.GetCancelUrl(), Purchase: optMoneyFromPB(r.GetPurchase()), Description: r.GetDescription(), Locale: r.GetLocale(),
	}
	if rt := r.GetRecurring(); rt != nil {
		out.Recurring = &RecurringTerms{Amount: moneyFromPB(rt.GetAmount()), PeriodDays: int(rt.GetPeriodDays())}
	}
	return out
}

func checkoutToPB(c Checkout) *pb.Checkout {
	return &pb.Checkout{Reference: c.Reference, Url: c.URL, Method: c.Method, Fields: c.Fields, ExpiresAt: timeToPB(c.ExpiresAt)}
}

func checkoutFromPB(c *pb.Checkout) Checkout {
	return Checkout{Reference: c.GetReference(), URL: c.GetUrl(), Method: c.GetMethod(), Fields: c.GetFields(), ExpiresAt: timeFromPB(c.GetExpiresAt())}
}

func chargeResultToPB(r ChargeResult) *pb.ChargeResult {
	return &pb.ChargeResult{Reference: r.Reference, Amount: moneyToPB(r.Amount), NewCredential: optCredToPB(r.NewCredential)}
}

func chargeResultFromPB(r *pb.ChargeResult) ChargeResult {
	return ChargeResult{Reference: r.GetReference(), Amount: moneyFromPB(r.GetAmount()), NewCredential: optCredFromPB(r.GetNewCredential())}
}

func checkoutResultToPB(r CheckoutResult) *pb.CheckoutResult {
	out := &pb.CheckoutResult{Credential: optCredToPB(r.Credential), SubscriptionReference: r.SubscriptionReference, Pending: r.Pending}
	if r.Charge != nil {
		out.Charge = chargeResultToPB(*r.Charge)
	}
	return out
}

func checkoutResultFromPB(r *pb.CheckoutResult) CheckoutResult {
	out := CheckoutResult{Credential: optCredFromPB(r.GetCredential()), SubscriptionReference: r.GetSubscriptionReference(), Pending: r.GetPending()}
	if c := r.GetCharge(); c != nil {
		v := chargeResultFromPB(c)
		out.Charge = &v
	}
	return out
}

func httpRequestToPB(r HTTPRequest) *pb.HTTPRequest {
	return &pb.HTTPRequest{
		Method: r.Method, Path: r.Path, Query: valuesToPB(r.Query), Headers: valuesToPB(r.Headers),
		Body: r.Body, RemoteAddr: r.RemoteAddr,
	}
}

func httpRequestFromPB(r *pb.HTTPRequest) HTTPRequest {
	return HTTPRequest{
		Method: r.GetMethod(), Path: r.GetPath(), Query: url.Values(valuesFromPB(r.GetQuery())),
		Headers: http.Header(valuesFromPB(r.GetHeaders())), Body: r.GetBody(), RemoteAddr: r.GetRemoteAddr(),
	}
}

func httpResponseToPB(r HTTPResponse) *pb.HTTPResponse {
	return &pb.HTTPResponse{Status: int32(r.Status), Headers: valuesToPB(r.Headers), Body: r.Body}
}

func httpResponseFromPB(r *pb.HTTPResponse) HTTPResponse {
	return HTTPResponse{Status: int(r.GetStatus()), Headers: http.Header(valuesFromPB(r.GetHeaders())), Body: r.GetBody()}
}

func eventToPB(e Event) *pb.Event {
	return &pb.Event{
		Id: e.ID, Type: string(e.Type), Reference: e.Reference, RelatedReference: e.RelatedReference,
		SubscriptionReference: e.SubscriptionReference, CheckoutReference: e.CheckoutReference,
		CustomerRef: e.CustomerRef, Amount: moneyToPB(e.Amount), Credential: optCredToPB(e.Credential),
		OccurredAt: timeToPB(e.OccurredAt), DeclineCode: string(e.DeclineCode), Reason: e.Reason,
	}
}

func eventFromPB(e *pb.Event) Event {
	return Event{
		ID: e.GetId(), Type: EventType(e.GetType()), Reference: e.GetReference(), RelatedReference: e.GetRelatedReference(),
		SubscriptionReference: e.GetSubscriptionReference(), CheckoutReference: e.GetCheckoutReference(),
		CustomerRef: e.GetCustomerRef(), Amount: moneyFromPB(e.GetAmount()), Credential: optCredFromPB(e.GetCredential()),
		OccurredAt: timeFromPB(e.GetOccurredAt()), DeclineCode: errs.Code(e.GetDeclineCode()), Reason: e.GetReason(),
	}
}

func webhookResultToPB(r WebhookResult) *pb.WebhookResult {
	out := &pb.WebhookResult{Response: httpResponseToPB(r.Response)}
	for _, e := range r.Events {
		out.Events = append(out.Events, eventToPB(e))
	}
	return out
}

func webhookResultFromPB(r *pb.WebhookResult) WebhookResult {
	out := WebhookResult{Response: httpResponseFromPB(r.GetResponse())}
	for _, e := range r.GetEvents() {
		out.Events = append(out.Events, eventFromPB(e))
	}
	return out
}

func reportToPB(r TransactionReport) *pb.TransactionReport {
	out := &pb.TransactionReport{Source: r.Source}
	for _, t := range r.Transactions {
		out.Transactions = append(out.Transactions, &pb.Transaction{Reference: t.Reference, Kind: string(t.Kind),
			Amount: moneyToPB(t.Amount), RelatedReference: t.RelatedReference, OccurredAt: timeToPB(t.OccurredAt)})
	}
	return out
}

func reportFromPB(r *pb.TransactionReport) TransactionReport {
	out := TransactionReport{Source: r.GetSource()}
	for _, t := range r.GetTransactions() {
		out.Transactions = append(out.Transactions, Transaction{Reference: t.GetReference(), Kind: TransactionKind(t.GetKind()),
			Amount: moneyFromPB(t.GetAmount()), RelatedReference: t.GetRelatedReference(), OccurredAt: timeFromPB(t.GetOccurredAt())})
	}
	return out
}
