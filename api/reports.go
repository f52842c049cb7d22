package api

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/queries"
)

// broadcastReport is the funnel, progress and ETA of a broadcast, counted from its messages (so
// it is always exact).
func (s *Server) broadcastReport(w http.ResponseWriter, r *http.Request) error {
	b, err := s.loadBroadcast(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	rows, err := s.q.BroadcastFunnel(ctx, queries.BroadcastFunnelParams{AccountID: b.AccountID, BroadcastID: &b.ID})
	if err != nil {
		return err
	}
	pace, err := s.q.SentInLastMinute(ctx, queries.SentInLastMinuteParams{AccountID: b.AccountID, BroadcastID: &b.ID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"broadcast": broadcast.ViewOf(b), "report": broadcast.NewReport(rows, pace)})
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
}

var messageStatuses = []string{"pending", "queued", "sending", "sent", "delivered", "read", "failed", "skipped", "unknown"}

// broadcastRecipients lists each recipient's message, filtered by ?status=, as JSON pages or (with
// ?format=csv) as one CSV file of every recipient.
func (s *Server) broadcastRecipients(w http.ResponseWriter, r *http.Request) error {
	b, err := s.loadBroadcast(r)
	if err != nil {
		return err
	}
	params := queries.ListRecipientsParams{AccountID: b.AccountID, BroadcastID: &b.ID}
	if st := r.URL.Query().Get("status"); st != "" {
		if !slices.Contains(messageStatuses, st) {
			return errValidation("status", "status must be one of %s", strings.Join(messageStatuses, ", "))
		}
		ms := queries.MessageStatus(st)
		params.Status = &ms
	}
	if r.URL.Query().Get("format") == "csv" {
		return s.recipientsCSV(w, r, params)
	}
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	params.After, params.Lim = after, int32(limit+1)
	rows, err := s.q.ListRecipients(r.Context(), params)
	if err != nil {
		return err
	}
	views := make([]recipientView, len(rows))
	for i, row := range rows {
		views[i] = recipientView{row.ID, row.ContactID, row.Phone, row.Name, string(row.Status), row.Reason, row.ErrorCode,
			row.DueAt, row.SentAt, row.DeliveredAt, row.ReadAt, row.FailedAt, row.RepliedAt}
	}
	writeJSON(w, http.StatusOK, newPage(views, limit, func(v recipientView) int64 { return v.MessageID }))
	return nil
}

// recipientsCSV streams every recipient, a page of rows at a time. Free-text cells that a
// spreadsheet would run as a formula are neutralized.
func (s *Server) recipientsCSV(w http.ResponseWriter, r *http.Request, params queries.ListRecipientsParams) error {
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Content-Disposition", `attachment; filename="broadcast-`+strconv.FormatInt(*params.BroadcastID, 10)+`-recipients.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"phone", "name", "status", "reason", "error_code", "sent_at", "delivered_at", "read_at", "failed_at", "replied_at"})
	params.Lim = 5000
	for {
		rows, err := s.q.ListRecipients(r.Context(), params)
		if err != nil {
			return err
		}
		for _, row := range rows {
			code := ""
			if row.ErrorCode != 0 {
				code = strconv.Itoa(int(row.ErrorCode))
			}
			_ = cw.Write([]string{safeCell(row.Phone), safeCell(row.Name), string(row.Status), row.Reason, code, stamp(row.SentAt),
				stamp(row.DeliveredAt), stamp(row.ReadAt), stamp(row.FailedAt), stamp(row.RepliedAt)})
			params.After = row.ID
		}
		if len(rows) < int(params.Lim) {
			break
		}
	}
	cw.Flush()
	return cw.Error()
}

// safeCell keeps a spreadsheet from running a cell as a formula.
func safeCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
