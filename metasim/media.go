package metasim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dripcast/dripcast/whatsapp"
)

// Meta's error codes for media.
const (
	codeParamMissing   = 131008
	codeParamInvalid   = 131009
	codeMediaUpload    = 131053
	codeFormatMismatch = 132012
)

// upload is a file a number uploaded; only its owner and time are kept, not its bytes.
type upload struct {
	numberID string
	mimeType string
	at       time.Time // sim
}

// handleUpload takes POST /{phone-number-id}/media as Meta does: multipart with messaging_product
// "whatsapp", the file and its type, checked against Meta's types and size limits; it answers the
// media id, which that number's messages may use for 30 days.
func (s *Sim) handleUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	n, ok := s.numbers[id]
	s.mu.Unlock()
	switch {
	case !ok:
		writeMetaError(w, metaError{http.StatusBadRequest, codeInvalidParam, fmt.Sprintf("(#100) Unsupported post request. Object with ID '%s' does not exist", id)})
		return
	case bearer(r) != n.Token:
		writeMetaError(w, errBadToken)
		return
	}
	form, e := readUpload(w, r)
	if e != nil {
		writeMetaError(w, *e)
		return
	}
	s.mu.Lock()
	s.seq++
	mediaID := fmt.Sprintf("%d", 7_000_000_000+s.seq)
	s.uploads[mediaID] = upload{numberID: id, mimeType: form.mimeType, at: s.now()}
	s.counters.uploads++
	s.mu.Unlock()
	writeJSON(w, map[string]string{"id": mediaID})
}

type uploadForm struct {
	product, mimeType, partType string
	size                        int64
	head                        []byte
	file                        bool
}

// readUpload reads the multipart form, counting the file's bytes without keeping them.
func readUpload(w http.ResponseWriter, r *http.Request) (uploadForm, *metaError) {
	var f uploadForm
	r.Body = http.MaxBytesReader(w, r.Body, whatsapp.MaxMediaBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return f, &metaError{http.StatusBadRequest, codeInvalidParam, "(#100) The request must be multipart/form-data"}
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return f, &metaError{http.StatusBadRequest, codeInvalidParam, "(#100) The multipart body could not be read"}
		}
		switch part.FormName() {
		case "messaging_product", "type":
			v, _ := io.ReadAll(io.LimitReader(part, 256))
			if part.FormName() == "type" {
				f.mimeType = string(v)
			} else {
				f.product = string(v)
			}
		case "file":
			var head bytes.Buffer
			n, err := io.Copy(&head, io.LimitReader(part, 512))
			if err == nil {
				var rest int64
				rest, err = io.Copy(io.Discard, part)
				n += rest
			}
			if err != nil {
				return f, &metaError{http.StatusRequestEntityTooLarge, codeMediaUpload, "(#131053) Media upload error: the file is larger than any Meta takes"}
			}
			f.file, f.size, f.head, f.partType = true, n, head.Bytes(), part.Header.Get("Content-Type")
		}
	}
	switch {
	case f.product != "whatsapp":
		return f, &metaError{http.StatusBadRequest, codeInvalidParam, "(#100) The parameter messaging_product is required"}
	case !f.file:
		return f, &metaError{http.StatusBadRequest, codeInvalidParam, "(#100) The parameter file is required"}
	case f.mimeType == "":
		return f, &metaError{http.StatusBadRequest, codeInvalidParam, "(#100) The parameter type is required"}
	case f.partType != "" && f.partType != f.mimeType:
		return f, &metaError{http.StatusBadRequest, codeMediaUpload, fmt.Sprintf("(#131053) Media upload error: the file is %s, the type says %s", f.partType, f.mimeType)}
	}
	if err := whatsapp.CheckMedia(f.mimeType, f.size, f.head); err != nil {
		return f, &metaError{http.StatusBadRequest, codeMediaUpload, "(#131053) Media upload error: " + err.Error()}
	}
	return f, nil
}

