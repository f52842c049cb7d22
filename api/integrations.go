package api

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/integrations"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/phone"
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
	ctx, p := r.Context(), caller(r.Context())
	var rec drip.Recorded
	err = s.inTx(ctx, func(q *queries.Queries) error {
		var err error
		author := contacts.AuthorOf(p.actor())
		author.Fill = p.Role == "integration"
		incoming := drip.Incoming{Contact: row, Name: in.Name, Properties: in.Properties, Source: "api", ExternalID: in.ID, Author: author}
		rec, err = drip.RecordEvent(ctx, q, p.AccountID, incoming)
		if err != nil || rec.Duplicate {
			return err
		}
		if rec.ContactChange != "" {
			if err := s.audit(ctx, q, rec.ContactChange, "contact", rec.ContactID, nil, incoming.ContactAudit()); err != nil {
				return err
			}
		}
		return s.audit(ctx, q, "event.create", "event", rec.EventID, nil, map[string]any{"name": in.Name, "contact_id": rec.ContactID})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"event_id": rec.EventID, "contact_id": rec.ContactID, "duplicate": rec.Duplicate})
	return nil
}

// integrationInput is the body of POST and PATCH /v1/integrations.
type integrationInput struct {
	Name           *string               `json:"name"`
	Kind           string                `json:"kind"`
	Mapping        *integrations.Mapping `json:"mapping"`
	DefaultCountry *string               `json:"default_country"`
	Secret         *string               `json:"secret"` // Shopify's webhook signing secret; generated for generic
	// OverwriteContacts lets the integration's events rename contacts, change their email and
	// consent; by default they only create contacts and fill what they lack.
	OverwriteContacts *bool `json:"overwrite_contacts"`
}

