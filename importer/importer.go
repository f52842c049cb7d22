// Package importer streams contacts from CSV or NDJSON into Postgres in batches. A bad row is
// reported with its line number and reason; the good rows are imported. The file is never held
// in memory: rows are read, checked and written a batch at a time.
package importer

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/queries"
)

// Options of one import.
type Options struct {
	DefaultCountry string            // region for numbers written without a country code
	Mapping        map[string]string // CSV only: field → header ("phone": "Mobile", "attributes.city": "Town")
	OptInSource    string            // recorded with opt-in values the file sets
	MaxRows        int
	BatchSize      int
}

// MaxReportedErrors bounds the rejected rows listed in a result; the count stays exact.
const MaxReportedErrors = 1000

// RowError is one rejected row.
type RowError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Result of an import.
type Result struct {
	Created         int        `json:"created"`
	Updated         int        `json:"updated"`
	Rejected        int        `json:"rejected"`
	Errors          []RowError `json:"errors"`
	ErrorsTruncated bool       `json:"errors_truncated"`
	IgnoredColumns  []string   `json:"ignored_columns,omitempty"`
}

// ErrTooManyRows stops an import at Options.MaxRows; the rows before it are kept.
var ErrTooManyRows = errors.New("too many rows")

// batcher collects rows, dedupes phones within a batch and writes full batches.
type batcher struct {
	ctx       context.Context
	q         *queries.Queries
	accountID int64
	opts      Options
	res       *Result
	rows      []contacts.Row
	index     map[string]int // phone → position in rows
	seen      int
}

func newBatcher(ctx context.Context, pool *pgxpool.Pool, accountID int64, opts Options, res *Result) *batcher {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	return &batcher{ctx: ctx, q: queries.New(pool), accountID: accountID, opts: opts, res: res,
		index: make(map[string]int, opts.BatchSize)}
}

// reject records a bad row.
func (b *batcher) reject(line int, reason string) {
	b.res.Rejected++
	if len(b.res.Errors) < MaxReportedErrors {
		b.res.Errors = append(b.res.Errors, RowError{Line: line, Reason: reason})
	} else {
		b.res.ErrorsTruncated = true
	}
}

// add checks one input row and queues it.
func (b *batcher) add(line int, in contacts.Input) error {
	b.seen++
	if b.opts.MaxRows > 0 && b.seen > b.opts.MaxRows {
		return errors.Join(fmt.Errorf("%w: an import holds at most %d rows", ErrTooManyRows, b.opts.MaxRows), b.flush())
	}
	if in.OptedIn != nil && in.OptInSource == "" {
		in.OptInSource = b.opts.OptInSource
	}
	row, err := in.Normalize(b.opts.DefaultCountry)
	if err != nil {
		b.reject(line, err.Error())
		return nil
	}
	if i, ok := b.index[row.Phone]; ok {
		b.rows[i] = contacts.Merge(b.rows[i], row)
		return nil
	}
	b.index[row.Phone] = len(b.rows)
	b.rows = append(b.rows, row)
	if len(b.rows) >= b.opts.BatchSize {
		return b.flush()
	}
	return nil
}

func (b *batcher) flush() error {
	if len(b.rows) == 0 {
		return nil
	}
	out, err := contacts.Upsert(b.ctx, b.q, b.accountID, b.rows)
	if err != nil {
		return err
	}
	b.res.Created += out.Created
	b.res.Updated += out.Updated
	b.rows = b.rows[:0]
	clear(b.index)
	return nil
}
