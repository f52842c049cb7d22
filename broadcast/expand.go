package broadcast

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/segment"
)

// ExpandChunk is how many contacts one expansion statement covers.
const ExpandChunk = 20000

// Expand writes the message rows of a broadcast, one INSERT … SELECT per chunk of contacts in id
// order. Each chunk commits with the broadcast's cursor, so a crashed expansion resumes where it
// stopped. Two expansions of one broadcast at once (a scheduler that lost its lead without knowing)
// collide on the unique (broadcast, contact) key: the loser's chunk rolls back and it goes on from
// the winner's cursor. (ON CONFLICT DO NOTHING would settle that too, but costs a quarter of the
// expansion's time on every row.) Contacts who did not opt in get a skipped row for a marketing
// template, with the reason.
func Expand(ctx context.Context, pool *pgxpool.Pool, b queries.Broadcast) error {
	q := queries.New(pool)
	aud, err := ParseAudience(b.Audience)
	if err != nil {
		return err
	}
	tpl, err := q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: b.AccountID, ID: b.TemplateID})
	if err != nil {
		return fmt.Errorf("broadcast %d: template: %w", b.ID, err)
	}
	var p segment.Params
	where, err := aud.where(ctx, q, b.AccountID, &p)
	if err != nil {
		return fmt.Errorf("broadcast %d: audience: %w", b.ID, err)
	}
	acct, err := q.GetAccount(ctx, b.AccountID)
	if err != nil {
		return err
	}
	freqCap, err := marketingCap(acct, tpl)
	if err != nil {
		return fmt.Errorf("account %d settings: %w", b.AccountID, err)
	}
	sql, cursorAt := expandSQL(where, &p, b, tpl.Category == "marketing", freqCap)
	cursor := b.ExpandCursor
	for {
		var n int64
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			p.Values[cursorAt] = cursor
			if err := tx.QueryRow(ctx, sql, p.Values...).Scan(&n, &cursor); err != nil {
				return err
			}
			return queries.New(tx).SetExpandCursor(ctx, queries.SetExpandCursorParams{ExpandCursor: cursor, ID: b.ID})
		})
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "23505" {
			if cursor, err = advancedCursor(ctx, q, b, cursor); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("broadcast %d: expand: %w", b.ID, err)
		}
		if n < ExpandChunk {
			return q.MarkExpanded(ctx, b.ID)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// advancedCursor is the cursor another expansion of the broadcast committed after a collision;
// an error if it did not move past ours (the collision was with something else).
func advancedCursor(ctx context.Context, q *queries.Queries, b queries.Broadcast, ours int64) (int64, error) {
	theirs, err := q.GetExpandCursor(ctx, queries.GetExpandCursorParams{ID: b.ID, AccountID: b.AccountID})
	if err != nil {
		return 0, fmt.Errorf("broadcast %d: expand: %w", b.ID, err)
	}
	if theirs <= ours {
		return 0, fmt.Errorf("broadcast %d: expand: a message row exists past the cursor %d", b.ID, ours)
	}
	return theirs, nil
}

// expandSQL is the statement of one chunk, its values added to p after the audience's; the
// cursor's value, at p.Values[cursorAt], changes from chunk to chunk. Without a frequency cap no
// contact's messages are looked up. With a send window, a message due outside it is due when it
// next opens in the contact's zone.
func expandSQL(where string, p *segment.Params, b queries.Broadcast, marketing bool, freqCap *policy.FrequencyCap) (sql string, cursorAt int) {
	cursor := p.Add(b.ExpandCursor)
	cursorAt = len(p.Values) - 1
	localDate, broadcastID, isMarketing := p.Add(localDate(b)), p.Add(b.ID), p.Add(marketing)
	due := `CASE WHEN ` + localDate + `::date IS NULL THEN ` + p.Add(sendAt(b)) + `::timestamptz
		     ELSE (` + localDate + `::date + ` + p.Add(localTime(b)) + `::time) AT TIME ZONE chunk.time_zone END`
	if b.SendWindow != nil {
		due = `next_send_window(` + due + `, chunk.time_zone, (SELECT send_window FROM broadcasts WHERE id = ` + broadcastID + `))`
	}
	return `WITH chunk AS (
	SELECT c.id, c.opted_in, c.time_zone, ` + cappedSQL(p, freqCap) + ` AS capped
	FROM contacts c
	WHERE ` + where + ` AND c.id > ` + cursor + `
	ORDER BY c.id LIMIT ` + p.Add(ExpandChunk) + `
), ins AS (
	INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, reason)
	SELECT ` + p.Add(b.AccountID) + `, ` + p.Add(b.ChannelID) + `, chunk.id, ` + p.Add(b.TemplateID) + `, ` + broadcastID + `,
		CASE WHEN ` + isMarketing + `::boolean AND (NOT chunk.opted_in OR chunk.capped) THEN 'skipped'::message_status ELSE 'pending' END,
		` + due + `,
		CASE WHEN ` + isMarketing + `::boolean AND NOT chunk.opted_in THEN 'opted_out'
		     WHEN ` + isMarketing + `::boolean AND chunk.capped THEN 'frequency_cap' END
	FROM chunk
)
SELECT count(*), COALESCE(max(id), ` + cursor + `) FROM chunk`, cursorAt
}

// marketingCap is the account's frequency cap when the template is marketing (nil otherwise).
func marketingCap(acct queries.Account, tpl queries.Template) (*policy.FrequencyCap, error) {
	if tpl.Category != "marketing" {
		return nil, nil
	}
	settings, err := policy.ParseSettings(acct.Settings)
	return settings.FrequencyCap, err
}

// cappedSQL tells whether contact c reached the frequency cap (false without one): without a cap
// no contact's messages are looked up.
func cappedSQL(p *segment.Params, freqCap *policy.FrequencyCap) string {
	if freqCap == nil {
		return "false"
	}
	return `(SELECT count(*) FROM messages m2 JOIN templates t2 ON t2.id = m2.template_id
			WHERE m2.contact_id = c.id AND t2.category = 'marketing'
			  AND m2.sent_at > now() - make_interval(days => ` + p.Add(freqCap.Days) + `::int)) >= ` + p.Add(freqCap.Max) + `::int`
}

func localDate(b queries.Broadcast) any {
	if b.LocalDate.Valid {
		return b.LocalDate.Time.Format(time.DateOnly)
	}
	return nil
}

func localTime(b queries.Broadcast) any {
	if b.LocalTime.Valid {
		d := time.Duration(b.LocalTime.Microseconds) * time.Microsecond
		return fmt.Sprintf("%02d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	}
	return nil
}

func sendAt(b queries.Broadcast) time.Time {
	if b.SendAt != nil {
		return *b.SendAt
	}
	return time.Now()
}
