package importer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/invalid"
)

// MaxColumns bounds a CSV header.
const MaxColumns = 200

// Fields a CSV column can fill besides attributes.
var csvFields = []string{"phone", "name", "email", "tags", "time_zone", "opted_in"}

// CSV imports a file whose first line is a header. Columns map to fields by Options.Mapping, else
// by name (case-insensitive); any other column becomes an attribute named after its header.
func CSV(ctx context.Context, pool *pgxpool.Pool, accountID int64, r io.Reader, opts Options) (Result, error) {
	res := Result{Errors: []RowError{}}
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return res, invalid.Input("the file is empty; the first line must name the columns")
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return res, invalid.Input("the header line is not valid CSV: %s", pe.Err)
	}
	if err != nil {
		return res, fmt.Errorf("read csv: %w", err)
	}
	cols, ignored, err := mapColumns(header, opts.Mapping)
	if err != nil {
		return res, err
	}
	res.IgnoredColumns = ignored
	p := startPipeline(ctx, pool, accountID, opts, &res)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			p.reject(pe.StartLine, "not valid CSV: "+pe.Err.Error())
			continue
		}
		if err != nil {
			return res, p.finish(fmt.Errorf("read csv: %w", err))
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && rec[0] == "" {
			continue // a blank line
		}
		in, err := cols.input(rec)
		if err != nil {
			p.reject(line, err.Error())
			continue
		}
		if err := p.add(line, in); err != nil {
			return res, p.finish(err)
		}
	}
	return res, p.finish(nil)
}

// columns says which field each CSV column fills ("" for an ignored column).
type columns struct {
	fields []string
}

var nonWord = regexp.MustCompile(`[^a-z0-9_]+`)

func mapColumns(header []string, mapping map[string]string) (columns, []string, error) {
	if len(header) > MaxColumns {
		return columns{}, nil, invalid.Input("at most %d columns", MaxColumns)
	}
	byHeader := map[string]string{}
	for field, h := range mapping {
		if !validTarget(field) {
			return columns{}, nil, invalid.Input("mapping: %q is not a field; use %s or attributes.<name>", field, strings.Join(csvFields, ", "))
		}
		byHeader[strings.ToLower(strings.TrimSpace(h))] = field
	}
	c := columns{fields: make([]string, len(header))}
	var ignored []string
	used := map[string]bool{}
	for i, h := range header {
		if !utf8.ValidString(h) {
			return columns{}, nil, invalid.Input("column %d: the header is not valid UTF-8", i+1)
		}
		key := strings.ToLower(strings.TrimSpace(h))
		field, ok := byHeader[key]
		if !ok {
			field = defaultField(key)
			if _, mapped := mapping[field]; mapped {
				field = "" // the mapping names another column for this field
			}
		}
		if field == "" || used[field] {
			ignored = append(ignored, h)
			continue
		}
		used[field] = true
		c.fields[i] = field
	}
	for field := range mapping {
		if !used[field] {
			return columns{}, nil, invalid.Input("mapping: the file has no column %q for %s", mapping[field], field)
		}
	}
	if !used["phone"] {
		return columns{}, nil, invalid.Input(`no phone column: name one "phone" or map it with mapping={"phone":"<header>"}`)
	}
	return c, ignored, nil
}

func validTarget(field string) bool {
	if k, ok := strings.CutPrefix(field, "attributes."); ok {
		return contacts.AttributeKeyValid(k)
	}
	for _, f := range csvFields {
		if f == field {
			return true
		}
	}
	return false
}

// defaultField maps a header to a field of the same name, else to an attribute.
func defaultField(key string) string {
	for _, f := range csvFields {
		if key == f || strings.ReplaceAll(key, " ", "_") == f {
			return f
		}
	}
	name := strings.Trim(nonWord.ReplaceAllString(key, "_"), "_")
	if contacts.AttributeKeyValid(name) {
		return "attributes." + name
	}
	return ""
}

func (c columns) input(rec []string) (contacts.Input, error) {
	var in contacts.Input
	if len(rec) != len(c.fields) {
		return in, fmt.Errorf("has %d fields, the header has %d", len(rec), len(c.fields))
	}
	for i, v := range rec {
		f := c.fields[i]
		if f == "" {
			continue
		}
		if !utf8.ValidString(v) {
			return in, fmt.Errorf("%s: not valid UTF-8", f)
		}
		if err := set(&in, f, v); err != nil {
			return in, err
		}
	}
	return in, nil
}

func set(in *contacts.Input, field, v string) error {
	v = strings.TrimSpace(v)
	switch field {
	case "phone":
		in.Phone = v
	case "name":
		in.Name = &v
	case "email":
		in.Email = &v
	case "time_zone":
		in.TimeZone = &v
	case "tags":
		in.Tags = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == '|' })
	case "opted_in":
		if v == "" {
			return nil
		}
		b, ok := parseBool(v)
		if !ok {
			return fmt.Errorf("opted_in: %q is not yes/no, true/false or 1/0", v)
		}
		in.OptedIn = &b
	default:
		if v == "" {
			return nil
		}
		if in.Attributes == nil {
			in.Attributes = map[string]any{}
		}
		in.Attributes[strings.TrimPrefix(field, "attributes.")] = v
	}
	return nil
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "y", "t":
		return true, true
	case "0", "false", "no", "n", "f":
		return false, true
	}
	return false, false
}
