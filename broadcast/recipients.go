package broadcast

import (
	"context"
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/spreadsheet"
)

// MessageStatuses are the statuses recipients can be filtered by.
var MessageStatuses = []string{"pending", "queued", "sending", "sent", "delivered", "read", "failed", "skipped", "unknown", "not_sent"}

// StatusFilter reads a recipients filter ("" is every status).
func StatusFilter(st string) (*queries.MessageStatus, error) {
	if st == "" {
		return nil, nil
	}
	if !slices.Contains(MessageStatuses, st) {
		return nil, invalid.Field("status", "status must be one of %s", strings.Join(MessageStatuses, ", "))
	}
	ms := queries.MessageStatus(st)
	return &ms, nil
}

// ExportRecipients writes every recipient of b (of one status, when status is set) as CSV, a page
// of rows at a time, after an audit entry: who took the list. Free-text cells that a spreadsheet
// would run as a formula are neutralized; with masked, phone numbers are masked (an analyst's
// download). The audit entry goes through q (the primary), the rows are read through read (a
// replica's queries, or q).
func ExportRecipients(ctx context.Context, q, read *queries.Queries, by audit.Actor, w io.Writer, b queries.Broadcast,
	status *queries.MessageStatus, masked bool) error {
	if err := audit.Record(ctx, q, by, "broadcast.export_recipients", "broadcast", b.ID, nil, map[string]any{"status": status}); err != nil {
		return err
	}
	params := queries.ListRecipientsParams{AccountID: b.AccountID, BroadcastID: &b.ID, Status: status}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"phone", "name", "status", "reason", "error_code", "sent_at", "delivered_at", "read_at", "failed_at", "replied_at",
		"retried", "retry_attempts", "last_retried_at"})
	params.Lim = 5000
	for {
		rows, err := read.ListRecipients(ctx, params)
		if err != nil {
			return err
		}
		for _, row := range rows {
			code := ""
			if row.ErrorCode != 0 {
				code = strconv.Itoa(int(row.ErrorCode))
			}
			number := row.Phone
			if masked {
				number = phone.Mask(number)
			}
			_ = cw.Write([]string{spreadsheet.SafeCell(number), spreadsheet.SafeCell(row.Name), string(row.Status), row.Reason, code, stamp(row.SentAt),
				stamp(row.DeliveredAt), stamp(row.ReadAt), stamp(row.FailedAt), stamp(row.RepliedAt),
				strconv.FormatBool(row.RetriesMade > 0), strconv.Itoa(int(row.RetriesMade)), stamp(LastRetriedAt(row))})
			params.After = row.ID
		}
		if len(rows) < int(params.Lim) {
			break
		}
	}
	cw.Flush()
	return cw.Error()
}

// LastRetriedAt is when the recipient's last retry went: its current attempt, once made (not
// waiting, nor skipped), or else the previous one (nil when no retry was made).
func LastRetriedAt(r queries.ListRecipientsRow) *time.Time {
	switch {
	case r.RetriesMade == 0:
		return nil
	case r.Status == queries.MessageStatusPending || r.Status == queries.MessageStatusQueued || r.Status == queries.MessageStatusSkipped:
		return r.PreviousAttemptAt
	}
	return r.AttemptAt
}

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
