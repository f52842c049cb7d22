package importer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/invalid"
)

// MaxLineBytes bounds one NDJSON line.
const MaxLineBytes = 64 << 10

// NDJSON imports one JSON contact object per line, with the fields of the contacts API.
func NDJSON(ctx context.Context, pool *pgxpool.Pool, accountID int64, r io.Reader, opts Options) (Result, error) {
	res := Result{Errors: []RowError{}}
	p := startPipeline(ctx, pool, accountID, opts, &res)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		}
		if len(raw) == 0 {
			continue
		}
		in, err := decodeLine(raw)
		if err != nil {
			p.reject(line, err.Error())
			continue
		}
		if err := p.add(line, in); err != nil {
			return res, p.finish(err)
		}
	}
	err := sc.Err()
	if errors.Is(err, bufio.ErrTooLong) {
		err = invalid.Input("line %d is longer than %d bytes; the rows before it were imported", line+1, MaxLineBytes)
	}
	return res, p.finish(err)
}

func decodeLine(raw []byte) (contacts.Input, error) {
	var in contacts.Input
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, fmt.Errorf("not a contact object: %v", err)
	}
	if dec.More() {
		return in, errors.New("more than one JSON value on the line")
	}
	return in, nil
}
