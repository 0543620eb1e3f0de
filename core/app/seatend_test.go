package app_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/money"
)

// billed makes the seat billable: the model's media flows and the viewer is
// connected (what the SFU reports; the seat end is what these tests are
// about), for a little over a second of real time.
func (w *world) billed(seat string) {
	now := time.Now()
	w.app.Shows.Liveness(stream.ModelMediaFlowing{ShowID: w.showID, Since: now})
	w.app.Shows.Liveness(stream.ViewerConnected{ShowID: w.showID, SeatID: seat, At: now})
	time.Sleep(1500 * time.Millisecond)
}

// endsAtOnce sends n API ends of seat by b at the same instant and returns
// the answers in order.
func (b *browser) endsAtOnce(seat string, n int) []resp {
	t := b.s.t
	t.Helper()
	token := b.csrf()
	out := make([]resp, n)
	errsOut := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		req, _ := http.NewRequest(http.MethodPost, b.s.url+web.APIBase+"/seats/"+seat+"/end", nil)
		req.Header.Set("X-CSRF-Token", token)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := b.c.Do(req)
			if err != nil {
				errsOut[i] = err
				return
			}
			defer r.Body.Close()
			body, _ := io.ReadAll(r.Body)
			out[i] = resp{code: r.StatusCode, body: string(body), hdr: r.Header}
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errsOut {
		if err != nil {
			t.Fatalf("end %d: %v", i, err)
		}
	}
	return out
}

type receiptJSON struct {
	SeatID          string      `json:"seat_id"`
	ClosedAt        time.Time   `json:"closed_at"`
	CloseReason     string      `json:"close_reason"`
	BillableSeconds int64       `json:"billable_seconds"`
	Price           money.Money `json:"price"`
	Funded          money.Money `json:"funded"`
	ProcessorCalls  []struct {
		Key, Op, State string
		Amount         money.Money
	} `json:"processor_calls"`
}

// settledOnce checks the receipt's processor calls (from billing's intent
// log) and the ledger: one capture of the price, booked once.
func (w *world) settledOnce(r receiptJSON) {
	t := w.t
	t.Helper()
	captures := 0
	for _, c := range r.ProcessorCalls {
		if c.Op == "capture" {
			captures++
			if c.State != "succeeded" || c.Amount != r.Price {
				t.Fatalf("capture %+v, want %v succeeded", c, r.Price)
			}
		}
	}
	if captures != 1 || r.Price.Amount <= 0 {
		t.Fatalf("%d captures of %v: want one of a price above zero\n%+v", captures, r.Price, r.ProcessorCalls)
	}
	ctx := context.Background()
	var booked int64
	for _, code := range []string{"platform:revenue", "model:" + w.modelID + ":earnings"} {
		b, err := w.app.Ledger.Balance(ctx, code, "USD")
		if err != nil {
			t.Fatalf("balance %s: %v", code, err)
		}
		booked += b.Posted().Amount
	}
	if booked != r.Price.Amount {
		t.Fatalf("revenue and earnings hold %d, want the price %v once", booked, r.Price)
	}
	if rep, err := w.app.Ledger.Verify(ctx); err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %v %+v", err, rep.Faults)
	}
}

// Issue 10, symptom 7: a double end answers twice the same. Two ends at
// once and one after them, through the API, get the one receipt (and so
// does the model's); the card was captured once.
func TestSeatEnd_DoubleEndThroughTheAPI_SameReceiptCapturedOnce(t *testing.T) {
	w := newWorld(t)
	seat := w.openSeat()
	w.billed(seat)

	ends := w.alice.endsAtOnce(seat, 2)
	ends = append(ends, w.alice.api(http.MethodPost, "/seats/"+seat+"/end", nil, ""))
	// The model's end answers the same receipt, with the platform's
	// allocation the viewer's copy leaves out.
	var mine, hers map[string]any
	w.model.api(http.MethodPost, "/seats/"+seat+"/end", nil, "").must(t, http.StatusOK, "the model's end").json(t, &hers)
	ends[0].json(t, &mine)
	if a, _ := hers["allocation"].([]any); len(a) == 0 {
		t.Fatalf("the model's receipt lacks the allocation: %v", hers)
	}
	if _, ok := mine["allocation"]; ok || mine["minimum_applied"] == nil {
		t.Fatalf("the viewer's receipt: allocation %v, minimum_applied %v", mine["allocation"], mine["minimum_applied"])
	}
	if hers["price"].(map[string]any)["amount"] != mine["price"].(map[string]any)["amount"] || hers["show_id"] != w.showID || mine["show_id"] != w.showID {
		t.Fatalf("the model's and the viewer's receipts disagree: %v / %v, show %v / %v (want %s)", hers["price"], mine["price"], hers["show_id"], mine["show_id"], w.showID)
	}
	w.admin.api(http.MethodGet, "/receipts/"+seat, nil, "").must(t, http.StatusOK, "the admin's copy").json(t, &hers)
	if a, _ := hers["allocation"].([]any); len(a) == 0 {
		t.Fatalf("the admin's receipt lacks the allocation: %v", hers)
	}
	for i, r := range ends {
		r.must(t, http.StatusOK, "end "+strconv.Itoa(i))
		if r.body != ends[0].body {
			t.Fatalf("end %d answered another receipt:\n%s\nwant\n%s", i, r.body, ends[0].body)
		}
	}
	var rec receiptJSON
	ends[0].json(t, &rec)
	if rec.SeatID != seat || rec.CloseReason != "viewer" || rec.BillableSeconds < 1 {
		t.Fatalf("receipt %+v", rec)
	}
	w.settledOnce(rec)
	// The page's form too: the receipt, not an error.
	r := w.alice.form("/seats/"+seat+"/end", nil, true).must(t, http.StatusSeeOther, "form end after the end")
	if loc := r.hdr.Get("Location"); loc != "/receipts/"+seat {
		t.Fatalf("form end sent the viewer to %q", loc)
	}
	w.alice.get("/receipts/"+seat).must(t, http.StatusOK, "receipt page")
}

