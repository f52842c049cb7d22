package whatsapp

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Every code of the table, one by one, as the issue and Meta's reference list them.
func TestClassifyCode(t *testing.T) {
	t.Parallel()
	want := map[int]Class{
		0: StopChannel, 3: StopChannel, 10: StopChannel, 190: StopChannel, 200: StopChannel, 250: StopChannel, 299: StopChannel,
		368: StopChannel, 131005: StopChannel, 131031: StopChannel, 131042: StopChannel, 131045: StopChannel, 133010: StopChannel,
		4: RateLimited, 80007: RateLimited, 130429: RateLimited, 131056: RateLimited, 131048: RateLimited,
		131000: RetryNow, 131016: RetryNow, 131057: RetryLater, 131049: RetryLater,
		130472: PermanentRecipient, 130497: PermanentRecipient, 131021: PermanentRecipient, 131026: PermanentRecipient,
		131047: PermanentRecipient, 131050: PermanentRecipient, 131062: PermanentRecipient,
		100: StopStep, 131008: StopStep, 131009: StopStep, 131051: StopStep, 131052: StopStep, 131053: StopStep,
		132000: StopStep, 132001: StopStep, 132005: StopStep, 132007: StopStep, 132012: StopStep, 132015: StopStep, 132016: StopStep,
		999999: PermanentRecipient, 300: PermanentRecipient,
	}
	for code, class := range want {
		if got := ClassifyCode(code); got.Class != class {
			t.Errorf("code %d: %s, want %s", code, got.Class, class)
		}
	}
	if !ClassifyCode(131050).OptOut || ClassifyCode(131026).OptOut {
		t.Error("only 131050 records an opt-out")
	}
	if c := ClassifyCode(131049); c.RetryAfter < 24*time.Hour || !c.Retryable() {
		t.Errorf("131049 (marketing cap) must wait a day: %+v", c)
	}
	for _, code := range []int{130429, 131056, 4, 80007} {
		if c := ClassifyCode(code); c.RetryAfter <= 0 || !c.Retryable() {
			t.Errorf("rate limit %d: %+v", code, c)
		}
	}
	for _, code := range []int{131026, 131050, 132001, 190} {
		if ClassifyCode(code).Retryable() {
			t.Errorf("%d is retryable", code)
		}
	}
}

func TestMarketingRefused(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]bool{
		&APIError{HTTPStatus: 400, Code: 134100}: true, &APIError{HTTPStatus: 400, Code: 131055}: true,
		&APIError{HTTPStatus: 403, Code: 10}: true, &APIError{HTTPStatus: 403, Code: 200}: true,
		&APIError{HTTPStatus: 400, Code: 134101}: false, // still syncing: later, through the API
		&APIError{HTTPStatus: 400, Code: 131026}: false, &APIError{HTTPStatus: 429, Code: 130429}: false,
		&TransportError{Written: true, Err: errors.New("timeout")}: false, // Meta may have taken it
	} {
		if got := MarketingRefused(err); got != want {
			t.Errorf("%v: %t, want %t", err, got, want)
		}
	}
}

func TestClassifyErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want Class
	}{
		{&APIError{HTTPStatus: 400, Code: 131026}, PermanentRecipient},
		{&APIError{HTTPStatus: 429, Code: 130429}, RateLimited},
		{&APIError{HTTPStatus: 500, Code: 131000}, RetryNow}, // Meta's own answer: not taken
		{&APIError{HTTPStatus: 503}, Ambiguous},
		{&APIError{HTTPStatus: 401, Code: 190}, StopChannel},
		{&TransportError{Written: false, Err: errors.New("connection refused")}, RetryNow},
		{&TransportError{Written: true, Err: errors.New("timeout")}, Ambiguous},
		{fmt.Errorf("send: %w", &TransportError{Written: true, Err: errors.New("reset")}), Ambiguous},
		{errors.New("something else"), Ambiguous},
	}
	for _, c := range cases {
		if got := Classify(c.err); got.Class != c.want || !got.Retryable() && (c.want == RetryNow || c.want == Ambiguous) {
			t.Errorf("%v: %s, want %s", c.err, got.Class, c.want)
		}
	}
}
