package api

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/importer"
	"github.com/dripcast/dripcast/invalid"
)

// importContacts streams a CSV or NDJSON file into contacts. Bad rows are listed with their line
// and reason; good rows are imported. If the import stops early (the file is too large, has too
// many rows, or the database fails) the rows before that point stay imported and the error says
// how many.
func (s *Server) importContacts(w http.ResponseWriter, r *http.Request) error {
	format, err := importFormat(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	opts := importer.Options{DefaultCountry: q.Get("default_country"), OptInSource: q.Get("opt_in_source"), MaxRows: s.opts.ImportMaxRows,
		Author: contacts.AuthorOf(caller(r.Context()).actor())}
	if opts.OptInSource == "" {
		opts.OptInSource = "import"
	}
	if _, err := contacts.CheckSource(opts.OptInSource); err != nil {
		return errValidation("opt_in_source", "%s", err.Error())
	}
	if m := q.Get("mapping"); m != "" {
		if format != "csv" {
			return errValidation("mapping", "mapping applies to CSV files only")
		}
		if err := json.Unmarshal([]byte(m), &opts.Mapping); err != nil {
			return errValidation("mapping", `mapping must be a JSON object such as {"phone":"Mobile","attributes.city":"Town"}`)
		}
	}
	ctx, p := r.Context(), caller(r.Context())
	body := http.MaxBytesReader(w, r.Body, s.opts.ImportMaxBytes)
	run := importer.CSV
	if format == "ndjson" {
		run = importer.NDJSON
	}
	res, err := run(ctx, s.db, p.AccountID, body, opts)
	if auditErr := s.audit(ctx, s.q, "contact.import", "contact", 0, nil,
		map[string]int{"created": res.Created, "updated": res.Updated, "rejected": res.Rejected}); auditErr != nil {
		err = errors.Join(err, auditErr)
	}
	if err != nil {
		return importError(err, res, s.opts.ImportMaxBytes)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func importFormat(r *http.Request) (string, error) {
	if f := r.URL.Query().Get("format"); f != "" {
		if f != "csv" && f != "ndjson" {
			return "", errValidation("format", "format must be csv or ndjson")
		}
		return f, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "text/csv":
		return "csv", nil
	case "application/x-ndjson", "application/ndjson", "application/jsonl":
		return "ndjson", nil
	}
	return "", &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
		Message: "send text/csv or application/x-ndjson, or say ?format=csv|ndjson"}
}

// importError reports why an import stopped, with the counts of what it did before.
func importError(err error, res importer.Result, maxBytes int64) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Details: res,
			Message: "the file is larger than the import limit; the rows before the limit were imported (see details)"}
	case errors.Is(err, importer.ErrTooManyRows):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Details: res,
			Message: err.Error() + "; the rows before the limit were imported (see details)"}
	}
	if input, ok := invalid.As(err); ok {
		e := errInvalid(input)
		e.Details = res
		return e
	}
	return err
}
