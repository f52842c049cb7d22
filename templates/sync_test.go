package templates

import (
	"context"
	"testing"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

func body(text string) whatsapp.TemplateComponent {
	return whatsapp.TemplateComponent{Type: "BODY", Text: text}
}

// A WABA's templates become the account's: new ones created with their parameters to map, what
// Dripcast cannot send skipped with the reason, the sources a person set kept when Meta's text
// changes (the new parameter named), and one Meta no longer lists kept as deleted_on_meta, its
// broadcast paused.
func TestSync(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	ctx := context.Background()
	var account int64
	if err := pool.QueryRow(ctx, `INSERT INTO accounts (name) VALUES ('a') RETURNING id`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	by := audit.Actor{AccountID: account, Name: "tester"}
	promo := whatsapp.MessageTemplate{Name: "promo", Language: "en", Status: "APPROVED", Category: "MARKETING",
		QualityScore: &whatsapp.QualityScore{Score: "GREEN"},
		Components: []whatsapp.TemplateComponent{{Type: "HEADER", Format: "IMAGE"}, body("Hi {{1}}, our sale starts today."),
			{Type: "FOOTER", Text: "Reply STOP to opt out"},
			{Type: "BUTTONS", Buttons: []whatsapp.TemplateButton{{Type: "URL", Text: "Shop", URL: "https://shop.example/{{1}}"},
				{Type: "QUICK_REPLY", Text: "Stop promotions"}, {Type: "PHONE_NUMBER", Text: "Call us", PhoneNumber: "+14155550100"}}}}}
	welcome := whatsapp.MessageTemplate{Name: "welcome", Language: "en_US", Status: "APPROVED", Category: "UTILITY",
		Components: []whatsapp.TemplateComponent{body("Welcome aboard!")}}
	named := whatsapp.MessageTemplate{Name: "named", Language: "en", Status: "APPROVED", Category: "UTILITY", ParameterFormat: "NAMED",
		Components: []whatsapp.TemplateComponent{body("Hi {{first_name}}, order {{order_id}} is on its way, {{first_name}}.")}}
	catalog := whatsapp.MessageTemplate{Name: "catalog", Language: "en", Status: "APPROVED", Category: "MARKETING",
		Components: []whatsapp.TemplateComponent{body("See what's new"), {Type: "BUTTONS", Buttons: []whatsapp.TemplateButton{{Type: "MPM", Text: "View items"}}}}}

	res, err := Sync(ctx, pool, by, "2001", []whatsapp.MessageTemplate{promo, welcome, named, catalog})
	if err != nil || res.Created != 3 || len(res.Skipped) != 1 || len(res.ToCheck) != 2 ||
		res.ToCheck[0].Note != "needs a source for body.1, button.0, header.media" ||
		res.ToCheck[1].Note != "needs a source for body.first_name, body.order_id" {
		t.Fatalf("first sync: %+v %v", res, err)
	}
	q := queries.New(pool)
	stored, err := q.TemplateByName(ctx, queries.TemplateByNameParams{AccountID: account, Name: "promo", Language: "en"})
	if err != nil || stored.Status != "approved" || stored.Category != "marketing" || stored.QualityScore != "GREEN" || *stored.WabaID != "2001" {
		t.Fatalf("promo stored: %+v %v", stored, err)
	}

	// A person maps the parameters; the same list again changes nothing.
	v, _ := ViewOf(stored)
	v.Parameters = Mapping{"body.1": {Source: "contact", Field: "first_name", Fallback: "there"}, "button.0": {Source: "fixed", Value: "sale"},
		"header.media": {Source: "fixed", Value: "https://shop.example/sale.jpg"}}
	if _, err := Update(ctx, pool, by, stored.ID, v.Template); err != nil {
		t.Fatal(err)
	}
	if res, err := Sync(ctx, pool, by, "2001", []whatsapp.MessageTemplate{promo, welcome, named}); err != nil || res.Unchanged != 3 || res.Updated != 0 {
		t.Fatalf("the same list: %+v %v", res, err)
	}

	// Meta's text gains a parameter, and welcome is no longer listed while a broadcast uses it.
	var broadcast int64
	if err := pool.QueryRow(ctx, `
		WITH p AS (INSERT INTO portfolios (account_id, name) VALUES ($1, 'p') RETURNING id),
		ch AS (INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc)
		       SELECT $1, id, '1001', '2001', '+14155550199', '\x00', '\x00' FROM p RETURNING id)
		INSERT INTO broadcasts (account_id, channel_id, template_id, name, status, audience)
		SELECT $1, ch.id, t.id, 'b', 'running', '{}' FROM ch, templates t WHERE t.name = 'welcome' RETURNING id`, account).Scan(&broadcast); err != nil {
		t.Fatal(err)
	}
	promo.Components[1] = body("Hi {{1}}, our sale in {{2}} starts today.")
	res, err = Sync(ctx, pool, by, "2001", []whatsapp.MessageTemplate{promo, named})
	if err != nil || res.Updated != 1 || res.DeletedOnMeta != 1 || len(res.ToCheck) != 1 || res.ToCheck[0].Note != "needs a source for body.2" {
		t.Fatalf("a changed text and a template gone: %+v %v", res, err)
	}
	stored, _ = q.TemplateByName(ctx, queries.TemplateByNameParams{AccountID: account, Name: "promo", Language: "en"})
	if v, _ := ViewOf(stored); v.Parameters["body.1"].Field != "first_name" || v.MappingNote != "needs a source for body.2" {
		t.Errorf("promo after the change: %+v", v)
	}
	var status, cause string
	_ = pool.QueryRow(ctx, `SELECT t.status, b.status || ' ' || b.pause_cause FROM templates t, broadcasts b
		WHERE t.name = 'welcome' AND b.id = $1`, broadcast).Scan(&status, &cause)
	if status != "deleted_on_meta" || cause != "paused template_deleted_on_meta" {
		t.Errorf("welcome: %s, its broadcast %s", status, cause)
	}
	// Listed again, it comes back and its broadcast resumes.
	if _, err := Sync(ctx, pool, by, "2001", []whatsapp.MessageTemplate{promo, welcome, named}); err != nil {
		t.Fatal(err)
	}
	_ = pool.QueryRow(ctx, `SELECT t.status, b.status FROM templates t, broadcasts b WHERE t.name = 'welcome' AND b.id = $1`, broadcast).Scan(&status, &cause)
	if status != "approved" || cause != "running" {
		t.Errorf("welcome listed again: %s, its broadcast %s", status, cause)
	}
}
