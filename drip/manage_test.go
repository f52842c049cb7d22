package drip

import (
	"context"
	"testing"
	"time"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
)

// A draft may be saved before it is complete; only a complete one activates, and an active
// sequence is never stored incomplete.
func TestIncompleteDraft(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Now())
	ctx, by := context.Background(), audit.Actor{AccountID: f.account, Name: "tester"}
	fieldOf := func(err error) string {
		e, ok := invalid.As(err)
		if !ok {
			t.Fatalf("want invalid input, got %v", err)
		}
		return e.Field
	}

	empty := SequenceInput{Name: "Welcome", ChannelID: f.channel}
	if _, err := CreateSequence(ctx, f.pool, by, empty); fieldOf(err) != "steps" {
		t.Fatalf("a complete save of no steps: %v", err)
	}
	empty.Incomplete = true
	draft, err := CreateSequence(ctx, f.pool, by, empty)
	if err != nil || draft.Status != queries.SequenceStatusDraft {
		t.Fatalf("an incomplete draft: %+v, %v", draft, err)
	}
	if _, err := Move(ctx, f.pool, by, draft.ID, ActionActivate); fieldOf(err) != "steps" {
		t.Fatalf("activating an incomplete draft: %v", err)
	}
	if err := Ready(ctx, queries.New(f.pool), f.account, draft); fieldOf(err) != "steps" {
		t.Errorf("Ready: %v", err)
	}

	full := SequenceInput{Name: "Welcome", ChannelID: f.channel, Definition: Definition{Steps: []Step{{TemplateID: f.template}}}}
	if _, err := UpdateSequence(ctx, f.pool, by, draft.ID, full); err != nil {
		t.Fatal(err)
	}
	active, err := Move(ctx, f.pool, by, draft.ID, ActionActivate)
	if err != nil || active.Status != queries.SequenceStatusActive {
		t.Fatalf("activating the completed draft: %+v, %v", active, err)
	}
	if _, err := UpdateSequence(ctx, f.pool, by, draft.ID, empty); fieldOf(err) != "steps" {
		t.Errorf("an active sequence saved incomplete: %v", err)
	}
	if now, _ := GetSequence(ctx, queries.New(f.pool), f.account, draft.ID); now.Version != 1 || len(now.Steps) != 1 {
		t.Errorf("after the refused edit: version %d, %d steps", now.Version, len(now.Steps))
	}
}