type integrationView struct {
	ID             int64                 `json:"id"`
	Name           string                `json:"name"`
	Kind           string                `json:"kind"`
	URL            string                `json:"url"`
	Mapping        *integrations.Mapping `json:"mapping,omitempty"`
	DefaultCountry string                `json:"default_country"`
	// OverwriteContacts: see integrationInput.
	OverwriteContacts bool      `json:"overwrite_contacts"`
	Secret            string    `json:"secret,omitempty"` // shown once, when generated
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func viewIntegration(i queries.Integration) integrationView {
	v := integrationView{ID: i.ID, Name: i.Name, Kind: i.Kind, URL: "/hooks/" + i.Token, DefaultCountry: i.DefaultCountry,
		OverwriteContacts: i.OverwriteContacts, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
	if i.Kind == integrations.Generic {
		var m integrations.Mapping
		if json.Unmarshal(i.Mapping, &m) == nil {
			v.Mapping = &m
		}
	}
	return v
}

// randomText is n random bytes in URL-safe text.
func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkIntegration validates the fields given; create requires name, kind and (generic) mapping.
func checkIntegration(in *integrationInput, kind string) error {
	if in.Name != nil {
		*in.Name = strings.TrimSpace(*in.Name)
		if *in.Name == "" || len(*in.Name) > 200 {
			return errValidation("name", "name is required, at most 200 characters")
		}
	}
	if in.Mapping != nil {
		if kind != integrations.Generic {
			return errValidation("mapping", "only a generic integration takes a mapping; Shopify's is built in")
		}
		if err := in.Mapping.Check(); err != nil {
			return errValidation("mapping", "%s", err.Error())
		}
	}
	if in.DefaultCountry != nil {
		c := strings.ToUpper(strings.TrimSpace(*in.DefaultCountry))
		if c != "" && !phone.ValidRegion(c) {
			return errValidation("default_country", "default_country is an ISO country code such as IN or US")
		}
		*in.DefaultCountry = c
	}
	if in.Secret != nil && (len(*in.Secret) < 16 || len(*in.Secret) > 200) {
		return errValidation("secret", "the secret has 16 to 200 characters")
	}
	return nil
}

func (s *Server) createIntegration(w http.ResponseWriter, r *http.Request) error {
	var in integrationInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	switch {
	case in.Kind != integrations.Generic && in.Kind != integrations.Shopify:
		return errValidation("kind", "kind is generic or shopify")
	case in.Name == nil:
		return errValidation("name", "name is required")
	case in.Kind == integrations.Generic && in.Mapping == nil:
		return errValidation("mapping", "a generic integration needs a mapping: at least phone and event or event_name")
	case in.Kind == integrations.Shopify && in.Secret == nil:
		return errValidation("secret", "give the webhook signing secret Shopify shows for your app")
	}
	if err := checkIntegration(&in, in.Kind); err != nil {
		return err
	}
	secret := "whsec_" + randomText(32)
	generated := in.Secret == nil
	if !generated {
		secret = *in.Secret
	}
	mapping := []byte("{}")
	if in.Mapping != nil {
		mapping, _ = json.Marshal(in.Mapping)
	}
	country := ""
	if in.DefaultCountry != nil {
		country = *in.DefaultCountry
	}
	ctx, p, token := r.Context(), caller(r.Context()), randomText(16)
	var view integrationView
	err := s.inTx(ctx, func(q *queries.Queries) error {
		i, err := q.CreateIntegration(ctx, queries.CreateIntegrationParams{AccountID: p.AccountID, Name: *in.Name, Kind: in.Kind,
			Token: token, SecretEnc: s.opts.Secrets.Seal(secret, secrets.IntegrationSecret(token)), Mapping: mapping,
			DefaultCountry: country, OverwriteContacts: in.OverwriteContacts != nil && *in.OverwriteContacts})
		if err != nil {
			return err
		}
		view = viewIntegration(i)
		return s.audit(ctx, q, "integration.create", "integration", i.ID, nil, view)
	})
	if err != nil {
		return err
	}
	if generated {
		view.Secret = secret // shown this once; only its ciphertext is kept
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

func (s *Server) loadIntegration(r *http.Request) (queries.Integration, error) {
	id, err := pathID(r, "integration")
	if err != nil {
		return queries.Integration{}, err
	}
	i, err := s.q.GetIntegration(r.Context(), queries.GetIntegrationParams{AccountID: caller(r.Context()).AccountID, ID: id})
	return i, notFoundAs(err, "integration")
}

func (s *Server) getIntegration(w http.ResponseWriter, r *http.Request) error {
	i, err := s.loadIntegration(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewIntegration(i))
	return nil
}

func (s *Server) listIntegrations(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Integration, error) {
		return s.q.ListIntegrations(r.Context(), queries.ListIntegrationsParams{AccountID: account, After: after, Lim: lim})
	}, infallible(viewIntegration), func(v integrationView) int64 { return v.ID })
}

func (s *Server) updateIntegration(w http.ResponseWriter, r *http.Request) error {
	before, err := s.loadIntegration(r)
	if err != nil {
		return err
	}
	var in integrationInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	if in.Kind != "" && in.Kind != before.Kind {
		return errValidation("kind", "the kind of an integration cannot change")
	}
	if err := checkIntegration(&in, before.Kind); err != nil {
		return err
	}
	params := queries.UpdateIntegrationParams{Name: before.Name, Mapping: before.Mapping, DefaultCountry: before.DefaultCountry,
		OverwriteContacts: before.OverwriteContacts, AccountID: before.AccountID, ID: before.ID}
	if in.OverwriteContacts != nil {
		params.OverwriteContacts = *in.OverwriteContacts
	}
	if in.Name != nil {
		params.Name = *in.Name
	}
	if in.Mapping != nil {
		params.Mapping, _ = json.Marshal(in.Mapping)
	}
	if in.DefaultCountry != nil {
		params.DefaultCountry = *in.DefaultCountry
	}
	if in.Secret != nil {
		params.SecretEnc = s.opts.Secrets.Seal(*in.Secret, secrets.IntegrationSecret(before.Token))
	}
	return s.mutate(w, r, http.StatusOK, "integration.update", "integration", func(q *queries.Queries) (change, error) {
		i, err := q.UpdateIntegration(r.Context(), params)
		return change{before.ID, viewIntegration(before), viewIntegration(i)}, notFoundAs(err, "integration")
	})
}

func (s *Server) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	before, err := s.loadIntegration(r)
	if err != nil {
		return err
	}
	return s.mutate(w, r, http.StatusNoContent, "integration.delete", "integration", func(q *queries.Queries) (change, error) {
		_, err := q.DeleteIntegration(r.Context(), queries.DeleteIntegrationParams{AccountID: before.AccountID, ID: before.ID})
		return change{before.ID, viewIntegration(before), nil}, err
	})
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