// checkLocation checks a location header's place as Meta does: latitude and longitude, numbers
// (or strings of them) of degrees in range.
func checkLocation(raw json.RawMessage) *metaError {
	var loc struct {
		Latitude, Longitude json.Number
	}
	if json.Unmarshal(raw, &loc) != nil || loc.Latitude == "" || loc.Longitude == "" {
		return &metaError{http.StatusBadRequest, codeParamMissing, "(#131008) Required parameter is missing: header location needs latitude and longitude"}
	}
	lat, err1 := loc.Latitude.Float64()
	long, err2 := loc.Longitude.Float64()
	if err1 != nil || err2 != nil || math.Abs(lat) > 90 || math.Abs(long) > 180 {
		return &metaError{http.StatusBadRequest, codeParamInvalid, "(#131009) Parameter value is not valid: header location latitude or longitude"}
	}
	return nil
}

// headerFormat is the template's header as Meta approved it: TEXT, IMAGE, VIDEO, DOCUMENT or
// LOCATION.
func (t *Template) headerFormat() string {
	for _, c := range t.Components {
		if strings.EqualFold(c.Type, "HEADER") {
			return strings.ToUpper(cmp.Or(c.Format, "TEXT"))
		}
	}
	return strings.ToUpper(cmp.Or(t.Header, "TEXT"))
}

// checkHeader checks a send's header parameter against the template's header as Meta does: its
// type must be the header's; a location needs its place (checkLocation); media a link or an id
// (not both). It answers what the record notes of the media ("id:…" or "link:…") and the code
// the message will fail with: a media id this number did not upload or that expired, or a link
// Meta cannot fetch (a host under .invalid), fails after Meta took the message, with 131053.
func (s *Sim) checkHeader(numberID string, t *Template, req sendRequest) (string, int, *metaError) {
	format := strings.ToLower(t.headerFormat())
	for _, c := range req.Template.Components {
		if c.Type != "header" {
			continue
		}
		for _, raw := range c.Parameters {
			var p map[string]json.RawMessage
			var kind string
			_ = json.Unmarshal(raw, &p)
			_ = json.Unmarshal(p["type"], &kind)
			isMedia := kind == "image" || kind == "video" || kind == "document"
			switch {
			case format == "text" && !isMedia && kind != "location":
				continue
			case kind != format:
				return "", 0, &metaError{http.StatusBadRequest, codeFormatMismatch, fmt.Sprintf("(#132012) Parameter format does not match format in the created template: header wants %s, got %s", format, cmp.Or(kind, "none"))}
			case kind == "location":
				return "", 0, checkLocation(p["location"])
			}
			var m struct {
				ID   string `json:"id"`
				Link string `json:"link"`
			}
			if err := json.Unmarshal(p[kind], &m); err != nil || (m.ID == "") == (m.Link == "") {
				if m.ID != "" {
					return "", 0, &metaError{http.StatusBadRequest, codeParamInvalid, "(#131009) Parameter value is not valid: a header " + kind + " takes a link or an id, not both"}
				}
				return "", 0, &metaError{http.StatusBadRequest, codeParamMissing, "(#131008) Required parameter is missing: header " + kind + " needs a link or an id"}
			}
			if m.Link != "" {
				u, err := url.Parse(m.Link)
				if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					return "", 0, &metaError{http.StatusBadRequest, codeParamInvalid, "(#131009) Parameter value is not valid: header " + kind + " link"}
				}
				if strings.HasSuffix(u.Hostname(), ".invalid") {
					return "link:" + m.Link, codeMediaUpload, nil
				}
				return "link:" + m.Link, 0, nil
			}
			up, ok := s.uploads[m.ID]
			if !ok || up.numberID != numberID || s.now().Sub(up.at) > whatsapp.MediaLifetime ||
				whatsapp.MediaTypes[up.mimeType].Kind != whatsapp.MediaKind(kind) {
				return "id:" + m.ID, codeMediaUpload, nil
			}
			return "id:" + m.ID, 0, nil
		}
	}
	return "", 0, nil
}
