package api

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/dripcast/dripcast/metasim"
)

// pngFile is enough of a PNG for Meta's content check.
var pngFile = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR and the rest")

// A file for media headers is checked against Meta's types and limits before anything goes to
// Meta, uploaded to the channel's number, and listed; another account's channel is not found.
func TestMediaUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	e.sim.AddNumber(metasim.Number{PhoneNumberID: "100000000000011", WABAID: "200000000000011", DisplayNumber: "+14155550111", Token: "EAAG-media"})
	_, key := e.account("acme")
	_, other := e.account("other")
	p := e.call(key, "POST", "/v1/portfolios", map[string]any{"name": "Main"}).want(t, 201)
	ch := e.call(key, "POST", "/v1/channels", map[string]any{"portfolio_id": p.num("id"), "phone_number_id": "100000000000011",
		"waba_id": "200000000000011", "display_number": "+14155550111", "access_token": "EAAG-media", "app_secret": "s3cret-media"}).want(t, 201)
	path := fmt.Sprintf("/v1/channels/%d/media", ch.num("id"))

	got := e.upload(key, path, newUpload(t, "file", "sale.png", "image/png", pngFile)).want(t, 201)
	if got.Body["kind"] != "image" || got.Body["media_id"] == "" || got.num("size_bytes") != int64(len(pngFile)) || got.Body["expired"] != false {
		t.Fatalf("upload: %s", got.Raw)
	}
	// Without a type, the name's extension tells it.
	e.upload(key, path, newUpload(t, "file", "terms.pdf", "application/octet-stream", []byte("%PDF-1.7\n"))).want(t, 201)

	refused := map[string]struct {
		u      upload
		status int
		field  string
	}{
		"too large for an image": {newUpload(t, "file", "big.png", "image/png", append(bytes.Clone(pngFile), make([]byte, 5<<20)...)), 400, "file"},
		"a GIF":                  {newUpload(t, "file", "a.gif", "image/gif", []byte("GIF89a")), 400, "file"},
		"not what it says":       {newUpload(t, "file", "a.png", "image/png", []byte("<html>")), 400, "file"},
		"no type at all":         {newUpload(t, "file", "notes", "", []byte("x")), 400, "file"},
		"no file part":           {newUpload(t, "picture", "a.png", "image/png", pngFile), 400, "file"},
	}
	for name, c := range refused {
		r := e.upload(key, path, c.u).want(t, c.status)
		if r.errCode() != CodeValidation || r.Body["error"].(map[string]any)["field"] != c.field {
			t.Errorf("%s: %s", name, r.Raw)
		}
	}
	if r := e.send(key, "POST", path, "image/png", bytes.NewReader(pngFile)).want(t, 415); r.errCode() != CodeUnsupportedMedia {
		t.Errorf("a bare body: %s", r.Raw)
	}
	if n := e.sim.Counters().MediaUploads; n != 2 {
		t.Errorf("Meta took %d uploads, want 2 (nothing refused may reach it)", n)
	}
	list := e.call(key, "GET", path, nil).want(t, 200)
	if data := list.Body["data"].([]any); len(data) != 2 || data[0].(map[string]any)["media_id"] != got.Body["media_id"] {
		t.Errorf("list: %s", list.Raw)
	}
	e.upload(other, path, newUpload(t, "file", "sale.png", "image/png", pngFile)).want(t, 404)
	e.call(other, "GET", path, nil).want(t, 404)

	// A broadcast or a sequence naming the upload is accepted while Meta keeps the file, not once
	// it expired.
	tpl := e.call(key, "POST", "/v1/templates", map[string]any{"name": "sale", "language": "en", "category": "marketing",
		"components": map[string]any{"header": map[string]any{"format": "image"}, "body": map[string]any{"text": "Our sale starts today."}},
		"parameters": map[string]any{"header.media": map[string]any{"source": "fixed", "value": got.Body["media_id"]}}}).want(t, 201)
	broadcast := map[string]any{"name": "Sale", "channel_id": ch.num("id"), "template_id": tpl.num("id"), "audience": map[string]any{"tag": "x"}, "draft": true}
	e.call(key, "POST", "/v1/broadcasts", broadcast).want(t, 201)
	if _, err := e.pool.Exec(context.Background(), `UPDATE media SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if r := e.call(key, "POST", "/v1/broadcasts", broadcast).want(t, 400); r.Body["error"].(map[string]any)["field"] != "parameters.header.media" {
		t.Errorf("a broadcast of an expired upload: %s", r.Raw)
	}
	if r := e.call(key, "POST", "/v1/sequences", cartSequence(ch.num("id"), tpl.num("id"))).want(t, 400); r.Body["error"].(map[string]any)["field"] != "steps[0].parameters.header.media" {
		t.Errorf("a sequence of an expired upload: %s", r.Raw)
	}
}
