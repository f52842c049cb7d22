package invalid

import (
	"errors"
	"fmt"
	"testing"
)

func TestWithinPlacesTheField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		parent string
		err    error
		field  string
	}{
		{"rules", Field("all[2].any[0]", "bad"), "rules.all[2].any[0]"},
		{"steps", Field("[3]", "bad"), "steps[3]"},
		{"send_window", Input("bad"), "send_window"},
		{"a", fmt.Errorf("wrapped: %w", Field("b", "bad")), "a.b"},
	}
	for _, c := range cases {
		e, ok := As(Within(c.parent, c.err))
		if !ok || e.Field != c.field || e.Code != Code || e.Message != "bad" {
			t.Errorf("Within(%q, %v) = %+v", c.parent, c.err, e)
		}
	}
	other := errors.New("the database is down")
	if Within("x", other) != other {
		t.Error("an error that is not invalid input must come back unchanged")
	}
}
