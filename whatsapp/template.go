// Package whatsapp holds the shapes of Meta's WhatsApp Cloud API that Dripcast sends and receives.
package whatsapp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Component is one component of a template message as the Cloud API takes it.
type Component struct {
	Type       string      `json:"type"` // header, body, button
	SubType    string      `json:"sub_type,omitempty"`
	Index      string      `json:"index,omitempty"`
	Parameters []Parameter `json:"parameters"`
}

// Parameter fills one placeholder of a component.
type Parameter struct {
	Type string `json:"type"` // text, currency, date_time, image, document, video, location, payload, coupon_code, action
	// ParameterName fills the placeholder of that name in a template of named parameters.
	ParameterName string    `json:"parameter_name,omitempty"`
	Text          string    `json:"text,omitempty"`
	Payload       string    `json:"payload,omitempty"`
	Coupon        string    `json:"coupon_code,omitempty"`
	Currency      *Currency `json:"currency,omitempty"`
	DateTime      *DateTime `json:"date_time,omitempty"`
	Image         *Media    `json:"image,omitempty"`
	Document      *Media    `json:"document,omitempty"`
	Video         *Media    `json:"video,omitempty"`
	Location      *Location `json:"location,omitempty"`
	Action        *Action   `json:"action,omitempty"`
}

// Action fills a Flow button (the token the flow's messages carry back) or a catalog button (the
// product whose image the message shows).
type Action struct {
	FlowToken                  string `json:"flow_token,omitempty"`
	ThumbnailProductRetailerID string `json:"thumbnail_product_retailer_id,omitempty"`
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

// Location is a location header's place: latitude and longitude in decimal degrees.
type Location struct {
	Latitude  string `json:"latitude"`
	Longitude string `json:"longitude"`
	Name      string `json:"name,omitempty"`
	Address   string `json:"address,omitempty"`
}

// Media is a header image, document or video: a file uploaded to Meta (its id) or one Meta
// fetches from a link; exactly one of the two.
type Media struct {
	ID   string `json:"id,omitempty"`
	Link string `json:"link,omitempty"`
}

// MessageTemplate is a template as GET /{waba-id}/message_templates lists it.
type MessageTemplate struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	Language        string              `json:"language"`
	Status          string              `json:"status"`                     // APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …
	Category        string              `json:"category"`                   // MARKETING, UTILITY, AUTHENTICATION
	ParameterFormat string              `json:"parameter_format,omitempty"` // POSITIONAL (default) or NAMED
	QualityScore    *QualityScore       `json:"quality_score,omitempty"`
	Components      []TemplateComponent `json:"components"`
}

// QualityScore is Meta's rating of a template.
type QualityScore struct {
	Score string `json:"score"` // GREEN, YELLOW, RED, UNKNOWN
}

// TemplateComponent is one part of a listed template.
type TemplateComponent struct {
	Type    string           `json:"type"`             // HEADER, BODY, FOOTER, BUTTONS
	Format  string           `json:"format,omitempty"` // a header's: TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION
	Text    string           `json:"text,omitempty"`
	Buttons []TemplateButton `json:"buttons,omitempty"`
}

// TemplateButton is one button of a listed template.
type TemplateButton struct {
	Type        string `json:"type"` // QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW, CATALOG, MPM…
	Text        string `json:"text,omitempty"`
	URL         string `json:"url,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
}

// templatePages bounds the pages MessageTemplates reads (of 100 templates each).
const templatePages = 100

// MessageTemplates lists a WABA's templates, following Meta's paging.
func (c *Client) MessageTemplates(ctx context.Context, token, wabaID string) ([]MessageTemplate, error) {
	var all []MessageTemplate
	after := ""
	for range templatePages {
		var page struct {
			Data   []MessageTemplate `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		q := url.Values{"fields": {"id,name,language,status,category,parameter_format,quality_score,components"}, "limit": {"100"}}
		if after != "" {
			q.Set("after", after)
		}
		if err := c.do(ctx, http.MethodGet, token, wabaID+"/message_templates?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		if page.Paging.Next == "" || page.Paging.Cursors.After == "" {
			return all, nil
		}
		after = page.Paging.Cursors.After
	}
	return nil, fmt.Errorf("more than %d pages of templates", templatePages)
}
