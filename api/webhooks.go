package api

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/webhooks"
	"github.com/dripcast/dripcast/whatsapp"
)

// MaxWebhookBytes bounds a webhook body (Meta's are up to 3 MB).
const MaxWebhookBytes = 4 << 20

// webhookHandshake answers Meta's subscription check.
func (s *Server) webhookHandshake(w http.ResponseWriter, r *http.Request) error {
	challenge, ok := whatsapp.VerifyHandshake(r.URL.Query(), s.opts.WebhookVerifyToken)
	if !ok {
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "hub.verify_token does not match"}
	}
	w.Header().Set("Content-Type", "text/plain")
	_, err := io.WriteString(w, challenge)
	return err
}

var errBadSignature = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
	Message: "X-Hub-Signature-256 does not prove that this delivery belongs to the numbers it names"}

// webhookReceive finds whose a delivery is from its routing ids, checks the signature against
// those channels' app secrets only, applies what belongs to the signing channels in one
// transaction, and only then answers 200: a failure answers 500 and Meta delivers again (applying
// twice is harmless). A status Postgres refuses is set aside rather than failing the delivery.
func (s *Server) webhookReceive(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBytes))
	if err != nil {
		return bodyError(err, MaxWebhookBytes)
	}
	n, err := whatsapp.ParseNotification(body)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: err.Error()}
	}
	ctx, start := r.Context(), time.Now()
	open := func(ch webhooks.Channel) (string, error) {
		return s.opts.Secrets.Open(ch.AppSecretEnc, secrets.ChannelAppSecret(ch.PhoneNumberID))
	}
	scope, err := webhooks.Authorize(ctx, s.q, n, body, r.Header.Get(whatsapp.SignatureHeader), open)
	if errors.Is(err, webhooks.ErrUnauthorized) {
		return errBadSignature
	}
	if err != nil {
		return err
	}
	res, err := webhooks.Deliver(ctx, s.db, n, scope, start, s.log)
	if err != nil {
		return err
	}
	m := s.opts.Metrics
	m.SetAside.WithLabelValues("status").Add(float64(res.SetAside))
	m.Unknown.WithLabelValues("webhook").Add(float64(res.Settled))
	m.WebhookApply.Observe(time.Since(start).Seconds())
	m.WebhookEvents.WithLabelValues("status").Add(float64(res.Statuses))
	m.WebhookEvents.WithLabelValues("inbound").Add(float64(res.Inbound))
	m.WebhookEvents.WithLabelValues("opt_out").Add(float64(res.OptOuts))
	for _, at := range res.StatusTimes {
		m.WebhookLag.Observe(time.Since(at).Seconds())
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}
