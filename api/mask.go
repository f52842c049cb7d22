package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/role"
)

// maskedFields hold a contact's phone number in any answer: analysts see them masked
// (+91******3210), whatever the route.
var maskedFields = map[string]bool{"phone": true, "wa_id": true, "phones": true, "to": true}

// errMaskedPhone refuses a role that sees phone numbers masked a way to learn them another way:
// a search, a filter or a rendering by phone.
var errMaskedPhone = &Error{Status: http.StatusForbidden, Code: CodeForbidden,
	Message: "this key's role sees phone numbers masked, so it cannot search, filter or render by phone"}

// seesPhones tells whether the caller sees phone numbers in clear.
func seesPhones(p principal) bool { return role.SeesPhones(p.Role) }

// maskingWriter buffers an answer for an analyst key and masks the phone numbers in it before it
// leaves: one place, so a new route cannot forget to.
type maskingWriter struct {
	w      http.ResponseWriter
	buf    bytes.Buffer
	status int
}

func newMaskingWriter(w http.ResponseWriter) *maskingWriter { return &maskingWriter{w: w} }

func (m *maskingWriter) Header() http.Header { return m.w.Header() }

func (m *maskingWriter) WriteHeader(status int) {
	if m.status == 0 {
		m.status = status
	}
}

func (m *maskingWriter) Write(b []byte) (int, error) {
	if m.status == 0 {
		m.status = http.StatusOK
	}
	return m.buf.Write(b)
}

// flush writes the masked answer, if the handler gave one.
func (m *maskingWriter) flush() {
	if m.status == 0 {
		return
	}
	body := m.buf.Bytes()
	switch ct := m.w.Header().Get("Content-Type"); {
	case strings.HasPrefix(ct, "application/json"):
		body = maskJSON(body)
	case strings.HasPrefix(ct, "text/csv"):
		body = maskCSV(body)
	}
	m.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	m.w.WriteHeader(m.status)
	_, _ = m.w.Write(body)
}

func maskJSON(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return body
	}
	out, err := json.Marshal(maskValue("", v))
	if err != nil {
		return body
	}
	return append(out, '\n')
}

func maskValue(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = maskValue(k, e)
		}
	case []any:
		for i, e := range x {
			x[i] = maskValue(key, e)
		}
	case string:
		if maskedFields[key] {
			return phone.Mask(x)
		}
	}
	return v
}

// maskCSV masks the columns whose header names a phone field.
func maskCSV(body []byte) []byte {
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(rows) == 0 {
		return body
	}
	var cols []int
	for i, h := range rows[0] {
		if maskedFields[h] {
			cols = append(cols, i)
		}
	}
	for _, row := range rows[1:] {
		for _, c := range cols {
			if c < len(row) {
				guard, number := "", row[c]
				if strings.HasPrefix(number, "'") { // neutralized for spreadsheets: keep the guard
					guard, number = "'", number[1:]
				}
				row[c] = guard + phone.Mask(number)
			}
		}
	}
	var out bytes.Buffer
	cw := csv.NewWriter(&out)
	_ = cw.WriteAll(rows)
	return out.Bytes()
}
