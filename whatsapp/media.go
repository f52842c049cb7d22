package whatsapp

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// MediaKind is what a media type can be sent as: a template header takes image, video or document.
type MediaKind string

// The kinds of media a template header takes.
const (
	MediaImage    MediaKind = "image"
	MediaVideo    MediaKind = "video"
	MediaDocument MediaKind = "document"
)

// MediaType is one type Meta takes for upload, with its size limit.
type MediaType struct {
	Kind     MediaKind
	MaxBytes int64
	// Sniffed is what net/http's content sniffing says of such a file, when it can tell (the
	// Office formats sniff as zip or nothing useful, and are taken on the declared type).
	Sniffed string
}

const mb = 1 << 20

// MediaTypes are the MIME types Meta's Cloud API takes for the media a template header shows,
// with Meta's size limits (images 5 MB, videos 16 MB, documents 100 MB).
var MediaTypes = map[string]MediaType{
	"image/jpeg":                    {MediaImage, 5 * mb, "image/jpeg"},
	"image/png":                     {MediaImage, 5 * mb, "image/png"},
	"video/mp4":                     {MediaVideo, 16 * mb, "video/mp4"},
	"video/3gpp":                    {MediaVideo, 16 * mb, ""},
	"application/pdf":               {MediaDocument, 100 * mb, "application/pdf"},
	"text/plain":                    {MediaDocument, 100 * mb, "text/plain; charset=utf-8"},
	"application/msword":            {MediaDocument, 100 * mb, ""},
	"application/vnd.ms-excel":      {MediaDocument, 100 * mb, ""},
	"application/vnd.ms-powerpoint": {MediaDocument, 100 * mb, ""},
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   {MediaDocument, 100 * mb, ""},
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         {MediaDocument, 100 * mb, ""},
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": {MediaDocument, 100 * mb, ""},
}

// UploadTimeout bounds an upload (the client's timeout, when longer): 100 MB at 3 Mbit/s.
const UploadTimeout = 5 * time.Minute

// MaxMediaBytes is the largest file Meta takes (a document).
const MaxMediaBytes = 100 * mb

// MediaLifetime is how long Meta keeps an uploaded file: its id is refused after that.
const MediaLifetime = 30 * 24 * time.Hour

// CheckMedia says why Meta would refuse a file of this type and size, or nil. head is the file's
// first bytes (up to 512), for a type that can be told by its content.
func CheckMedia(mimeType string, size int64, head []byte) error {
	t, ok := MediaTypes[mimeType]
	switch {
	case !ok:
		return fmt.Errorf("type %q is not one Meta takes for a template header (JPEG or PNG images, MP4 or 3GP videos, PDF, text or Office documents)", mimeType)
	case size == 0:
		return fmt.Errorf("the file is empty")
	case size > t.MaxBytes:
		return fmt.Errorf("the file has %d bytes; Meta takes at most %d MB for %s", size, t.MaxBytes/mb, mimeType)
	case t.Sniffed != "" && http.DetectContentType(head) != t.Sniffed:
		return fmt.Errorf("the file is not a %s (it reads as %s)", mimeType, http.DetectContentType(head))
	}
	return nil
}

// UploadMedia uploads a file to a number's media store (POST /{phone-number-id}/media, multipart)
// and answers its media id, which the number's messages may use for 30 days. The body is streamed
// from file; check it with CheckMedia first.
func (c *Client) UploadMedia(ctx context.Context, token, phoneNumberID, filename, mimeType string, file io.Reader) (string, error) {
	pr, pw := io.Pipe()
	form := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(writeMediaForm(form, filename, mimeType, file)) }()
	defer pr.Close() // unblocks the writer when the request ends early
	var out struct {
		ID string `json:"id"`
	}
	if err := c.doBody(ctx, c.upload, http.MethodPost, token, phoneNumberID+"/media", form.FormDataContentType(), pr, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", &APIError{HTTPStatus: http.StatusOK, Message: "Meta answered the upload without a media id"}
	}
	return out.ID, nil
}

func writeMediaForm(form *multipart.Writer, filename, mimeType string, file io.Reader) error {
	for _, f := range [][2]string{{"messaging_product", "whatsapp"}, {"type", mimeType}} {
		if err := form.WriteField(f[0], f[1]); err != nil {
			return err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, strings.ReplaceAll(filename, `"`, "")))
	h.Set("Content-Type", mimeType)
	part, err := form.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, file); err != nil {
		return err
	}
	return form.Close()
}
