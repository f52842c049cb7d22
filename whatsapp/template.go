// Package whatsapp holds the shapes of Meta's WhatsApp Cloud API that Dripcast sends and receives.
package whatsapp

// Component is one component of a template message as the Cloud API takes it.
type Component struct {
	Type       string      `json:"type"` // header, body, button
	SubType    string      `json:"sub_type,omitempty"`
	Index      string      `json:"index,omitempty"`
	Parameters []Parameter `json:"parameters"`
}

// Parameter fills one placeholder of a component.
type Parameter struct {
	Type     string    `json:"type"` // text, currency, date_time, image, document, video, payload, coupon_code
	Text     string    `json:"text,omitempty"`
	Payload  string    `json:"payload,omitempty"`
	Coupon   string    `json:"coupon_code,omitempty"`
	Currency *Currency `json:"currency,omitempty"`
	DateTime *DateTime `json:"date_time,omitempty"`
	Image    *Media    `json:"image,omitempty"`
	Document *Media    `json:"document,omitempty"`
	Video    *Media    `json:"video,omitempty"`
}

// Currency is an amount in thousandths of the currency's unit.
type Currency struct {
	FallbackValue string `json:"fallback_value"`
	Code          string `json:"code"`
	Amount1000    int64  `json:"amount_1000"`
}

// DateTime is shown as its fallback value.
type DateTime struct {
	FallbackValue string `json:"fallback_value"`
}

// Media is a header image, document or video fetched by Meta from a link.
type Media struct {
	Link string `json:"link"`
}
