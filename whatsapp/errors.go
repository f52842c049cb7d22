package whatsapp

import (
	"errors"
	"fmt"
	"time"
)

// Class says what a sender does about an error. The send path consults this one table; no other
// code interprets Meta's error codes.
type Class int

const (
	// RetryNow: a transient failure on Meta's side before the message was taken; send again soon.
	RetryNow Class = iota + 1
	// RetryLater: not sent, and sending again soon would fail too; wait Classification.RetryAfter.
	RetryLater
	// RateLimited: a throughput, pair or app rate limit. Not a failure of the message: wait
	// RetryAfter (and slow down) and send again.
	RateLimited
	// Ambiguous: the request may have reached Meta (a timeout or reset after it was written, a
	// 5xx without Meta's error in it). Resending risks a duplicate; only message classes that allow that resend.
	Ambiguous
	// PermanentRecipient: this recipient cannot get this message; never retry it.
	PermanentRecipient
	// StopStep: the template or its parameters are wrong; every send of the same step would fail.
	StopStep
	// StopChannel: the number cannot send at all (token, account, payment, registration, policy).
	StopChannel
)

func (c Class) String() string {
	switch c {
	case RetryNow:
		return "retry_now"
	case RetryLater:
		return "retry_later"
	case RateLimited:
		return "rate_limited"
	case Ambiguous:
		return "ambiguous"
	case PermanentRecipient:
		return "permanent_recipient"
	case StopStep:
		return "stop_step"
	case StopChannel:
		return "stop_channel"
	}
	return "unknown"
}

// Classification of one error.
type Classification struct {
	Class      Class
	RetryAfter time.Duration // for RetryNow, RetryLater and RateLimited: the least wait
	OptOut     bool          // 131050: the user stopped marketing messages; record an opt-out
}

// Retryable tells whether the same message may be sent again (Ambiguous only for message
// classes that accept a duplicate).
func (c Classification) Retryable() bool {
	switch c.Class {
	case RetryNow, RetryLater, RateLimited, Ambiguous:
		return true
	}
	return false
}

// LaterAttempt tells whether a message that failed this way may get through when sent again
// hours or days later: Meta's temporary trouble, its rate limits and its per-user marketing cap
// (after RetryAfter). Never a recipient who cannot get it, opted out, a wrong template or a
// stopped number.
func (c Classification) LaterAttempt() bool {
	switch c.Class {
	case RetryNow, RetryLater, RateLimited:
		return !c.OptOut
	}
	return false
}

// MarketingRefused tells whether an error of the Marketing Messages API's endpoint means Meta
// will not take the number's marketing templates through it (the business has not accepted its
// terms, the number or template is not eligible, the app lacks the permission): they go through
// Cloud API instead. Meta's reference names 131055 and 134100 for a send the API does not take,
// and no code for a business not onboarded; a permission error is taken the same way. Such a
// refusal comes before Meta takes the message.
func MarketingRefused(err error) bool {
	var api *APIError
	if !errors.As(err, &api) {
		return false
	}
	switch c := api.Code; {
	case c == 131055, c == 134100, c == 3, c == 10, c >= 200 && c <= 299:
		return true
	}
	return false
}

// APIError is an error answer of the Cloud API.
type APIError struct {
	HTTPStatus int
	Code       int
	Type       string
	Message    string
	Details    string // error_data.details
	FBTraceID  string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("whatsapp: error %d (http %d): %s", e.Code, e.HTTPStatus, e.Message)
	if e.Details != "" {
		msg += ": " + e.Details
	}
	return msg
}

// TransportError is a call that got no answer. Written says whether the request was sent in full
// before it failed: if not, Meta cannot have acted on it.
type TransportError struct {
	Written bool
	Err     error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("whatsapp: transport (request written: %t): %v", e.Written, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// codes is the table: every Meta error code Dripcast knows, and what to do about it.
var codes = map[int]Classification{
	// Authentication, permissions, account state, payment, registration, policy.
	0:      {Class: StopChannel},
	3:      {Class: StopChannel},
	10:     {Class: StopChannel},
	190:    {Class: StopChannel},
	368:    {Class: StopChannel},
	131005: {Class: StopChannel},
	131031: {Class: StopChannel},
	131042: {Class: StopChannel},
	131045: {Class: StopChannel},
	133010: {Class: StopChannel},
	// Rate limits: not failures; wait and slow down.
	4:      {Class: RateLimited, RetryAfter: time.Minute},
	80007:  {Class: RateLimited, RetryAfter: time.Minute},
	130429: {Class: RateLimited, RetryAfter: time.Second},
	131056: {Class: RateLimited, RetryAfter: 6 * time.Second}, // then 4^n s
	131048: {Class: RateLimited, RetryAfter: time.Hour},       // spam rate limit: users block or report
	// Transient trouble at Meta before the message was taken.
	2:      {Class: RetryNow, RetryAfter: 30 * time.Second}, // API Service: down or overloaded for now
	131000: {Class: RetryNow, RetryAfter: 5 * time.Second},
	131016: {Class: RetryNow, RetryAfter: 30 * time.Second},
	131057: {Class: RetryLater, RetryAfter: time.Minute},      // maintenance, e.g. a throughput upgrade
	134101: {Class: RetryLater, RetryAfter: 10 * time.Minute}, // Marketing Messages API: the template is still syncing
	// Meta chose not to deliver (per-user marketing cap): never again at once.
	131049: {Class: RetryLater, RetryAfter: 24 * time.Hour},
	// This recipient cannot get this message.
	130472: {Class: PermanentRecipient},
	130497: {Class: PermanentRecipient},
	131021: {Class: PermanentRecipient},
	131026: {Class: PermanentRecipient},
	131047: {Class: PermanentRecipient},
	131050: {Class: PermanentRecipient, OptOut: true},
	131062: {Class: PermanentRecipient},
	// The template or its parameters are wrong: stop the step, not the channel.
	100:    {Class: StopStep},
	131008: {Class: StopStep},
	131009: {Class: StopStep},
	131051: {Class: StopStep},
	131052: {Class: StopStep},
	131053: {Class: StopStep},
}

// ClassifyCode classifies a Meta error code, as found in a send's answer or a failed status.
// 200–299 are permission errors and 132000–132016 template errors. An unknown code fails only
// this message (PermanentRecipient): a systematic one shows up as a rising failure rate, which
// pauses the campaign, instead of stopping a channel on a guess.
func ClassifyCode(code int) Classification {
	if c, ok := codes[code]; ok {
		return c
	}
	switch {
	case code >= 200 && code <= 299:
		return Classification{Class: StopChannel}
	case code >= 132000 && code <= 132016:
		return Classification{Class: StopStep}
	}
	return Classification{Class: PermanentRecipient}
}

// Classify classifies any error the client returns.
func Classify(err error) Classification {
	var api *APIError
	var tr *TransportError
	switch {
	case errors.As(err, &api):
		if api.HTTPStatus >= 500 && api.Code == 0 {
			// A gateway's error page, not Meta's answer: the request may have gone through. A 5xx
			// carrying Meta's error (131000 "Something went wrong") says the message was not taken.
			return Classification{Class: Ambiguous, RetryAfter: 5 * time.Second}
		}
		return ClassifyCode(api.Code)
	case errors.As(err, &tr):
		if !tr.Written {
			return Classification{Class: RetryNow, RetryAfter: time.Second}
		}
		return Classification{Class: Ambiguous, RetryAfter: 5 * time.Second}
	}
	return Classification{Class: Ambiguous, RetryAfter: 5 * time.Second}
}
