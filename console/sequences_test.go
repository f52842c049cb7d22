package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/queries"
)

// sequenceOf makes a draft sequence of one step sending template tpl on the account's channel.
func (e *env) sequenceOf(account, tpl int64) int64 {
	e.t.Helper()
	var channel int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM channels WHERE account_id = $1`, account).Scan(&channel); err != nil {
		e.t.Fatal(err)
	}
	seq, err := drip.CreateSequence(context.Background(), e.pool, audit.Actor{AccountID: account}, drip.SequenceInput{Name: "Welcome",
		ChannelID: channel, Definition: drip.Definition{Steps: []drip.Step{{TemplateID: tpl}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return seq.ID
}

// A marketer activates, pauses, resumes and archives a sequence from its page, each audited as
// theirs; an analyst sees the page without the buttons.
func TestSequencePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	e.broadcastOf(account) // a channel and an approved template
	var tpl int64
	_ = e.pool.QueryRow(context.Background(), `SELECT id FROM templates WHERE account_id = $1`, account).Scan(&tpl)
	id := e.sequenceOf(account, tpl)
	b := e.signIn(account, "marketer")
	page := fmt.Sprintf("/sequences/%d", id)
	if _, body := b.do("GET", "/sequences", nil); !strings.Contains(body, page) {
		t.Fatal("the list lacks the sequence")
	}
	for _, step := range []struct{ action, want string }{{"activate", "active"}, {"pause", "paused"}, {"resume", "active"}, {"archive", "archived"}} {
		if _, body := b.do("GET", page, nil); !strings.Contains(body, `id="`+step.action+`"`) {
			t.Fatalf("no %s button", step.action)
		}
		if status, _ := b.do("POST", page+"/"+step.action, nil); status != http.StatusSeeOther {
			t.Fatalf("%s: %d", step.action, status)
		}
		s, _ := queries.New(e.pool).GetSequence(context.Background(), queries.GetSequenceParams{AccountID: account, ID: id})
		if string(s.Status) != step.want {
			t.Fatalf("after %s: %s", step.action, s.Status)
		}
	}
	if status, _ := b.do("POST", page+"/activate", nil); status != http.StatusConflict {
		t.Fatalf("activate an archived sequence: %d", status)
	}
	var audited int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE account_id = $1 AND target_id = $2
		AND action LIKE 'sequence.%' AND actor_user_id IS NOT NULL`, account, id).Scan(&audited)
	if audited != 4 {
		t.Fatalf("%d sequence changes audited as the user's, want 4", audited)
	}
	if status, body := e.signIn(account, "analyst").do("GET", page, nil); status != http.StatusOK || strings.Contains(body, `id="sequence-actions"`) {
		t.Fatalf("an analyst's view: %d", status)
	}
}
