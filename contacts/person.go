package contacts

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/ratelimit"
)

// Export is everything Dripcast holds about one person (GDPR, DPDP access): the contact, their
// consent history, every message with what it carried, their enrollments and their events.
type Export struct {
	Contact     View               `json:"contact"`
	Consent     []ExportedConsent  `json:"consent"`
	Messages    []ExportedMessage  `json:"messages"`
	Enrollments []ExportedEnrolled `json:"enrollments"`
	Events      []ExportedEvent    `json:"events"`
	ExportedAt  time.Time          `json:"exported_at"`
}

// The export's parts: the queries' rows, named for JSON.
type (
	ExportedConsent struct {
		OptedIn bool      `json:"opted_in"`
		Source  string    `json:"source"`
		SetBy   string    `json:"set_by"`
		At      time.Time `json:"at"`
	}
	ExportedMessage struct {
		ID           int64                 `json:"id"`
		BroadcastID  *int64                `json:"broadcast_id"`
		EnrollmentID *int64                `json:"enrollment_id"`
		Step         *int16                `json:"step"`
		Template     string                `json:"template"`
		Status       queries.MessageStatus `json:"status"`
		Reason       string                `json:"reason"`
		ErrorCode    *int32                `json:"error_code"`
		DueAt        time.Time             `json:"due_at"`
		SentAt       *time.Time            `json:"sent_at"`
		DeliveredAt  *time.Time            `json:"delivered_at"`
		ReadAt       *time.Time            `json:"read_at"`
		FailedAt     *time.Time            `json:"failed_at"`
		RepliedAt    *time.Time            `json:"replied_at"`
		OptedOutAt   *time.Time            `json:"opted_out_at"`
		Context      json.RawMessage       `json:"context"` // a drip step's parameters and event
	}
	ExportedEnrolled struct {
		ID         int64                    `json:"id"`
		SequenceID int64                    `json:"sequence_id"`
		Sequence   string                   `json:"sequence"`
		Status     queries.EnrollmentStatus `json:"status"`
		ExitReason string                   `json:"exit_reason"`
		Properties json.RawMessage          `json:"properties"`
		EnrolledAt time.Time                `json:"enrolled_at"`
		FinishedAt *time.Time               `json:"finished_at"`
	}
	ExportedEvent struct {
		ID         int64           `json:"id"`
		Name       string          `json:"name"`
		Properties json.RawMessage `json:"properties"`
		Source     string          `json:"source"`
		ReceivedAt time.Time       `json:"received_at"`
	}
)

// converted turns rows into their exported form (the same fields, with JSON names).
func converted[T, R any](rows []R, conv func(R) T) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = conv(r)
	}
	return out
}

// ExportOf gathers a contact's data, as one snapshot; the export is audited (without the data).
func ExportOf(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64) (Export, error) {
	var out Export
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		q := queries.New(tx)
		c, err := Get(ctx, q, by.AccountID, id)
		if err != nil {
			return err
		}
		out.Contact, out.ExportedAt = ViewOf(c), time.Now()
		consent, err := q.ExportConsent(ctx, queries.ExportConsentParams{AccountID: by.AccountID, ContactID: id})
		if err != nil {
			return err
		}
		messages, err := q.ExportMessages(ctx, queries.ExportMessagesParams{AccountID: by.AccountID, ContactID: id})
		if err != nil {
			return err
		}
		enrolled, err := q.ExportEnrollments(ctx, queries.ExportEnrollmentsParams{AccountID: by.AccountID, ContactID: id})
		if err != nil {
			return err
		}
		events, err := q.ExportEvents(ctx, queries.ExportEventsParams{AccountID: by.AccountID, ContactID: &id})
		if err != nil {
			return err
		}
		out.Consent = converted(consent, func(r queries.ExportConsentRow) ExportedConsent { return ExportedConsent(r) })
		out.Messages = converted(messages, func(r queries.ExportMessagesRow) ExportedMessage { return ExportedMessage(r) })
		out.Enrollments = converted(enrolled, func(r queries.ExportEnrollmentsRow) ExportedEnrolled { return ExportedEnrolled(r) })
		out.Events = converted(events, func(r queries.ExportEventsRow) ExportedEvent { return ExportedEvent(r) })
		return audit.Record(ctx, q, by, "contact.export", "contact", id, nil, nil)
	})
	return out, err
}

// Erase removes a person's personal data everywhere Dripcast keeps it (GDPR, DPDP erasure): the
// contact's fields, the parameters and event properties their messages, enrollments and events
// carried, the integration deliveries, import rejects, audit entries and pasted audiences that
// hold their number or email, and the limiter's state in Redis. Rows stay, anonymised, so counts
// and funnels are unchanged; nothing is sent to them after (their unsent messages are skipped,
// their enrollments exit, both with reason erased). The erasure is audited without the data. A
// later import of the number makes a new contact. Redis is cleaned after Postgres commits; should
// that fail, what it holds of the person expires within a day (the tier) or seconds (the pair).
func Erase(ctx context.Context, db *pgxpool.Pool, rdb redis.UniversalClient, by audit.Actor, id int64) error {
	var digits string
	var numbers []ratelimit.Number
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		c, err := q.LockContact(ctx, queries.LockContactParams{AccountID: by.AccountID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return invalid.NotFound("contact")
		}
		if err != nil {
			return err
		}
		if c.ErasedAt != nil {
			return invalid.Conflict("the contact was erased already")
		}
		digits = strings.TrimPrefix(c.Phone, "+")
		p := queries.EraseEventsParams{AccountID: by.AccountID, ContactID: &id, Digits: digits, Email: c.Email}
		steps := []func() error{
			func() error {
				return q.EraseMessages(ctx, queries.EraseMessagesParams{AccountID: by.AccountID, ContactID: id})
			},
			func() error {
				return q.EraseEnrollments(ctx, queries.EraseEnrollmentsParams{AccountID: by.AccountID, ContactID: id})
			},
			func() error { return q.EraseEvents(ctx, p) },
			func() error {
				return q.EraseImportRejects(ctx, queries.EraseImportRejectsParams{AccountID: by.AccountID, Digits: digits, Email: c.Email})
			},
			func() error {
				return q.EraseAuditData(ctx, queries.EraseAuditDataParams{AccountID: by.AccountID, ContactID: &id, Digits: digits, Email: c.Email})
			},
			func() error {
				return q.EraseFromAudiences(ctx, queries.EraseFromAudiencesParams{AccountID: by.AccountID, Phone: c.Phone})
			},
			func() error { return q.EraseContact(ctx, queries.EraseContactParams{AccountID: by.AccountID, ID: id}) },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		rows, err := q.AccountNumbers(ctx, by.AccountID)
		if err != nil {
			return err
		}
		for _, r := range rows {
			numbers = append(numbers, ratelimit.Number{Portfolio: r.PortfolioID, PhoneNumberID: r.PhoneNumberID})
		}
		after, _ := json.Marshal(map[string]any{"erased": true})
		return audit.Record(ctx, q, by, "contact.erase", "contact", id, nil, json.RawMessage(after))
	})
	if err != nil {
		return err
	}
	return ratelimit.Forget(ctx, rdb, numbers, digits)
}
