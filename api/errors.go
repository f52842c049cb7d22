package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/dripcast/dripcast/invalid"
)

// Error is the one error type of the API: an HTTP status, a stable code clients can switch on,
// and a message for people.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Details any    `json:"details,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// The stable error codes.
const (
	CodeInvalidJSON      = "invalid_json"
	CodeValidation       = invalid.Code // the domain packages' invalid input answers with it too
	CodeNotFound         = invalid.CodeNotFound
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeRateLimited      = "rate_limited"
	CodeTooLarge         = "payload_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeConflict         = invalid.CodeConflict
	CodeUnavailable      = "unavailable"
	CodeNotVerified      = "meta_verification_failed"
	CodeInternal         = "internal_error"
)

func errValidation(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeValidation, Field: field, Message: fmt.Sprintf(format, args...)}
}

// errInvalid is the one translation of the domain packages' invalid input into the API's error.
func errInvalid(e *invalid.Error) *Error {
	status := http.StatusBadRequest
	switch e.Code {
	case invalid.CodeNotFound:
		status = http.StatusNotFound
	case invalid.CodeConflict:
		status = http.StatusConflict
	case invalid.CodeForbidden, invalid.CodeApprovalRequired:
		status = http.StatusForbidden
	case invalid.CodeGone:
		status = http.StatusGone
	}
	return &Error{Status: status, Code: e.Code, Field: e.Field, Message: e.Error(), Details: e.Details}
}

func errNotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: what + " not found"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}

// decodeJSON reads one JSON object from a size-limited body into v, refusing unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia, Message: "send the body as application/json"}
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return bodyError(err, limit)
	}
	if err := checkJSON(raw); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err, limit)
	}
	if dec.More() {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "the body holds more than one JSON value"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "unexpected data after the JSON object"}
	}
	return nil
}

func bodyError(err error, limit int64) error {
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var apiErr *Error
	switch {
	case errors.As(err, &apiErr): // a field's own check
		return apiErr
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: fmt.Sprintf("the body is larger than %d bytes", limit)}
	case errors.Is(err, io.EOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "the body is empty; send a JSON object"}
	case errors.As(err, &typeErr):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: typeErr.Field,
			Message: fmt.Sprintf("%s must be %s, not %s", typeErr.Field, kindName(typeErr.Type.Kind().String()), typeErr.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: strings.TrimPrefix(err.Error(), "json: ")}
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "the body is not valid JSON: " + err.Error()}
}

func kindName(k string) string {
	switch k {
	case "slice":
		return "a list"
	case "map", "struct":
		return "an object"
	case "ptr":
		return "a value of another type"
	}
	return "a " + k
}
