// Package importer streams contacts from CSV or NDJSON into Postgres in batches. A bad row is
// reported with its line number and reason; the good rows are imported. The file is never held
// in memory: rows are read, checked and written a batch at a time.
//
// Reading, checking and writing overlap: the reader cuts the file into batches, two goroutines
// normalize batches (phone parsing is the costly part), and one writer upserts them in file
// order, so a phone that appears twice keeps its last values.
package importer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/queries"
)

// Options of one import.
type Options struct {
	DefaultCountry string            // region for numbers written without a country code
	Mapping        map[string]string // CSV only: field → header ("phone": "Mobile", "attributes.city": "Town")
	OptInSource    string            // recorded with opt-in values the file sets
	Author         contacts.Author   // who imports
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

func (r *Result) reject(e RowError) {
	r.Rejected++
	if len(r.Errors) < MaxReportedErrors {
		r.Errors = append(r.Errors, e)
	} else {
		r.ErrorsTruncated = true
	}
}

// ErrTooManyRows stops an import at Options.MaxRows; the rows before it are kept.
var ErrTooManyRows = errors.New("too many rows")

// batch is a run of input rows on its way through the pipeline.
type batch struct {
	lines   []int
	inputs  []contacts.Input
	rejects []RowError // found by the reader (unparseable rows) and by normalization
	rows    []contacts.Row
	ready   chan struct{} // closed when normalized
}

// pipeline moves batches from the reader to the writer.
type pipeline struct {
	ctx       context.Context
	cancel    context.CancelFunc
	q         *queries.Queries
	accountID int64
	opts      Options
	res       *Result
	cur       *batch
	queue     chan *batch
	workers   chan struct{} // a slot per normalizing goroutine
	written   chan error
	seen      int
}

func startPipeline(ctx context.Context, pool *pgxpool.Pool, accountID int64, opts Options, res *Result) *pipeline {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &pipeline{ctx: ctx, cancel: cancel, q: queries.New(pool), accountID: accountID, opts: opts, res: res,
		queue: make(chan *batch, 4), workers: make(chan struct{}, 2), written: make(chan error, 1)}
	p.cur = p.newBatch()
	go p.write()
	return p
}

func (p *pipeline) newBatch() *batch {
	return &batch{ready: make(chan struct{}), lines: make([]int, 0, p.opts.BatchSize), inputs: make([]contacts.Input, 0, p.opts.BatchSize)}
}

// reject records a row the reader could not parse.
func (p *pipeline) reject(line int, reason string) {
	p.cur.rejects = append(p.cur.rejects, RowError{Line: line, Reason: reason})
}

// add queues one row; it fails when the file passes the row limit or the writer has failed.
func (p *pipeline) add(line int, in contacts.Input) error {
	p.seen++
	if p.opts.MaxRows > 0 && p.seen > p.opts.MaxRows {
		return fmt.Errorf("%w: an import holds at most %d rows", ErrTooManyRows, p.opts.MaxRows)
	}
	if in.OptedIn != nil && in.OptInSource == "" {
		in.OptInSource = p.opts.OptInSource
	}
	p.cur.lines = append(p.cur.lines, line)
	p.cur.inputs = append(p.cur.inputs, in)
	if len(p.cur.inputs) < p.opts.BatchSize {
		return nil
	}
	return p.send()
}

// send hands the current batch to a normalizer and to the writer's queue, in file order.
func (p *pipeline) send() error {
	b := p.cur
	p.cur = p.newBatch()
	select {
	case p.workers <- struct{}{}:
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
	go func() {
		defer func() { <-p.workers }()
		p.normalize(b)
	}()
	select {
	case p.queue <- b:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

func (p *pipeline) normalize(b *batch) {
	defer close(b.ready)
	index := make(map[string]int, len(b.inputs))
	for i, in := range b.inputs {
		row, err := in.Normalize(p.opts.DefaultCountry)
		if err != nil {
			b.rejects = append(b.rejects, RowError{Line: b.lines[i], Reason: err.Error()})
			continue
		}
		if j, ok := index[row.Phone]; ok {
			b.rows[j] = contacts.Merge(b.rows[j], row)
			continue
		}
		index[row.Phone] = len(b.rows)
		b.rows = append(b.rows, row)
	}
	slices.SortFunc(b.rejects, func(x, y RowError) int { return cmp.Compare(x.Line, y.Line) })
	// A fixed lock order: two imports touching the same phones cannot deadlock.
	slices.SortFunc(b.rows, func(x, y contacts.Row) int { return cmp.Compare(x.Phone, y.Phone) })
}

// write upserts batches in order. It owns the result until finish returns.
func (p *pipeline) write() {
	var err error
	for b := range p.queue {
		<-b.ready
		if err != nil {
			continue // drain after a failure
		}
		for _, r := range b.rejects {
			p.res.reject(r)
		}
		if len(b.rows) == 0 {
			continue
		}
		var out contacts.Outcome
		if out, err = contacts.Upsert(p.ctx, p.q, p.accountID, b.rows, p.opts.Author); err != nil {
			p.cancel()
			continue
		}
		p.res.Created += out.Created
		p.res.Updated += out.Updated
	}
	p.written <- err
}

// finish writes what is queued and waits for it. cause is why reading stopped early (nil at the
// end of the file); it is returned with any write error, after the rows before it are written.
func (p *pipeline) finish(cause error) error {
	if p.ctx.Err() == nil && (len(p.cur.inputs) > 0 || len(p.cur.rejects) > 0) {
		if err := p.send(); err != nil && cause == nil {
			cause = err
		}
	}
	close(p.queue)
	err := <-p.written
	p.cancel()
	if err != nil && errors.Is(cause, context.Canceled) {
		cause = nil // the reader stopped because the writer failed: err says why
	}
	return errors.Join(cause, err)
}
