package fakegw

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type xmlTxn struct {
	XMLName   xml.Name    `xml:"transaction"`
	ID        string      `xml:"transaction_id"`
	Original  string      `xml:"original_transaction_id"`
	Type      string      `xml:"transaction_type"`
	Condition string      `xml:"condition"`
	OrderID   string      `xml:"order_id"`
	VaultID   string      `xml:"customer_vault_id"`
	CCNumber  string      `xml:"cc_number"`
	CCExp     string      `xml:"cc_exp"`
	Currency  string      `xml:"currency"`
	CCBin     string      `xml:"cc_bin"`
	CCType    string      `xml:"cc_type"`
	Actions   []xmlAction `xml:"action"`
}

type xmlAction struct {
	Amount       string `xml:"amount"`
	ActionType   string `xml:"action_type"`
	Date         string `xml:"date"`
	Success      string `xml:"success"`
	ResponseText string `xml:"response_text"`
	ResponseCode string `xml:"response_code"`
}

type xmlCustomer struct {
	XMLName  xml.Name `xml:"customer"`
	ID       string   `xml:"id,attr"`
	VaultID  string   `xml:"customer_vault_id"`
	CCNumber string   `xml:"cc_number"`
	CCExp    string   `xml:"cc_exp"`
	CCBin    string   `xml:"cc_bin"`
	CCType   string   `xml:"cc_type"`
}

// xmasked is a card number as query.php shows it: 4xxxxxxxxxxx1111.
func xmasked(n string) string {
	if len(n) < 5 {
		return n
	}
	return n[:1] + strings.Repeat("x", len(n)-5) + n[len(n)-4:]
}

// query serves query.php: one transaction (transaction_id), an order
// (order_id), a date range of actions (start_date/end_date, inclusive,
// YYYYMMDDhhmmss) a page at a time (result_limit, page_number from 0), or a
// vault entry (report_type=customer_vault).
func (f *Gateway) query(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Queries = append(f.Queries, r.Form)
	w.Header().Set("Content-Type", "text/xml; charset=UTF-8")
	errorAnswer := func(text string) {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><nm_response><error_response>%s</error_response></nm_response>`, text)
	}
	if r.Form.Get("security_key") != f.Key {
		errorAnswer("Invalid Security Key")
		return
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<nm_response>\n")
	write := func(v any) {
		out, err := xml.MarshalIndent(v, " ", " ")
		if err != nil {
			f.t.Error(err)
		}
		b.Write(out)
		b.WriteString("\n")
	}
	if r.Form.Get("report_type") == "customer_vault" {
		id := r.Form.Get("customer_vault_id")
		if c, ok := f.Vault[id]; ok {
			b.WriteString("<customer_vault>\n")
			write(xmlCustomer{ID: id, VaultID: id, CCNumber: xmasked(c.Number), CCExp: c.Exp, CCBin: bin(c.Number), CCType: cardType(c.Number)})
			b.WriteString("</customer_vault>\n")
		}
		b.WriteString("</nm_response>\n")
		fmt.Fprint(w, b.String())
		return
	}
	var from, to time.Time
	for name, dst := range map[string]*time.Time{"start_date": &from, "end_date": &to} {
		if s := r.Form.Get(name); s != "" {
			t, err := time.Parse("20060102150405", s)
			if err != nil {
				errorAnswer("Invalid " + name + " format REFID:8")
				return
			}
			*dst = t
		}
	}
	limit, page := 0, 0
	if s := r.Form.Get("result_limit"); s != "" {
		limit, _ = strconv.Atoi(s)
		page, _ = strconv.Atoi(r.Form.Get("page_number"))
	}
	n := 0
	for _, id := range f.order {
		tx := f.Txns[id]
		if o := r.Form.Get("order_id"); o != "" && tx.OrderID != o {
			continue
		}
		if t := r.Form.Get("transaction_id"); t != "" && tx.ID != t {
			continue
		}
		if !from.IsZero() || !to.IsZero() {
			in := false
			for _, a := range tx.Actions {
				at, err := time.Parse("20060102150405", a.Date)
				in = in || err == nil && (from.IsZero() || !at.Before(from)) && (to.IsZero() || !at.After(to))
			}
			if !in {
				continue
			}
		}
		n++
		if limit > 0 && (n <= page*limit || n > (page+1)*limit) {
			continue
		}
		c := f.Vault[tx.VaultID]
		x := xmlTxn{ID: tx.ID, Original: tx.Original, Type: "cc", Condition: tx.Condition, OrderID: tx.OrderID, VaultID: tx.VaultID,
			CCNumber: xmasked(c.Number), CCExp: c.Exp, Currency: tx.Currency, CCBin: bin(c.Number), CCType: cardType(c.Number)}
		for _, a := range tx.Actions {
			x.Actions = append(x.Actions, xmlAction{a.Amount, a.Type, a.Date, a.Success, a.Text, a.Code})
		}
		write(x)
	}
	b.WriteString("</nm_response>\n")
	fmt.Fprint(w, b.String())
}
