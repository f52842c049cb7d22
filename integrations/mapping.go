package integrations

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/drip"
)

// Mapping reads a generic delivery: each field is a dotted path into the JSON payload
// ("customer.phone"). Either Event (a path) or EventName (fixed) names the event; Properties is the
// path of the event's properties, the whole payload when empty.
type Mapping struct {
	Phone      string            `json:"phone"`
	Name       string            `json:"name,omitempty"`
	Email      string            `json:"email,omitempty"`
	Event      string            `json:"event,omitempty"`
	EventName  string            `json:"event_name,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"` // contact attribute → path
	Properties string            `json:"properties,omitempty"`
}

// Check validates a mapping as the API receives it.
func (m Mapping) Check() error {
	if m.Phone == "" {
		return errors.New("mapping.phone: give the path of the contact's phone number")
	}
	if (m.Event == "") == (m.EventName == "") {
		return errors.New("mapping: give event (a path to the event name) or event_name (a fixed name), not both")
	}
	if m.EventName != "" && !drip.ValidEventName(m.EventName) {
		return errors.New(`mapping.event_name: name an event in lower case, such as "order.placed"`)
	}
	if len(m.Attributes) > contacts.MaxAttributes {
		return fmt.Errorf("mapping.attributes: at most %d", contacts.MaxAttributes)
	}
	for k := range m.Attributes {
		if !contacts.AttributeKeyValid(k) {
			return fmt.Errorf("mapping.attributes: %q is not an attribute name", k)
		}
	}
	return nil
}

// Mapped is what a delivery says: a contact and an event.
type Mapped struct {
	Contact    contacts.Input
	Event      string
	Properties map[string]any
	// Key names the event apart from the delivery when the payload has an id of its own (a
	// Shopify order or checkout): the same order placed twice is one event.
	Key string
}

// ErrIgnored marks a delivery that carries no event for Dripcast (a topic it does not use).
var ErrIgnored = errors.New("nothing to do for this topic")

// Apply reads a generic payload.
func (m Mapping) Apply(payload map[string]any) (Mapped, error) {
	out := Mapped{Event: m.EventName, Properties: payload}
	if m.Event != "" {
		out.Event = text(drip.Lookup(payload, m.Event))
		if !drip.ValidEventName(out.Event) {
			return Mapped{}, fmt.Errorf("%s: %q is not an event name", m.Event, out.Event)
		}
	}
	if m.Properties != "" {
		props, ok := drip.Lookup(payload, m.Properties).(map[string]any)
		if !ok {
			return Mapped{}, fmt.Errorf("%s: not an object", m.Properties)
		}
		out.Properties = props
	}
	out.Contact.Phone = text(drip.Lookup(payload, m.Phone))
	if out.Contact.Phone == "" {
		return Mapped{}, fmt.Errorf("%s: no phone number in the payload", m.Phone)
	}
	if m.Name != "" {
		out.Contact.Name = optional(text(drip.Lookup(payload, m.Name)))
	}
	if m.Email != "" {
		out.Contact.Email = optional(text(drip.Lookup(payload, m.Email)))
	}
	for attr, path := range m.Attributes {
		if v := drip.Lookup(payload, path); v != nil {
			if out.Contact.Attributes == nil {
				out.Contact.Attributes = map[string]any{}
			}
			out.Contact.Attributes[attr] = v
		}
	}
	return out, nil
}

// Shopify topics and the events they become. A checkout is an abandoned cart until its order
// arrives: sequences start on cart.abandoned and exit on order.placed.
var shopifyEvents = map[string]string{
	"orders/create":    "order.placed",
	"orders/fulfilled": "order.fulfilled",
	"orders/cancelled": "order.cancelled",
	"checkouts/create": "cart.abandoned",
	"checkouts/update": "cart.abandoned",
}

// ShopifyApply reads an order or checkout webhook.
func ShopifyApply(topic string, p map[string]any) (Mapped, error) {
	event := shopifyEvents[topic]
	if event == "" {
		return Mapped{}, ErrIgnored
	}
	out := Mapped{Event: event, Properties: map[string]any{}}
	for _, path := range []string{"phone", "customer.phone", "billing_address.phone", "shipping_address.phone"} {
		if out.Contact.Phone = text(drip.Lookup(p, path)); out.Contact.Phone != "" {
			break
		}
	}
	if out.Contact.Phone == "" {
		return Mapped{}, errors.New("the order or checkout has no phone number")
	}
	first := text(drip.Lookup(p, "customer.first_name"))
	if first == "" {
		first = text(drip.Lookup(p, "billing_address.first_name"))
	}
	last := text(drip.Lookup(p, "customer.last_name"))
	if name := strings.TrimSpace(first + " " + last); name != "" {
		out.Contact.Name = &name
	}
	out.Contact.Email = optional(text(drip.Lookup(p, "email")))
	props := map[string]string{
		"id": "id", "order_number": "name", "total_price": "total_price", "currency": "currency",
		"cart_token": "cart_token", "checkout_token": "token", "checkout_url": "abandoned_checkout_url",
		"order_status_url": "order_status_url", "first_name": "customer.first_name",
	}
	if strings.HasPrefix(topic, "orders/") {
		props["checkout_token"] = "checkout_token"
	}
	for key, path := range props {
		if v := drip.Lookup(p, path); v != nil {
			out.Properties[key] = v
		}
	}
	id := text(drip.Lookup(p, "id"))
	if strings.HasPrefix(topic, "checkouts/") {
		id = text(drip.Lookup(p, "token"))
	}
	if id != "" {
		out.Key = event + ":" + id
	}
	return out, nil
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
