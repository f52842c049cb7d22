package contacts

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/dripcast/dripcast/queries"
)

// Contact events: a sequence may start on them (its trigger names one).
const (
	EventCreated  = "contact.created"
	EventUpdated  = "contact.updated"
	EventTagAdded = "tag.added"
)

// Event is a change of a contact that may start a sequence.
type Event struct {
	Name       string
	Properties map[string]any
}

// RecordEvents stores contact events, only when an active sequence of the account starts on one
// of them: contact writes stay cheap for accounts that do not use such triggers.
func RecordEvents(ctx context.Context, q *queries.Queries, accountID, contactID int64, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	names := make([]string, len(evs))
	for i, e := range evs {
		names[i] = e.Name
	}
	listening, err := q.SequencesListenFor(ctx, queries.SequencesListenForParams{AccountID: accountID, Events: names})
	if err != nil || !listening {
		return err
	}
	for _, e := range evs {
		props, err := json.Marshal(e.Properties)
		if err != nil {
			return err
		}
		if e.Properties == nil {
			props = []byte("{}")
		}
		if _, err := q.InsertEvent(ctx, queries.InsertEventParams{AccountID: accountID, ContactID: &contactID, Name: e.Name,
			Properties: props, Source: "contact"}); err != nil {
			return err
		}
	}
	return nil
}

// changeEvents are the events an update makes: contact.updated, and tag.added for each new tag.
func changeEvents(before, after queries.Contact) []Event {
	evs := []Event{{Name: EventUpdated}}
	for _, t := range after.Tags {
		if !slices.Contains(before.Tags, t) {
			evs = append(evs, Event{Name: EventTagAdded, Properties: map[string]any{"tag": t}})
		}
	}
	return evs
}
