package api

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/integrations"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/secrets"
)

// MaxHookBytes bounds one integration delivery (Shopify orders with many lines stay well under it).
const MaxHookBytes = 512 << 10

// eventInput is the body of POST /v1/events.
type eventInput struct {
	Contact        contacts.Input `json:"contact"`
	DefaultCountry string         `json:"default_country"`
	Name           string         `json:"name"`
	Properties     map[string]any `json:"properties"`
	ID             string         `json:"id"` // optional: the same id again is accepted once
}

// createEvent records an event for a contact (created or updated on the fly); the scheduler
// enrolls and exits sequences from it within a second or two. An integration key's event only
// creates its contact or fills what it lacks (no rename, no change of consent); the roles that
// may edit contacts write them whole. Each contact change is audited as one.
func (s *Server) createEvent(w http.ResponseWriter, r *http.Request) error {
	var in eventInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	if !drip.ValidEventName(in.Name) {
		return errValidation("name", `name the event in lower case, such as "order.placed"`)
	}
	if len(in.ID) > integrations.MaxDeliveryID {
		return errValidation("id", "id is at most %d characters", integrations.MaxDeliveryID)
	}
	if err := drip.CheckProperties(in.Properties); err != nil {
		return errValidation("properties", "%s", err.Error())
	}
	row, err := in.Contact.Normalize(in.DefaultCountry)
	if err != nil {
		return invalid.Within("contact", contacts.FieldError(err))
	}
	p := caller(r.Context())
	author := contacts.AuthorOf(p.actor())
	author.Fill = p.Role == "integration"
	rec, err := drip.Record(r.Context(), s.db, p.actor(), drip.Incoming{Contact: row, Name: in.Name, Properties: in.Properties,
		Source: "api", ExternalID: in.ID, Author: author})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"event_id": rec.EventID, "contact_id": rec.ContactID, "duplicate": rec.Duplicate})
	return nil
}

func (s *Server) createIntegration(w http.ResponseWriter, r *http.Request) error {
	var in integrations.Input
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	view, err := integrations.Create(r.Context(), s.db, s.opts.Secrets, caller(r.Context()).actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

func (s *Server) loadIntegration(r *http.Request) (queries.Integration, error) {
	id, err := pathID(r, "integration")
	if err != nil {
		return queries.Integration{}, err
	}
	return integrations.Get(r.Context(), s.q, caller(r.Context()).AccountID, id)
}

func (s *Server) getIntegration(w http.ResponseWriter, r *http.Request) error {
	i, err := s.loadIntegration(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, integrations.ViewOf(i))
	return nil
}

func (s *Server) listIntegrations(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Integration, error) {
		return s.q.ListIntegrations(r.Context(), queries.ListIntegrationsParams{AccountID: account, After: after, Lim: lim})
	}, infallible(integrations.ViewOf), func(v integrations.View) int64 { return v.ID })
}

func (s *Server) updateIntegration(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "integration")
	if err != nil {
		return err
	}
	var in integrations.Input
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	view, err := integrations.Update(r.Context(), s.db, s.opts.Secrets, caller(r.Context()).actor(), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "integration")
	if err != nil {
		return err
	}
	if err := integrations.Delete(r.Context(), s.db, caller(r.Context()).actor(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type deliveryView struct {
	ID          int64      `json:"id"`
	DeliveryID  string     `json:"delivery_id"`
	Topic       string     `json:"topic"`
	ReceivedAt  time.Time  `json:"received_at"`
	ProcessedAt *time.Time `json:"processed_at"`
	EventID     *int64     `json:"event_id"`
	Error       string     `json:"error"`
}

// listDeliveries shows what an integration received and what became of it.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	i, err := s.loadIntegration(r)
	if err != nil {
		return err
	}
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.ListDeliveriesRow, error) {
		return s.q.ListDeliveries(r.Context(), queries.ListDeliveriesParams{AccountID: account, IntegrationID: i.ID, After: after, Lim: lim})
	}, infallible(func(d queries.ListDeliveriesRow) deliveryView {
		return deliveryView{ID: d.ID, DeliveryID: d.DeliveryID, Topic: d.Topic, ReceivedAt: d.ReceivedAt,
			ProcessedAt: d.ProcessedAt, EventID: d.EventID, Error: d.Error}
	}), func(v deliveryView) int64 { return v.ID })
}

// receiveHook takes an integration's delivery: the signature is checked before the body is
// read as JSON, and the payload is stored before it is acknowledged; the scheduler turns it into
// an event. The same delivery id again is acknowledged and not stored twice.
func (s *Server) receiveHook(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxHookBytes))
	if err != nil {
		return bodyError(err, MaxHookBytes)
	}
	ctx := r.Context()
	i, err := s.q.IntegrationByToken(ctx, r.PathValue("token"))
	if isNoRows(err) {
		return errNotFound("integration")
	}
	if err != nil {
		return err
	}
	secret, err := s.opts.Secrets.Open(i.SecretEnc, secrets.IntegrationSecret(i.Token))
	if err != nil {
		return err
	}
	d, err := integrations.Verify(i.Kind, r.Header, body, secret, time.Now())
	if err != nil {
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: err.Error()}
	}
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "the body is not a JSON object"}
	}
	if err := checkJSON(body); err != nil {
		return err
	}
	_, err = s.q.InsertDelivery(ctx, queries.InsertDeliveryParams{AccountID: i.AccountID, IntegrationID: i.ID,
		DeliveryID: d.ID, Topic: d.Topic, Payload: body})
	duplicate := isNoRows(err)
	if err != nil && !duplicate {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"accepted": true, "duplicate": duplicate})
	return nil
}
