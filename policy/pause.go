package policy

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/queries"
)

// PauseCause is why a campaign (a broadcast or a sequence) paused. It decides what may resume
// it: Meta approving a template resumes what that template's pause paused, never a pause by
// hand or one for another cause. The reason shown to people may be reworded freely.
type PauseCause string

// The causes, as the pause_cause columns store them.
const (
	PausedByUser        PauseCause = "user"
	PausedForQuality    PauseCause = "quality_red"  // the number's quality rating went RED
	PausedForChannel    PauseCause = "channel"      // Meta refused the number (token, account, payment)
	PausedForMetaError  PauseCause = "meta_error"   // Meta refused the step itself
	PausedForFailures   PauseCause = "failure_rate" // too many of its sends failed
	PausedForOptOuts    PauseCause = "opt_out_rate" // too many recipients opted out
	templatePausePrefix            = "template_"
)

// PausedForTemplate is the cause of a pause for a template Meta paused, disabled, rejected or
// sent back to review (the template's status).
func PausedForTemplate(status string) PauseCause { return PauseCause(templatePausePrefix + status) }

// TemplateCauses are the causes Meta's approval (or reinstatement, or listing it again) of a
// template lifts. A
// disabled template's pause is not among them: Meta disabling a template stops what uses it for
// good (StopForTemplate), and only a person resumes a sequence, with another template or not.
var TemplateCauses = []string{string(PausedForTemplate("paused")), string(PausedForTemplate("rejected")),
	string(PausedForTemplate("pending")), string(PausedForTemplate("deleted_on_meta"))}

// Pause is a pause: its cause, and the reason shown to people.
type Pause struct {
	Cause  PauseCause
	Reason string
}

// Automatic is a pause Dripcast made, with its reason written as the API shows it.
func Automatic(cause PauseCause, why string) Pause {
	return Pause{Cause: cause, Reason: "paused automatically: " + why}
}

// Column is the cause as the pause_cause columns take it.
func (c PauseCause) Column() *string {
	s := string(c)
	return &s
}

// PauseMarketingOnRed pauses the marketing broadcasts of a number whose quality rating went RED,
// as a webhook or the periodic refresh from Meta reports it.
func PauseMarketingOnRed(ctx context.Context, q *queries.Queries, channelID int64) error {
	p := Automatic(PausedForQuality, "quality rating RED")
	return q.PauseMarketingOfChannel(ctx, queries.PauseMarketingOfChannelParams{ChannelID: channelID, Reason: p.Reason,
		PauseCause: p.Cause.Column()})
}

// PauseBroadcast pauses a running broadcast; one that is no longer running is left as it is.
func PauseBroadcast(ctx context.Context, q *queries.Queries, accountID, id int64, p Pause) error {
	_, err := q.SetBroadcastStatus(ctx, queries.SetBroadcastStatusParams{Status: queries.BroadcastStatusPaused, Reason: p.Reason,
		PauseCause: p.Cause.Column(), AccountID: accountID, ID: id, FromStatuses: []queries.BroadcastStatus{queries.BroadcastStatusRunning}})
	return ignoreNoRows(err)
}

// PauseSequence pauses an active sequence; one that is no longer active is left as it is.
func PauseSequence(ctx context.Context, q *queries.Queries, accountID, id int64, p Pause) error {
	_, err := q.PauseSequence(ctx, queries.PauseSequenceParams{AccountID: accountID, ID: id, Reason: p.Reason, PauseCause: p.Cause.Column()})
	return ignoreNoRows(err)
}

// PauseForTemplate pauses the running broadcasts and the active sequences that send a template
// Meta paused or rejected (its status): every send of it would fail.
func PauseForTemplate(ctx context.Context, q *queries.Queries, template int64, status string) error {
	p := Automatic(PausedForTemplate(status), "template "+status+" by Meta")
	if err := q.PauseBroadcastsOfTemplate(ctx, queries.PauseBroadcastsOfTemplateParams{TemplateID: template, Reason: p.Reason,
		PauseCause: p.Cause.Column()}); err != nil {
		return err
	}
	return pauseSequencesOfTemplate(ctx, q, template, p)
}

// StopForTemplate stops what sends a template Meta disabled: its unfinished broadcasts are
// cancelled (their unsent messages skipped as template_disabled) and its active sequences paused
// until a person resumes them.
func StopForTemplate(ctx context.Context, q *queries.Queries, template int64) error {
	if _, err := q.CancelBroadcastsOfTemplate(ctx, queries.CancelBroadcastsOfTemplateParams{TemplateID: template,
		Reason: "cancelled automatically: template disabled by Meta"}); err != nil {
		return err
	}
	return pauseSequencesOfTemplate(ctx, q, template, Automatic(PausedForTemplate("disabled"), "template disabled by Meta"))
}

func pauseSequencesOfTemplate(ctx context.Context, q *queries.Queries, template int64, p Pause) error {
	seqs, err := q.ActiveSequencesOfTemplate(ctx, template)
	if err != nil {
		return err
	}
	for _, s := range seqs {
		if err := PauseSequence(ctx, q, s.AccountID, s.ID, p); err != nil {
			return err
		}
	}
	return nil
}

// FollowTemplate does to the campaigns of a template what its new status (Meta's, lower-cased)
// means: paused, rejected or back in review pauses them, disabled stops them, approved resumes
// them. Meta's webhook and the template sync both call it.
func FollowTemplate(ctx context.Context, q *queries.Queries, template int64, status string) error {
	switch status {
	case "paused", "rejected", "pending":
		return PauseForTemplate(ctx, q, template, status)
	case "disabled":
		return StopForTemplate(ctx, q, template)
	case "approved":
		return ResumeForTemplate(ctx, q, template)
	}
	return nil
}

// ResumeForTemplate resumes what a template's pause paused (TemplateCauses), once Meta approved
// it again; campaigns paused by hand or for another cause stay paused.
func ResumeForTemplate(ctx context.Context, q *queries.Queries, template int64) error {
	if err := q.ResumeBroadcastsOfTemplate(ctx, queries.ResumeBroadcastsOfTemplateParams{TemplateID: template,
		Causes: TemplateCauses}); err != nil {
		return err
	}
	seqs, err := q.PausedSequencesOfTemplate(ctx, queries.PausedSequencesOfTemplateParams{TemplateID: template, Causes: TemplateCauses})
	if err != nil {
		return err
	}
	for _, s := range seqs {
		if _, err := q.ResumeSequence(ctx, queries.ResumeSequenceParams{AccountID: s.AccountID, ID: s.ID}); ignoreNoRows(err) != nil {
			return err
		}
	}
	return nil
}

// ignoreNoRows: a campaign that changed state since it was read needs nothing more.
func ignoreNoRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}
