package policy

import "testing"

func TestShouldPause(t *testing.T) {
	t.Parallel()
	var def Settings
	cases := []struct {
		s                          Settings
		failed, optedOut, attempts int64
		cause                      PauseCause // "" for no pause
	}{
		{def, 90, 0, 99, ""},                 // too few sends to judge
		{def, 60, 0, 100, PausedForFailures}, // over half failed
		{def, 50, 0, 100, ""},                // exactly half: not over
		{def, 0, 11, 100, PausedForOptOuts},  // over 10 % opted out
		{def, 0, 10, 100, ""},
		{Settings{AutoPauseFailureRate: 1, AutoPauseOptOutRate: 1}, 100, 100, 100, ""}, // both checks off
		{Settings{AutoPauseFailureRate: 0.2}, 21, 0, 100, PausedForFailures},
	}
	for _, c := range cases {
		p, pause := c.s.ShouldPause(c.failed, c.optedOut, c.attempts)
		if pause != (c.cause != "") || p.Cause != c.cause || (pause && p.Reason == "") {
			t.Errorf("%+v %d/%d/%d: pause %v (%+v)", c.s, c.failed, c.optedOut, c.attempts, pause, p)
		}
	}
	s := Settings{OptOutKeywords: []string{" parar "}}
	if err := s.Validate(); err != nil || s.Keywords()[0] != "PARAR" {
		t.Fatalf("keywords: %v %v", s.Keywords(), err)
	}
	if len(def.Keywords()) == 0 {
		t.Fatal("no default keywords")
	}
}

func TestRateFactor(t *testing.T) {
	t.Parallel()
	var def Settings
	if def.RateFactor("YELLOW", "marketing") != 0.5 || def.RateFactor("YELLOW", "utility") != 1 || def.RateFactor("GREEN", "marketing") != 1 {
		t.Fatal("default quality policy")
	}
	if (Settings{YellowRateFactor: 0.2}).RateFactor("YELLOW", "marketing") != 0.2 {
		t.Fatal("the account's factor")
	}
}
