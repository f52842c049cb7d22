package whatsapp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Notification is the body of a webhook POST. Unknown fields are ignored and unknown change kinds
// are kept as raw JSON, so a new Meta field never breaks parsing.
type Notification struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one WhatsApp Business Account's changes.
type Entry struct {
	ID      string   `json:"id"` // the WABA id
	Time    int64    `json:"time,omitempty"`
	Changes []Change `json:"changes"`
}

// Change is one kind of update; Field names the kind and Value holds it.
type Change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// The change kinds Dripcast reads.
const (
	FieldMessages        = "messages"
	FieldUserPreferences = "user_preferences"
	FieldQuality         = "phone_number_quality_update"
	FieldTemplateStatus  = "message_template_status_update"
	FieldTemplateQuality = "message_template_quality_update"
	FieldAccountUpdate   = "account_update"
)

// MessagesValue carries statuses of sent messages and inbound messages.
type MessagesValue struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         Metadata         `json:"metadata"`
	Contacts         []WebhookContact `json:"contacts,omitempty"`
	Messages         []InboundMessage `json:"messages,omitempty"`
	Statuses         []Status         `json:"statuses,omitempty"`
	Errors           []WebhookError   `json:"errors,omitempty"`
}

// Metadata names the business number a change is about.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// WebhookContact is the sender of an inbound message, or the recipient of a status.
type WebhookContact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID   string `json:"wa_id"`
	UserID string `json:"user_id,omitempty"`
}

// Status reports what happened to a sent message.
type Status struct {
	ID                    string         `json:"id"`     // wamid
	Status                string         `json:"status"` // sent, delivered, read, failed
	Timestamp             string         `json:"timestamp"`
	RecipientID           string         `json:"recipient_id"`
	BizOpaqueCallbackData string         `json:"biz_opaque_callback_data,omitempty"`
	Pricing               *Pricing       `json:"pricing,omitempty"`
	Errors                []WebhookError `json:"errors,omitempty"`
}

// Time is when the status happened; zero when the timestamp is missing or malformed.
func (s Status) Time() time.Time { return unixTime(s.Timestamp) }

// Pricing of a delivered message.
type Pricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Type         string `json:"type,omitempty"`
	Category     string `json:"category"`
}

// WebhookError is an error inside a webhook (a failed status carries one).
type WebhookError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message,omitempty"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

