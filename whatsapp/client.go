package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"
)

// Client calls the Cloud API. It is safe for concurrent use.
type Client struct {
	baseURL string
	version string
	http    *http.Client
	upload  *http.Client // the same transport, with time for a file of 100 MB
}

// NewClient makes a client for baseURL (https://graph.facebook.com, or a simulator on loopback) and an API
// version. Every call ends after timeout. The transport keeps enough idle connections for a
// worker's concurrency. It never sets an Idempotency-Key header: with one, Go's transport would
// replay a POST on a reused connection, and a message could go out twice.
func NewClient(baseURL, version string, timeout time.Duration) *Client {
	transport := guardedTransport()
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), version: version,
		http: &http.Client{Timeout: timeout, Transport: transport}, upload: &http.Client{Timeout: max(timeout, UploadTimeout), Transport: transport}}
}

// Template is the template part of a send.
type Template struct {
	Name       string      `json:"name"`
	Language   Language    `json:"language"`
	Components []Component `json:"components,omitempty"`
}

// Language of a template; the Cloud API wants policy "deterministic".
type Language struct {
	Policy string `json:"policy"`
	Code   string `json:"code"`
}

// NewTemplate names a template in a language.
func NewTemplate(name, language string, components []Component) Template {
	return Template{Name: name, Language: Language{Policy: "deterministic", Code: language}, Components: components}
}

// SendRequest is the body of POST /{phone-number-id}/messages.
type SendRequest struct {
	MessagingProduct      string    `json:"messaging_product"`
	RecipientType         string    `json:"recipient_type"`
	To                    string    `json:"to"`
	Type                  string    `json:"type"`
	Template              *Template `json:"template,omitempty"`
	BizOpaqueCallbackData string    `json:"biz_opaque_callback_data,omitempty"`
	// ProductPolicy is the Marketing Messages API's: STRICT refuses a send the API cannot take
	// rather than let Meta send it through Cloud API unseen.
	ProductPolicy string `json:"product_policy,omitempty"`
}

// The endpoints a template goes through: Cloud API's, and the Marketing Messages API's (MM Lite)
// for marketing templates.
const (
	EndpointMessages  = "messages"
	EndpointMarketing = "marketing_messages"
)

// EndpointFor is the endpoint a template of a category goes through on a number whose use of the
// Marketing Messages API is mm (off, on, refused): that API for a marketing template when on.
func EndpointFor(category, mm string) string {
	if category == "marketing" && mm == "on" {
		return EndpointMarketing
	}
	return EndpointMessages
}

// SendResult is what Meta answers to an accepted send.
type SendResult struct {
	WAMID         string // the message id every status webhook refers to
	WaID          string // the recipient as WhatsApp knows it; may differ from the number sent to
	MessageStatus string // accepted, held_for_quality_assessment, paused (when Meta says)
}

// SendTemplate sends a template message. callback travels back in every status webhook of the
// message as biz_opaque_callback_data (Dripcast puts its message id there).
func (c *Client) SendTemplate(ctx context.Context, token, phoneNumberID, to string, t Template, callback string) (SendResult, error) {
	return c.send(ctx, token, phoneNumberID, EndpointMessages, SendRequest{MessagingProduct: "whatsapp", RecipientType: "individual",
		To: to, Type: "template", Template: &t, BizOpaqueCallbackData: callback})
}

// SendMarketingTemplate sends a marketing template through the Marketing Messages API (POST
// /{phone-number-id}/marketing_messages), under the STRICT product policy: a number Meta will not
// take it from gets an error (MarketingRefused) instead of a send through Cloud API.
func (c *Client) SendMarketingTemplate(ctx context.Context, token, phoneNumberID, to string, t Template, callback string) (SendResult, error) {
	return c.send(ctx, token, phoneNumberID, EndpointMarketing, SendRequest{MessagingProduct: "whatsapp", RecipientType: "individual",
		To: to, Type: "template", Template: &t, BizOpaqueCallbackData: callback, ProductPolicy: "STRICT"})
}

func (c *Client) send(ctx context.Context, token, phoneNumberID, endpoint string, req SendRequest) (SendResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return SendResult{}, err
	}
	var out struct {
		Contacts []struct {
			WaID string `json:"wa_id"`
		} `json:"contacts"`
		Messages []struct {
			ID            string `json:"id"`
			MessageStatus string `json:"message_status"`
		} `json:"messages"`
	}
	if err := c.do(ctx, http.MethodPost, token, phoneNumberID+"/"+endpoint, body, &out); err != nil {
		return SendResult{}, err
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		return SendResult{}, &APIError{HTTPStatus: http.StatusOK, Message: "the answer holds no message id"}
	}
	res := SendResult{WAMID: out.Messages[0].ID, MessageStatus: out.Messages[0].MessageStatus}
	if len(out.Contacts) > 0 {
		res.WaID = out.Contacts[0].WaID
	}
	return res, nil
}

