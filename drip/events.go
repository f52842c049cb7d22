package drip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/queries"
)

// MaxPropertiesBytes bounds an event's properties as stored.
const MaxPropertiesBytes = 64 << 10

// CheckProperties refuses properties too large to store with an enrollment and its messages.
func CheckProperties(props map[string]any) error {
	raw, err := json.Marshal(props)
	if err != nil {
		return err
	}
	if len(raw) > MaxPropertiesBytes {
		return fmt.Errorf("properties: %d bytes, more than %d", len(raw), MaxPropertiesBytes)
	}
	return nil
}

// Incoming is an event as the API or an integration gives it: the contact (created or updated on
// the fly), the event's name and properties, and an optional id that makes redeliveries no-ops.
type Incoming struct {
	Contact    contacts.Row
	Name       string
	Properties map[string]any
	Source     string // "api", "integration:<id>"
	ExternalID string
	// Author writes the contact: by default an event only creates it or fills what it lacks.
	Author contacts.Author
}

// ContactAudit is the "after" of the audit entry of the contact change an event made: what the
// event gave, and whether it could only fill what the contact lacked.
func (in Incoming) ContactAudit() map[string]any {
	return map[string]any{"by_event": in.Name, "source": in.Source, "fill_only": in.Author.Fill, "fields": in.Contact}
}

// Record records an event given by hand (the API, the console) in one transaction with its audit
// entries: the change it made to its contact, if any, and the event's own.
func Record(ctx context.Context, db *pgxpool.Pool, by audit.Actor, in Incoming) (Recorded, error) {
	var rec Recorded
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		var err error
		if rec, err = RecordEvent(ctx, q, by.AccountID, in); err != nil || rec.Duplicate {
			return err
		}
		if rec.ContactChange != "" {
			if err := audit.Record(ctx, q, by, rec.ContactChange, "contact", rec.ContactID, nil, in.ContactAudit()); err != nil {
				return err
			}
		}
		return audit.Record(ctx, q, by, "event.create", "event", rec.EventID, nil, map[string]any{"name": in.Name, "contact_id": rec.ContactID})
	})
	return rec, err
}

// Recorded is what RecordEvent did.
type Recorded struct {
	EventID   int64
	ContactID int64
	Duplicate bool // the same external id was recorded before: nothing was written
	// ContactChange is what the event did to its contact, for the caller's audit entry:
	// "contact.create", "contact.update" (it carried fields to write) or "".
	ContactChange string
}

// RecordEvent upserts the event's contact and stores the event for the scheduler, in q's
// transaction. A contact created on the fly also records contact.created.
func RecordEvent(ctx context.Context, q *queries.Queries, accountID int64, in Incoming) (Recorded, error) {
	var ext *string
	if in.ExternalID != "" {
		ext = &in.ExternalID
		id, err := q.EventByExternalID(ctx, queries.EventByExternalIDParams{AccountID: accountID, Source: in.Source, ExternalID: ext})
		if err == nil {
			return Recorded{EventID: id, Duplicate: true}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return Recorded{}, err
		}
	}
	out, err := contacts.Upsert(ctx, q, accountID, []contacts.Row{in.Contact}, in.Author)
	if err != nil {
		return Recorded{}, err
	}
	contact := out.IDs[in.Contact.Phone]
	change := ""
	switch {
	case out.Created == 1:
		change = "contact.create"
	case in.Contact.Writes():
		change = "contact.update"
	}
	if out.Created == 1 {
		if err := contacts.RecordEvents(ctx, q, accountID, contact, contacts.Event{Name: contacts.EventCreated}); err != nil {
			return Recorded{}, err
		}
	}
	props, err := json.Marshal(in.Properties)
	if err != nil {
		return Recorded{}, err
	}
	if in.Properties == nil {
		props = []byte("{}")
	}
	id, err := q.InsertEvent(ctx, queries.InsertEventParams{AccountID: accountID, ContactID: &contact, Name: in.Name,
		Properties: props, Source: in.Source, ExternalID: ext})
	if errors.Is(err, pgx.ErrNoRows) { // recorded by a concurrent delivery of the same id
		return Recorded{ContactID: contact, Duplicate: true, ContactChange: change}, nil
	}
	return Recorded{EventID: id, ContactID: contact, ContactChange: change}, err
}