// InboundMessage is a message a user sent to a business number.
type InboundMessage struct {
	From      string                 `json:"from"`
	ID        string                 `json:"id"`
	Timestamp string                 `json:"timestamp"`
	Type      string                 `json:"type"` // text, button, interactive, image, …
	Text      *struct{ Body string } `json:"text,omitempty"`
	Button    *struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button,omitempty"`
	Interactive *struct {
		Type        string `json:"type"` // button_reply, list_reply
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply,omitempty"`
		ListReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"list_reply,omitempty"`
	} `json:"interactive,omitempty"`
	Context *struct {
		From string `json:"from"`
		ID   string `json:"id"` // the wamid of the message replied to
	} `json:"context,omitempty"`
}

// Time is when the user sent the message.
func (m InboundMessage) Time() time.Time { return unixTime(m.Timestamp) }

// Content is the text a user sent, the button they tapped, or the reply they chose.
func (m InboundMessage) Content() string {
	switch {
	case m.Text != nil:
		return m.Text.Body
	case m.Button != nil:
		if m.Button.Payload != "" {
			return m.Button.Payload
		}
		return m.Button.Text
	case m.Interactive != nil && m.Interactive.ButtonReply != nil:
		return m.Interactive.ButtonReply.ID
	case m.Interactive != nil && m.Interactive.ListReply != nil:
		return m.Interactive.ListReply.ID
	}
	return ""
}

// UserPreferencesValue reports users who stopped or resumed marketing messages.
type UserPreferencesValue struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         Metadata         `json:"metadata"`
	Contacts         []WebhookContact `json:"contacts,omitempty"`
	UserPreferences  []UserPreference `json:"user_preferences"`
}

// UserPreference is one stop or resume.
type UserPreference struct {
	WaID      string `json:"wa_id"`
	Detail    string `json:"detail"`
	Category  string `json:"category"` // marketing_messages
	Value     string `json:"value"`    // stop, resume
	Timestamp int64  `json:"timestamp"`
}

// QualityUpdate reports a number's quality or messaging-limit change.
type QualityUpdate struct {
	DisplayPhoneNumber               string `json:"display_phone_number"`
	Event                            string `json:"event"` // FLAGGED, UNFLAGGED, UPGRADE, DOWNGRADE, THROUGHPUT_UPGRADE, ONBOARDING
	CurrentLimit                     string `json:"current_limit,omitempty"`
	OldLimit                         string `json:"old_limit,omitempty"`
	MaxDailyConversationsPerBusiness string `json:"max_daily_conversations_per_business,omitempty"`
}

// TemplateStatusUpdate reports a template approved, paused, disabled, rejected, ….
type TemplateStatusUpdate struct {
	Event                   string `json:"event"` // APPROVED, PAUSED, DISABLED, REJECTED, FLAGGED, …
	MessageTemplateID       int64  `json:"message_template_id"`
	MessageTemplateName     string `json:"message_template_name"`
	MessageTemplateLanguage string `json:"message_template_language"`
	Reason                  string `json:"reason,omitempty"`
	MessageTemplateCategory string `json:"message_template_category,omitempty"`
	// DisableInfo comes with DISABLED (when it was disabled) and FLAGGED (when it will be).
	DisableInfo *DisableInfo `json:"disable_info,omitempty"`
}

// DisableInfo is when a template was or will be disabled.
type DisableInfo struct {
	DisableDate UnixTime `json:"disable_date"`
}

// UnixTime is a Unix timestamp in seconds, which Meta's payloads give as a number or as a string
// of digits; zero when absent or unreadable (a date must not cost the rest of the delivery).
type UnixTime int64

// UnmarshalJSON takes 1751234563 or "1751234563".
func (u *UnixTime) UnmarshalJSON(b []byte) error {
	n, _ := strconv.ParseInt(strings.Trim(string(b), `"`), 10, 64)
	*u = UnixTime(n)
	return nil
}

// Time is the timestamp as a time, nil when zero.
func (u UnixTime) Time() *time.Time {
	if u <= 0 {
		return nil
	}
	t := time.Unix(int64(u), 0).UTC()
	return &t
}

// TemplateQualityUpdate reports a change of a template's quality score.
type TemplateQualityUpdate struct {
	PreviousQualityScore    string `json:"previous_quality_score"`
	NewQualityScore         string `json:"new_quality_score"` // GREEN, YELLOW, RED, UNKNOWN
	MessageTemplateID       int64  `json:"message_template_id"`
	MessageTemplateName     string `json:"message_template_name"`
	MessageTemplateLanguage string `json:"message_template_language"`
}

// AccountUpdate reports a change of the business account (ban, verification, …).
type AccountUpdate struct {
	PhoneNumber string `json:"phone_number,omitempty"`
	Event       string `json:"event"`
	BanInfo     *struct {
		WabaBanState []string `json:"waba_ban_state"`
		WabaBanDate  string   `json:"waba_ban_date"`
	} `json:"ban_info,omitempty"`
}

// ParseNotification decodes a webhook body. Only a body that is not a JSON object, or whose
// entries are malformed, is an error; unknown kinds come through as raw changes.
func ParseNotification(body []byte) (Notification, error) {
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return Notification{}, fmt.Errorf("whatsapp webhook: %w", err)
	}
	return n, nil
}

// Decode reads a change's value into the type of its field (MessagesValue, UserPreferencesValue,
// QualityUpdate, TemplateStatusUpdate, TemplateQualityUpdate, AccountUpdate). ok is false for a kind Dripcast does not
// read; err reports a known kind whose value is malformed.
func (c Change) Decode() (v any, ok bool, err error) {
	switch c.Field {
	case FieldMessages:
		v = &MessagesValue{}
	case FieldUserPreferences:
		v = &UserPreferencesValue{}
	case FieldQuality:
		v = &QualityUpdate{}
	case FieldTemplateStatus:
		v = &TemplateStatusUpdate{}
	case FieldTemplateQuality:
		v = &TemplateQualityUpdate{}
	case FieldAccountUpdate:
		v = &AccountUpdate{}
	default:
		return nil, false, nil
	}
	if err := json.Unmarshal(c.Value, v); err != nil {
		return nil, true, fmt.Errorf("whatsapp webhook %s: %w", c.Field, err)
	}
	return v, true, nil
}

func unixTime(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}
