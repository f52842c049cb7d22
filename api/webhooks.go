package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/dripcast/dripcast/queries"
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

var errBadSignature = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "X-Hub-Signature-256 does not match the body"}

// webhookReceive checks the signature over the raw body before anything reads it, applies the
// notification in one transaction, and only then answers 200: a failure answers 500 and Meta
// delivers again (applying twice is harmless).
func (s *Server) webhookReceive(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBytes))
	if err != nil {
		return bodyError(err, MaxWebhookBytes)
	}
	if !s.appSecrets.verify(r.Context(), s, body, r.Header.Get(whatsapp.SignatureHeader)) {
		return errBadSignature
	}
	n, err := whatsapp.ParseNotification(body)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: err.Error()}
	}
	ctx, start := r.Context(), time.Now()
	var res webhooks.Result
	err = s.inTx(ctx, func(q *queries.Queries) error {
		res, err = webhooks.Apply(ctx, q, n, s.log)
		return err
	})
	if err != nil {
		return err
	}
	m := s.opts.Metrics
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

// appSecretCache holds the app secrets of every channel: Meta signs with the app's secret, and
// the signature must be checked before the body says which number it is about.
type appSecretCache struct {
	mu       sync.Mutex
	secrets  []string
	loadedAt time.Time
}

// verify accepts a signature made with any channel's app secret, reloading the secrets once when
// none matches (a channel may have been added since).
func (c *appSecretCache) verify(ctx context.Context, s *Server, body []byte, header string) bool {
	for attempt := 0; attempt < 2; attempt++ {
		secrets, err := c.get(ctx, s, attempt == 1)
		if err != nil {
			s.log.Error("webhook: load app secrets", "err", err)
			return false
		}
		for _, secret := range secrets {
			if whatsapp.VerifySignature(body, header, secret) == nil {
				return true
			}
		}
		if errors.Is(whatsapp.VerifySignature(body, header, ""), whatsapp.ErrSignatureMissing) {
			return false
		}
	}
	return false
}

func (c *appSecretCache) get(ctx context.Context, s *Server, reload bool) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !reload && c.secrets != nil && time.Since(c.loadedAt) < time.Minute {
		return c.secrets, nil
	}
	if reload && time.Since(c.loadedAt) < time.Second {
		return c.secrets, nil // a burst of bad signatures does not hammer the database
	}
	sealed, err := s.q.ChannelAppSecrets(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, b := range sealed {
		secret, err := s.opts.Secrets.Open(b, secrets.PurposeAppSecret)
		if err == nil && !seen[secret] {
			seen[secret] = true
			out = append(out, secret)
		}
	}
	c.secrets, c.loadedAt = out, time.Now()
	return out, nil
}