// PhoneNumber is what GET /{phone-number-id} tells about a number.
type PhoneNumber struct {
	ID                 string `json:"id"`
	DisplayPhoneNumber string `json:"display_phone_number"`
	VerifiedName       string `json:"verified_name"`
	QualityRating      string `json:"quality_rating"` // GREEN, YELLOW, RED, UNKNOWN
	Throughput         struct {
		Level string `json:"level"` // STANDARD (80 mps), HIGH (1,000 mps)
	} `json:"throughput"`
	MessagingLimit string `json:"whatsapp_business_manager_messaging_limit"` // TIER_250 … TIER_UNLIMITED
}

// PhoneNumberFields are the fields GetPhoneNumber asks for.
const PhoneNumberFields = "id,display_phone_number,verified_name,quality_rating,throughput,whatsapp_business_manager_messaging_limit"

// GetPhoneNumber reads a number's quality rating, throughput level and messaging limit.
func (c *Client) GetPhoneNumber(ctx context.Context, token, phoneNumberID string) (PhoneNumber, error) {
	var out PhoneNumber
	err := c.do(ctx, http.MethodGet, token, phoneNumberID+"?fields="+PhoneNumberFields, nil, &out)
	return out, err
}

// WABANumbers lists the numbers of a WhatsApp Business Account (GET /{waba-id}/phone_numbers):
// a token that may not see the WABA gets Meta's error.
func (c *Client) WABANumbers(ctx context.Context, token, wabaID string) ([]PhoneNumber, error) {
	var out struct {
		Data []PhoneNumber `json:"data"`
	}
	err := c.do(ctx, http.MethodGet, token, wabaID+"/phone_numbers?fields="+PhoneNumberFields+"&limit=1000", nil, &out)
	return out.Data, err
}

// do makes one call with a JSON body (or none).
func (c *Client) do(ctx context.Context, method, token, path string, body []byte, out any) error {
	if body == nil {
		return c.doBody(ctx, c.http, method, token, path, "", nil, out)
	}
	return c.doBody(ctx, c.http, method, token, path, "application/json", bytes.NewReader(body), out)
}

// doBody makes one call; it tells a request that never left (retry is safe) from one that may have.
func (c *Client) doBody(ctx context.Context, hc *http.Client, method, token, path, contentType string, rd io.Reader, out any) error {
	var written atomic.Bool              // set on the transport's goroutine
	var conn atomic.Pointer[guardedConn] // the connection the request got
	trace := &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { written.Store(true) },
		GotConn:      func(info httptrace.GotConnInfo) { conn.Store(guardRequest(ctx, info.Conn)) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method,
		c.baseURL+"/"+c.version+"/"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if by, ok := writeByOf(ctx); ok {
		req.GetBody = nil // a refused write must not be replayed by the transport
		if time.Now().After(by) {
			return ErrLate
		}
	}
	res, err := hc.Do(req)
	// The connection refused the late write (nothing left): the transport may report the
	// connection's close, read at the same time, rather than the refusal, and the request as
	// written (to its buffer) before the refusal; the connection itself knows.
	if gc := conn.Load(); err != nil && (errors.Is(err, ErrLate) || gc != nil && gc.refused.Load()) {
		return ErrLate
	}
	if err != nil {
		return &TransportError{Written: written.Load(), Err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return &TransportError{Written: true, Err: err}
	}
	if res.StatusCode >= 300 {
		return decodeError(res.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &APIError{HTTPStatus: res.StatusCode, Message: fmt.Sprintf("undecodable answer: %v", err)}
	}
	return nil
}

// decodeError reads Meta's error envelope; a body that is not one keeps the HTTP status alone.
func decodeError(status int, raw []byte) error {
	var env struct {
		Error struct {
			Message   string `json:"message"`
			Type      string `json:"type"`
			Code      int    `json:"code"`
			FBTraceID string `json:"fbtrace_id"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
		} `json:"error"`
	}
	e := &APIError{HTTPStatus: status, Message: http.StatusText(status)}
	if json.Unmarshal(raw, &env) == nil && env.Error.Message != "" {
		e.Code, e.Type, e.Message, e.Details, e.FBTraceID = env.Error.Code, env.Error.Type, env.Error.Message,
			env.Error.ErrorData.Details, env.Error.FBTraceID
	}
	return e
}
