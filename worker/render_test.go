package worker

import (
	"testing"

	"github.com/dripcast/dripcast/queries"
)

// A template is parsed once for the sends that carry it unchanged, and again after an edit or
// with other overrides.
func TestParsedTemplatesFollowEdits(t *testing.T) {
	var p parsedTemplates
	m := queries.ClaimMessagesRow{TemplateID: 7, Components: []byte(`{"body":{"text":"Hi {{1}}"}}`),
		TemplateParameters: []byte(`{"body.1":{"source":"contact","field":"name"}}`), Parameters: []byte(`{}`)}
	first, err := p.template(m)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := p.template(m); again != first {
		t.Fatal("the same template was parsed twice")
	}
	edited := m
	edited.Components = []byte(`{"body":{"text":"Hello {{1}}"}}`)
	if got, _ := p.template(edited); got == first || got.Components.Body.Text != "Hello {{1}}" {
		t.Fatalf("after an edit: %+v", got.Components.Body)
	}
	overridden := edited
	overridden.Parameters = []byte(`{"body.1":{"source":"fixed","value":"friend"}}`)
	got, _ := p.template(overridden)
	if got.Parameters["body.1"].Value != "friend" {
		t.Fatalf("overrides not applied: %+v", got.Parameters)
	}
	if again, _ := p.template(edited); again.Parameters["body.1"].Value == "friend" {
		t.Fatal("one campaign's overrides reached another's sends")
	}
}