// Issue 10, symptom 7: ending a seat while the processor plugin restarts.
// The sandbox process is killed (-9) and its binary taken away so it cannot
// come back yet. The ends (two at once, a repeat, the page's form) answer
// 202 "settling" with the close decision and a Retry-After, never a 503
// naming a socket; once the binary is back the plugin restarts and billing
// settles the seat by itself (nobody ends it again); then the end answers
// 200 with the receipt, and the seat was captured and booked once.
func TestSeatEnd_WhileTheProcessorPluginRestarts_SettlingThenReceiptSettledOnce(t *testing.T) {
	dir := t.TempDir()
	sandbox := filepath.Join(dir, "processor-sandbox")
	built := testbin.Plugin(t, "processor-sandbox")
	link := func() {
		if err := os.Symlink(built, sandbox); err != nil {
			t.Fatal(err)
		}
	}
	link()
	s := newSiteWith(t, storetest.Postgres(t), nil, siteOptions{PluginPath: func(file string) string {
		if file == "processor-sandbox" {
			return sandbox
		}
		return testbin.Plugin(t, file)
	}})
	w := newWorldOn(t, s)
	seat := w.openSeat()
	w.billed(seat)

	var in *pluginhost.Instance
	for _, i := range s.host.Instances() {
		if i.Spec().Name == "sandbox" {
			in = i
		}
	}
	if in == nil {
		t.Fatal("no sandbox plugin instance")
	}
	pid := in.Status().PID
	must(t, os.Remove(sandbox))
	must(t, syscall.Kill(pid, syscall.SIGKILL))
	deadline := time.Now().Add(5 * time.Second)
	for in.Status().Healthy {
		if time.Now().After(deadline) {
			t.Fatal("the killed plugin still answers")
		}
		time.Sleep(20 * time.Millisecond)
	}

	ends := w.alice.endsAtOnce(seat, 2)
	ends = append(ends, w.alice.api(http.MethodPost, "/seats/"+seat+"/end", nil, ""))
	for i, r := range ends {
		r.must(t, http.StatusAccepted, "end "+strconv.Itoa(i)+" while the plugin is down")
		noInternals(t, r.body)
		if secs, err := strconv.Atoi(r.hdr.Get("Retry-After")); err != nil || secs < 1 {
			t.Fatalf("end %d: Retry-After %q", i, r.hdr.Get("Retry-After"))
		}
		if r.body != ends[0].body {
			t.Fatalf("end %d answered otherwise:\n%s\nwant\n%s", i, r.body, ends[0].body)
		}
	}
	var st struct {
		receiptJSON
		State string `json:"state"`
	}
	ends[0].json(t, &st)
	if st.State != "settling" || st.SeatID != seat || st.CloseReason != "viewer" || st.BillableSeconds < 1 || st.Price.Amount <= 0 ||
		st.Funded.Amount < st.Price.Amount || st.ClosedAt.IsZero() {
		t.Fatalf("settling answer %s", ends[0].body)
	}
	// The page's form: the viewer goes to her receipt, which is being written.
	r := w.alice.form("/seats/"+seat+"/end", nil, true).must(t, http.StatusSeeOther, "form end while the plugin is down")
	if loc := r.hdr.Get("Location"); loc != "/receipts/"+seat {
		t.Fatalf("form end sent the viewer to %q", loc)
	}
	page := w.alice.get("/receipts/"+seat).must(t, http.StatusAccepted, "receipt page while settling")
	noInternals(t, page.body)
	if !strings.Contains(page.body, "The payment is still settling") {
		t.Fatalf("the receipt page does not say the payment is settling:\n%s", page.body)
	}

	link() // the plugin can start again; billing retries on its own
	var rec resp
	deadline = time.Now().Add(90 * time.Second)
	for {
		rec = w.alice.api(http.MethodGet, "/receipts/"+seat, nil, "")
		if rec.code == http.StatusOK {
			break
		}
		noInternals(t, rec.body)
		if time.Now().After(deadline) {
			t.Fatalf("not settled 90 s after the plugin could restart: %d %s (plugin %+v)", rec.code, rec.body, in.Status())
		}
		time.Sleep(250 * time.Millisecond)
	}
	end := w.alice.api(http.MethodPost, "/seats/"+seat+"/end", nil, "").must(t, http.StatusOK, "end once settled")
	if end.body != rec.body {
		t.Fatalf("end once settled answered another receipt:\n%s\nwant\n%s", end.body, rec.body)
	}
	var got receiptJSON
	end.json(t, &got)
	if !got.ClosedAt.Equal(st.ClosedAt) || got.BillableSeconds != st.BillableSeconds || got.Price != st.Price || got.Funded != st.Funded {
		t.Fatalf("receipt %+v differs from the decision announced while settling %+v", got, st.receiptJSON)
	}
	w.settledOnce(got)
}

// noInternals fails when a client-visible body names the host's machinery.
func noInternals(t *testing.T, body string) {
	t.Helper()
	for _, bad := range []string{"unix", ".sock", "/tmp/", "rpc error", "dial ", "transport", "plugin", "SQLSTATE", "goroutine"} {
		if strings.Contains(body, bad) {
			t.Fatalf("a client-visible answer contains %q:\n%s", bad, body)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
