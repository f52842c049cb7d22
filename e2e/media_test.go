package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// A broadcast of a template with an image header: a file uploaded through the API is the
// default, and a contact's own picture (an attribute) wins; metasim checks the media as Meta
// does, and a link Meta cannot fetch fails that one message with 131053 in the funnel.
func TestMediaHeaders(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{TimeScale: 100}, 1000)
	channel, _ := s.setup("unlimited")
	s.sim.AddTemplate(metasim.Template{Name: "catalogue", Language: "en", Category: "marketing", Header: "IMAGE",
		Params: map[string]int{"header": 1, "body": 1}})
	mediaID := s.uploadPNG(channel, "autumn.png")

	tpl := s.call("POST", "/v1/templates", map[string]any{"name": "catalogue", "language": "en", "category": "marketing",
		"components": map[string]any{"header": map[string]any{"format": "image"}, "body": map[string]any{"text": "Hi {{1}}, the new catalogue is out."}},
		"parameters": map[string]any{"header.media": map[string]any{"source": "attribute", "key": "photo", "fallback": mediaID},
			"body.1": map[string]any{"source": "contact", "field": "first_name", "fallback": "there"}}}, 201)
	photos := map[string]string{"+12125550401": "https://cdn.example/asha.png", "+12125550402": "", "+12125550403": "https://gone.invalid/ravi.png"}
	for phone, photo := range photos {
		c := map[string]any{"phone": phone, "opted_in": true, "tags": []string{"media"}}
		if photo != "" {
			c["attributes"] = map[string]any{"photo": photo}
		}
		s.call("POST", "/v1/contacts", c, 201)
	}
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Catalogue", "channel_id": channel, "template_id": tpl["id"],
		"audience": map[string]any{"tag": "media"}}, 201)
	id := int64(b["id"].(float64))
	testenv.Eventually(t, "the broadcast's funnel settled", 30*time.Second, func() bool {
		failed, _ := s.report(id)["failed"].(map[string]any)
		return s.status(id) == "completed" && failed["131053"] == 1.0
	})
	want := map[string]string{"+12125550401": "link:https://cdn.example/asha.png", "+12125550402": "id:" + mediaID,
		"+12125550403": "link:https://gone.invalid/ravi.png"}
	for phone, media := range want {
		if recs := s.sim.Records(0, phone); len(recs) != 1 || recs[0].HeaderMedia != media || !recs[0].Accepted() {
			t.Errorf("%s: Meta got %+v, want header %s", phone, recs, media)
		}
	}
	if c := s.sim.Counters(); len(c.RefusedByCode) != 0 || c.MediaUploads != 1 {
		t.Errorf("metasim: %+v", c)
	}
}

// uploadPNG uploads a small PNG to the channel through the API and answers its media id.
func (s *stack) uploadPNG(channel int64, name string) string {
	s.t.Helper()
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	h.Set("Content-Type", "image/png")
	part, _ := form.CreatePart(h)
	_, _ = part.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"))
	_ = form.Close()
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/v1/channels/%d/media", s.api, channel), &body)
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", form.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		MediaID string `json:"media_id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusCreated || out.MediaID == "" {
		s.t.Fatalf("upload: %d %v %+v", res.StatusCode, err, out)
	}
	return out.MediaID
}
