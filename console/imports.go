package console

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/importer"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/spreadsheet"
)

// The contact import: a CSV or NDJSON file streamed from the browser into the importer (never
// held whole), its result kept with its rejected rows so they can be downloaded.

// maxUploadField bounds one text field of the upload form.
const maxUploadField = 64 << 10

func (c *Console) importPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.showImport(w, r, v, http.StatusOK, &form{Values: map[string][]string{"opt_in_source": {"import"}}, Errors: map[string]string{}})
}

func (c *Console) showImport(w http.ResponseWriter, r *http.Request, v *visit, status int, f *form) error {
	past, err := c.q.ListImports(r.Context(), queries.ListImportsParams{AccountID: v.sess.AccountID, Lim: 20})
	if err != nil {
		return err
	}
	sources := append([]string{"import"}, consentSources()...)
	c.render(w, r, v, status, "import", "Import contacts", map[string]any{"Form": f, "Sources": sources, "Past": past})
	return nil
}

// upload reads a multipart form as the browser sends it, fields in page order: the CSRF token
// first (checked before anything else is read), then the options, then the file, whose part is
// returned unread.
func (c *Console) upload(w http.ResponseWriter, r *http.Request, v *visit, limit int64) (*form, *multipart.Part, error) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, errPage(http.StatusBadRequest, "Send the file with the page's form.")
	}
	f := &form{Values: map[string][]string{}, Errors: map[string]string{}}
	for first := true; ; first = false {
		part, err := mr.NextPart()
		if err != nil {
			return nil, nil, errPage(http.StatusBadRequest, "The form ended before its file.")
		}
		if part.FileName() != "" || part.FormName() == "file" {
			return f, part, nil
		}
		b, err := io.ReadAll(io.LimitReader(part, maxUploadField))
		if err != nil {
			return nil, nil, err
		}
		if first {
			if part.FormName() != "csrf" || !sameToken(string(b), v.csrf) {
				return nil, nil, errCSRF
			}
			continue
		}
		f.Values.Set(part.FormName(), string(b))
	}
}

// importOptions reads the form's options: the country of numbers without a code, the source
// recorded with the consent the file sets, what happens to contacts already known (updated, or
// only filled in), and for a CSV the columns' fields, one per line as field = column header.
func importOptions(f *form, author contacts.Author, maxRows int) importer.Options {
	// "fill": a known contact only gains what it lacks (no rename, no change of consent).
	author.Fill = f.Get("existing") == "fill"
	opts := importer.Options{DefaultCountry: strings.ToUpper(strings.TrimSpace(f.Get("default_country"))), OptInSource: f.Get("opt_in_source"),
		Author: author, MaxRows: maxRows}
	if _, err := contacts.CheckSource(opts.OptInSource); err != nil {
		f.Errors["opt_in_source"] = "choose where the file's consent came from"
	}
	for i, line := range strings.Split(f.Get("mapping"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		field, column, ok := strings.Cut(line, "=")
		if !ok {
			f.Errors["mapping"] = fmt.Sprintf("line %d: write field = column, such as phone = Mobile", i+1)
			break
		}
		if opts.Mapping == nil {
			opts.Mapping = map[string]string{}
		}
		opts.Mapping[strings.TrimSpace(field)] = strings.TrimSpace(column)
	}
	return opts
}

// runImport imports the uploaded file and shows its result; rows before a stop (the file too
// large, too many rows) stay imported and the result says why it stopped.
func (c *Console) runImport(w http.ResponseWriter, r *http.Request, v *visit) error {
	f, file, err := c.upload(w, r, v, c.opts.ImportMaxBytes)
	if err != nil {
		return err
	}
	name := path.Base(file.FileName())
	by := v.sess.Actor(v.ip)
	opts := importOptions(f, contacts.AuthorOf(by), c.opts.ImportMaxRows)
	run := importer.CSV
	switch strings.ToLower(path.Ext(name)) {
	case ".ndjson", ".jsonl":
		run = importer.NDJSON
		if opts.Mapping != nil {
			f.Errors["mapping"] = "a mapping applies to CSV files only"
		}
	case ".csv", ".txt":
	default:
		f.Errors["file"] = "choose a .csv or an .ndjson file"
	}
	if !f.ok() {
		return c.showImport(w, r, v, http.StatusBadRequest, f)
	}
	res, runErr := run(r.Context(), c.db, v.sess.AccountID, file, opts)
	stopped := ""
	if runErr != nil {
		var tooLarge *http.MaxBytesError
		switch e, isInput := invalid.As(runErr); {
		case errors.As(runErr, &tooLarge):
			stopped = fmt.Sprintf("the file is larger than the import limit (%d MiB); the rows before it were imported", c.opts.ImportMaxBytes>>20)
		case errors.Is(runErr, importer.ErrTooManyRows):
			stopped = "the file has more rows than the import limit; the rows before it were imported"
		case isInput && res.Created+res.Updated+res.Rejected == 0:
			f.Errors["mapping"] = e.Error() // the header or the mapping: nothing was read
			return c.showImport(w, r, v, http.StatusBadRequest, f)
		default:
			return runErr
		}
	}
	id, err := c.recordImport(r, by, name, res, stopped)
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/contacts/imports/%d", id), http.StatusSeeOther)
	return nil
}

// recordImport keeps an import's result and audits it as the API does.
func (c *Console) recordImport(r *http.Request, by audit.Actor, name string, res importer.Result, stopped string) (int64, error) {
	rows, _ := json.Marshal(res.Errors)
	if res.Errors == nil {
		rows = []byte("[]")
	}
	ctx := r.Context()
	id, err := c.q.CreateImport(ctx, queries.CreateImportParams{AccountID: by.AccountID, FileName: name, Created: int32(res.Created),
		Updated: int32(res.Updated), Rejected: int32(res.Rejected), Errors: rows, Stopped: stopped, UserID: &by.UserID})
	if err != nil {
		return 0, err
	}
	return id, audit.Record(ctx, c.q, by, "contact.import", "contact", 0, nil,
		map[string]int{"created": res.Created, "updated": res.Updated, "rejected": res.Rejected})
}

func (c *Console) importOf(r *http.Request, v *visit) (queries.Import, []importer.RowError, error) {
	id, err := pathID(r)
	if err != nil {
		return queries.Import{}, nil, err
	}
	imp, err := c.q.GetImport(r.Context(), queries.GetImportParams{AccountID: v.sess.AccountID, ID: id})
	if err != nil {
		return imp, nil, noPageIfMissing(err)
	}
	var rows []importer.RowError
	err = json.Unmarshal(imp.Errors, &rows)
	return imp, rows, err
}

func (c *Console) importResult(w http.ResponseWriter, r *http.Request, v *visit) error {
	imp, rows, err := c.importOf(r, v)
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "import-result", "Import of "+imp.FileName, map[string]any{"I": imp, "Rows": rows,
		"Truncated": int(imp.Rejected) > len(rows)})
	return nil
}

// rejectsCSV downloads an import's rejected rows: line and reason.
func (c *Console) rejectsCSV(w http.ResponseWriter, r *http.Request, v *visit) error {
	imp, rows, err := c.importOf(r, v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="import-%d-rejected.csv"`, imp.ID))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"line", "reason"})
	for _, row := range rows {
		_ = cw.Write([]string{strconv.Itoa(row.Line), spreadsheet.SafeCell(row.Reason)})
	}
	cw.Flush()
	return cw.Error()
}
