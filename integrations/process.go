package integrations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/queries"
)

// Process turns stored deliveries into contacts and events, each in its own transaction. A
// delivery that cannot be read (no phone, a bad mapping) is kept with its error, visible through
// the API; one that failed on the database stays pending and is tried again on the next tick,
// without holding up the others.
func Process(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	q := queries.New(pool)
	list, err := q.PendingDeliveries(ctx, 500)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, d := range list {
		m, err := read(d)
		if err != nil {
			msg := err.Error()
			if errors.Is(err, ErrIgnored) {
				msg = "ignored: " + msg
			}
			if err := q.FinishDelivery(ctx, queries.FinishDeliveryParams{ID: d.ID, Error: msg}); err != nil {
				return 0, err
			}
			continue
		}
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			qtx := q.WithTx(tx)
			row, err := m.Contact.Normalize(d.DefaultCountry)
			if err != nil {
				return qtx.FinishDelivery(ctx, queries.FinishDeliveryParams{ID: d.ID, Error: err.Error()})
			}
			key := d.DeliveryID
			if m.Key != "" {
				key = m.Key
			}
			actor := "integration:" + strconv.FormatInt(d.IntegrationID, 10)
			in := drip.Incoming{Contact: row, Name: m.Event, Properties: m.Properties, Source: actor, ExternalID: key,
				Author: contacts.Author{By: actor, Fill: !d.OverwriteContacts}}
			rec, err := drip.RecordEvent(ctx, qtx, d.AccountID, in)
			if err != nil {
				return err
			}
			if rec.ContactChange != "" {
				after, _ := json.Marshal(in.ContactAudit())
				if err := qtx.InsertAudit(ctx, queries.InsertAuditParams{AccountID: d.AccountID, ActorName: actor,
					Action: rec.ContactChange, TargetType: "contact", TargetID: &rec.ContactID, After: after}); err != nil {
					return err
				}
			}
			var event *int64
			if rec.EventID != 0 {
				event = &rec.EventID
			}
			return qtx.FinishDelivery(ctx, queries.FinishDeliveryParams{ID: d.ID, EventID: event})
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("delivery %d: %w", d.ID, err))
		}
	}
	return len(list), errors.Join(errs...)
}

// read maps a delivery's payload to a contact and an event.
func read(d queries.PendingDeliveriesRow) (Mapped, error) {
	var payload map[string]any
	if err := json.Unmarshal(d.Payload, &payload); err != nil {
		return Mapped{}, fmt.Errorf("payload: %w", err)
	}
	var out Mapped
	var err error
	if d.Kind == Shopify {
		out, err = ShopifyApply(d.Topic, payload)
	} else {
		var m Mapping
		if err := json.Unmarshal(d.Mapping, &m); err != nil {
			return Mapped{}, fmt.Errorf("mapping: %w", err)
		}
		out, err = m.Apply(payload)
	}
	if err != nil {
		return Mapped{}, err
	}
	return out, drip.CheckProperties(out.Properties)
}
