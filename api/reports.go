package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/costs"
	"github.com/dripcast/dripcast/exports"
	"github.com/dripcast/dripcast/queries"
)

// broadcastReport is the funnel, progress and ETA of a broadcast, counted from its messages (so
// it is always exact).
func (s *Server) broadcastReport(w http.ResponseWriter, r *http.Request) error {
	b, err := s.loadBroadcast(r)
	if err != nil {
		return err
	}
	report, err := broadcast.LoadReport(r.Context(), s.read, b)
	if err != nil {
		return err
	}
	billing, err := costs.OfBroadcast(r.Context(), s.read, b.AccountID, b.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"broadcast": broadcast.ViewOf(b), "report": report, "billing": billing})
	return nil
}

// accountCosts is the account's billable messages and their estimated cost per UTC day, from
// ?from= to ?to= (both included; the last 30 days by default).
func (s *Server) accountCosts(w http.ResponseWriter, r *http.Request) error {
	today := time.Now().UTC()
	from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
	if from == "" {
		from = today.AddDate(0, 0, -29).Format(time.DateOnly)
	}
	if to == "" {
		to = today.Format(time.DateOnly)
	}
	days, err := costs.Daily(r.Context(), s.read, caller(r.Context()).AccountID, from, to)
	if err != nil {
		return err
	}
	// Not "to": that key holds a recipient's number in Meta's payloads, and analysts see it masked.
	writeJSON(w, http.StatusOK, map[string]any{"first_day": from, "last_day": to, "days": days})
	return nil
}

func (s *Server) getPrices(w http.ResponseWriter, r *http.Request) error {
	list, err := costs.Prices(r.Context(), s.q, caller(r.Context()).AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// putPrices replaces the account's price list.
func (s *Server) putPrices(w http.ResponseWriter, r *http.Request) error {
	var in costs.PriceList
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	list, err := costs.SetPrices(r.Context(), s.db, caller(r.Context()).actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

type recipientView struct {
	MessageID   int64      `json:"message_id"`
	ContactID   int64      `json:"contact_id"`
	Phone       string     `json:"phone"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Reason      string     `json:"reason,omitempty"`
	ErrorCode   int32      `json:"error_code,omitempty"`
	DueAt       time.Time  `json:"due_at"`
	SentAt      *time.Time `json:"sent_at"`
	DeliveredAt *time.Time `json:"delivered_at"`
	ReadAt      *time.Time `json:"read_at"`
	FailedAt    *time.Time `json:"failed_at"`
	RepliedAt   *time.Time `json:"replied_at"`
	// RetryAttempts is how many retries the broadcast's retry policy made, the last at LastRetriedAt.
	RetryAttempts int32      `json:"retry_attempts"`
	LastRetriedAt *time.Time `json:"last_retried_at"`
}

// broadcastRecipients lists each recipient's message, filtered by ?status=, as JSON pages or (with
// ?format=csv) as one CSV file of every recipient.
func (s *Server) broadcastRecipients(w http.ResponseWriter, r *http.Request) error {
	b, err := s.loadBroadcast(r)
	if err != nil {
		return err
	}
	params := queries.ListRecipientsParams{AccountID: b.AccountID, BroadcastID: &b.ID}
	if params.Status, err = broadcast.StatusFilter(r.URL.Query().Get("status")); err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "csv" {
		return s.recipientsCSV(w, r, b, params.Status)
	}
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	params.After, params.Lim = after, int32(limit+1)
	rows, err := s.read.ListRecipients(r.Context(), params)
	if err != nil {
		return err
	}
	views := make([]recipientView, len(rows))
	for i, row := range rows {
		views[i] = recipientView{row.ID, row.ContactID, row.Phone, row.Name, string(row.Status), row.Reason, row.ErrorCode,
			row.DueAt, row.SentAt, row.DeliveredAt, row.ReadAt, row.FailedAt, row.RepliedAt, row.RetriesMade, broadcast.LastRetriedAt(row)}
	}
	writeJSON(w, http.StatusOK, newPage(views, limit, func(v recipientView) int64 { return v.MessageID }))
	return nil
}

// recipientsCSV streams every recipient as CSV (the masking writer masks it for analysts), unless
// the account wants such exports approved (then: POST /v1/exports).
func (s *Server) recipientsCSV(w http.ResponseWriter, r *http.Request, b queries.Broadcast, status *queries.MessageStatus) error {
	if err := exports.Direct(r.Context(), s.q, caller(r.Context()).asker()); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Content-Disposition", `attachment; filename="broadcast-`+strconv.FormatInt(b.ID, 10)+`-recipients.csv"`)
	return broadcast.ExportRecipients(r.Context(), s.q, s.read, caller(r.Context()).actor(), w, b, status, false)
}
