package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// checkJSON refuses what encoding/json would take but Dripcast must not: a string holding a NUL
// character (Postgres cannot store one, in text or jsonb), and an object with the same key twice,
// even in another case (encoding/json matches keys case-insensitively and keeps the last, so
// {"phone":"A","PHONE":"C"} would store C). A body that is not valid JSON is left to the decoder,
// which says why.
func checkJSON(raw []byte) *Error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	w := jsonWalk{dec: dec}
	if err := w.value(""); err != nil && err != errSyntax {
		return err.(*Error)
	}
	return nil
}

var errSyntax = &Error{}

type jsonWalk struct{ dec *json.Decoder }

func (w jsonWalk) value(path string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return errSyntax
	}
	switch t := tok.(type) {
	case string:
		return stringOK(path, t)
	case json.Delim:
		if t == '{' {
			return w.object(path)
		}
		if t == '[' {
			return w.array(path)
		}
	}
	return nil
}

func (w jsonWalk) object(path string) error {
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return errSyntax
		}
		key, _ := tok.(string)
		field := key
		if path != "" {
			field = path + "." + key
		}
		if err := stringOK(field, key); err != nil {
			return err
		}
		folded := strings.ToLower(key)
		if seen[folded] {
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: field,
				Message: fmt.Sprintf("%s is given twice (keys are matched regardless of case)", field)}
		}
		seen[folded] = true
		if err := w.value(field); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil { // }
		return errSyntax
	}
	return nil
}

func (w jsonWalk) array(path string) error {
	for i := 0; w.dec.More(); i++ {
		if err := w.value(path + "[" + strconv.Itoa(i) + "]"); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil { // ]
		return errSyntax
	}
	return nil
}

func stringOK(field, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return errValidation(field, "%s holds a NUL character (\\u0000), which cannot be stored", nameOr(field))
	}
	return nil
}

func nameOr(field string) string {
	if field == "" {
		return "the body"
	}
	return field
}

// checkQuery refuses a query parameter holding a NUL character, on every route.
func checkQuery(r *http.Request) *Error {
	if !strings.Contains(r.URL.RawQuery, "%00") {
		return nil
	}
	for name, values := range r.URL.Query() {
		for _, v := range values {
			if strings.IndexByte(v, 0) >= 0 || strings.IndexByte(name, 0) >= 0 {
				return errValidation(name, "the query parameter %s holds a NUL character, which cannot be stored", name)
			}
		}
	}
	return nil
}
