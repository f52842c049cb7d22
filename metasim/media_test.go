package metasim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

// pngHead is enough of a PNG for content sniffing.
var pngHead = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")

// Uploads are checked as Meta checks them: the type, the size for that type, the content.
func TestMediaUpload(t *testing.T) {
	f := start(t, Config{})
	client := whatsapp.NewClient(f.url, "v23.0", 10*time.Second)
	ctx := context.Background()
	id, err := client.UploadMedia(ctx, "tok", "1001", "sale.png", "image/png", bytes.NewReader(pngHead))
	if err != nil || id == "" {
		t.Fatalf("upload: %q %v", id, err)
	}
	refused := map[string]struct {
		token, mime string
		body        []byte
		code        int
	}{
		"too large":   {"tok", "image/png", append(pngHead, make([]byte, 5<<20)...), codeMediaUpload},
		"gif":         {"tok", "image/gif", []byte("GIF89a"), codeMediaUpload},
		"not a png":   {"tok", "image/png", []byte("hello"), codeMediaUpload},
		"empty":       {"tok", "application/pdf", nil, codeMediaUpload},
		"other token": {"nope", "image/png", pngHead, codeToken},
	}
	for name, c := range refused {
		_, err := client.UploadMedia(ctx, c.token, "1001", "f", c.mime, bytes.NewReader(c.body))
		var apiErr *whatsapp.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != c.code {
			t.Errorf("%s: %v, want code %d", name, err, c.code)
		}
	}
	if got := f.sim.Counters().MediaUploads; got != 1 {
		t.Errorf("%d uploads counted, want 1", got)
	}
}

// A media header takes the media of the header's type, by an id this number uploaded or a link;
// an id Meta does not have fails the message after Meta took it.
func TestMediaHeaderChecked(t *testing.T) {
	f := start(t, Config{})
	f.sim.AddTemplate(Template{Name: "sale", Language: "en", Category: "marketing", Header: "IMAGE", Params: map[string]int{"header": 1}})
	id, err := whatsapp.NewClient(f.url, "v23.0", 10*time.Second).UploadMedia(context.Background(), "tok", "1001", "a.png", "image/png", bytes.NewReader(pngHead))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		param  string
		status int
		code   int
	}{
		{fmt.Sprintf(`{"type":"image","image":{"id":%q}}`, id), 200, 0},
		{`{"type":"image","image":{"link":"https://cdn.example/a.png"}}`, 200, 0},
		{`{"type":"image","image":{"id":"123"}}`, 200, 0}, // fails later: 131053
		{`{"type":"image","image":{"link":"https://gone.invalid/a.png"}}`, 200, 0},
		{`{"type":"video","video":{"link":"https://cdn.example/a.mp4"}}`, 400, codeFormatMismatch},
		{`{"type":"text","text":"hi"}`, 400, codeFormatMismatch},
		{`{"type":"image","image":{}}`, 400, codeParamMissing},
		{`{"type":"image","image":{"id":"1","link":"https://cdn.example/a.png"}}`, 400, codeParamInvalid},
		{`{"type":"image","image":{"link":"cdn.example/a.png"}}`, 400, codeParamInvalid},
	}
	for i, c := range cases {
		body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+1415555060%d","type":"template","biz_opaque_callback_data":"h%d",
			"template":{"name":"sale","language":{"code":"en"},"components":[{"type":"header","parameters":[%s]}]}}`, i, i, c.param)
		if status, code := f.post(t, body); status != c.status || code != c.code {
			t.Errorf("%s: %d %d, want %d %d", c.param, status, code, c.status, c.code)
		}
	}
	testenv.Eventually(t, "failed statuses", 5*time.Second, func() bool { return f.sim.Counters().FailedByCode[codeMediaUpload] == 2 })
	if got := f.sim.Records(0, "+14155550600"); len(got) != 1 || got[0].HeaderMedia != "id:"+id {
		t.Errorf("record of the uploaded id: %+v", got)
	}
}

// A location header takes a place with a latitude and a longitude in range.
func TestLocationHeaderChecked(t *testing.T) {
	f := start(t, Config{})
	f.sim.AddTemplate(Template{Name: "store", Language: "en", Category: "utility", Header: "LOCATION", Params: map[string]int{"header": 1}})
	for param, code := range map[string]int{
		`{"type":"location","location":{"latitude":"18.52","longitude":"73.85","name":"Pune store"}}`: 0,
		`{"type":"location","location":{"latitude":-33.9,"longitude":151.2}}`:                         0,
		`{"type":"location","location":{"latitude":"98","longitude":"73.85"}}`:                        codeParamInvalid,
		`{"type":"location","location":{"name":"Pune store"}}`:                                        codeParamMissing,
		`{"type":"image","image":{"link":"https://cdn.example/a.png"}}`:                               codeFormatMismatch,
	} {
		body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+14155550800","type":"template",
			"template":{"name":"store","language":{"code":"en"},"components":[{"type":"header","parameters":[%s]}]}}`, param)
		if _, got := f.post(t, body); got != code {
			t.Errorf("%s: code %d, want %d", param, got, code)
		}
		f.forgetPairs()
	}
}
