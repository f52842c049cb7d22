// Package media uploads the files that template headers show (images, videos, documents) to a
// channel's number at Meta, checked against Meta's types and limits first, and lists them. Meta
// keeps each file 30 days; Dripcast keeps its id, name, type, size and hash, not the file. The API
// and the console call it alike.
package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"os"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/templates"
	"github.com/dripcast/dripcast/whatsapp"
)

// View is an uploaded file as the API and the console show it. MediaID is what a template's
// header.media parameter takes.
type View struct {
	ID         int64     `json:"id"`
	ChannelID  int64     `json:"channel_id"`
	MediaID    string    `json:"media_id"`
	Filename   string    `json:"filename"`
	MimeType   string    `json:"mime_type"`
	Kind       string    `json:"kind"` // image, video or document: the header it fits
	SizeBytes  int64     `json:"size_bytes"`
	SHA256     string    `json:"sha256"`
	UploadedAt time.Time `json:"uploaded_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Expired    bool      `json:"expired"`
}

// ViewOf shows a stored upload.
func ViewOf(m queries.MediaFile) View {
	return View{ID: m.ID, ChannelID: m.ChannelID, MediaID: m.MediaID, Filename: m.Filename, MimeType: m.MimeType,
		Kind: string(whatsapp.MediaTypes[m.MimeType].Kind), SizeBytes: m.SizeBytes, SHA256: m.Sha256,
		UploadedAt: m.UploadedAt, ExpiresAt: m.ExpiresAt, Expired: time.Now().After(m.ExpiresAt)}
}

// byExtension names the type of a file sent without one (or as application/octet-stream).
var byExtension = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".mp4": "video/mp4", ".3gp": "video/3gpp",
	".pdf": "application/pdf", ".txt": "text/plain", ".doc": "application/msword", ".xls": "application/vnd.ms-excel",
	".ppt":  "application/vnd.ms-powerpoint",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

// MaxBody bounds an upload's request body: Meta's largest file (a 100 MB document) and its form.
const MaxBody = whatsapp.MaxMediaBytes + 1<<20

// File is a file to upload: its name and type as the sender gave them, and its bytes.
type File struct {
	Name string
	Type string // a MIME type; empty or application/octet-stream: told by the name's extension
	Body io.Reader
}

// Upload checks a file against Meta's types and size limits, uploads it to the number of by's
// channel, and records it. The file is spooled to a temporary file first, so that nothing is sent
// to Meta before all of it has been checked.
func Upload(ctx context.Context, db *pgxpool.Pool, meta *whatsapp.Client, box *secrets.Box, by audit.Actor, channelID int64, f File) (View, error) {
	q := queries.New(db)
	ch, err := q.GetChannel(ctx, queries.GetChannelParams{AccountID: by.AccountID, ID: channelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return View{}, invalid.NotFound("channel")
	}
	if err != nil {
		return View{}, err
	}
	name, mimeType := cleanName(f.Name), typeOf(f)
	spool, err := os.CreateTemp("", "dripcast-media-*")
	if err != nil {
		return View{}, err
	}
	defer func() { spool.Close(); os.Remove(spool.Name()) }()
	size, head, sum, err := copyChecked(spool, f.Body)
	if err != nil {
		return View{}, err
	}
	if err := whatsapp.CheckMedia(mimeType, size, head); err != nil {
		return View{}, invalid.Field("file", "%s", err.Error())
	}
	token, err := box.Open(ch.AccessTokenEnc, secrets.ChannelToken(ch.PhoneNumberID))
	if err != nil {
		return View{}, err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return View{}, err
	}
	mediaID, err := meta.UploadMedia(ctx, token, ch.PhoneNumberID, name, mimeType, spool)
	var apiErr *whatsapp.APIError
	if errors.As(err, &apiErr) {
		return View{}, invalid.Conflict("Meta refused the upload to number %s: %s", ch.DisplayNumber, apiErr.Message)
	}
	if err != nil {
		return View{}, err
	}
	var row queries.MediaFile
	err = audit.Change(ctx, db, by, "media.upload", "media", func(q *queries.Queries) (int64, any, any, error) {
		row, err = q.InsertMedia(ctx, queries.InsertMediaParams{AccountID: by.AccountID, ChannelID: ch.ID, MediaID: mediaID,
			Filename: name, MimeType: mimeType, SizeBytes: size, Sha256: sum, ExpiresAt: time.Now().Add(whatsapp.MediaLifetime)})
		return row.ID, nil, ViewOf(row), err
	})
	return ViewOf(row), err
}

// copyChecked copies at most Meta's largest size (and one byte more, to tell a file too large)
// and answers the size, the first 512 bytes for content sniffing and the SHA-256.
func copyChecked(dst io.Writer, src io.Reader) (int64, []byte, string, error) {
	h := sha256.New()
	head := &prefix{max: 512}
	n, err := io.Copy(io.MultiWriter(dst, h, head), io.LimitReader(src, whatsapp.MaxMediaBytes+1))
	return n, head.b, hex.EncodeToString(h.Sum(nil)), err
}

// prefix keeps the first max bytes written to it.
type prefix struct {
	b   []byte
	max int
}

func (p *prefix) Write(b []byte) (int, error) {
	if room := p.max - len(p.b); room > 0 {
		p.b = append(p.b, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

// typeOf is the file's MIME type without parameters, or the one its extension names.
func typeOf(f File) string {
	t, _, _ := mime.ParseMediaType(f.Type)
	if t == "" || t == "application/octet-stream" {
		return byExtension[strings.ToLower(path.Ext(f.Name))]
	}
	return t
}

// cleanName keeps a file name's last element, printable, at most 200 characters.
func cleanName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) || r == '"' {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 200 {
		name = string(r[len(r)-200:])
	}
	if name == "" || name == "." || name == "/" {
		return "file"
	}
	return name
}

// List lists the uploads of an account's channel, oldest first, after the id after.
func List(ctx context.Context, q *queries.Queries, accountID, channelID, after int64, limit int32) ([]View, error) {
	if _, err := q.GetChannel(ctx, queries.GetChannelParams{AccountID: accountID, ID: channelID}); errors.Is(err, pgx.ErrNoRows) {
		return nil, invalid.NotFound("channel")
	} else if err != nil {
		return nil, err
	}
	rows, err := q.ListMedia(ctx, queries.ListMediaParams{AccountID: accountID, ChannelID: channelID, After: after, Lim: limit})
	views := make([]View, len(rows))
	for i, r := range rows {
		views[i] = ViewOf(r)
	}
	return views, err
}

// CheckRefs checks the uploaded files a template's media header names (a fixed value or a
// fallback that is a media id) against the uploads Dripcast knows of: one uploaded to another of
// the account's numbers, or expired by at, would fail every send with 131053. An id Dripcast
// does not know (uploaded to Meta by other means) is left to Meta.
func CheckRefs(ctx context.Context, q *queries.Queries, accountID, channelID int64, t templates.Template, at time.Time) error {
	src, ok := t.Parameters["header.media"]
	if !ok || t.Components.Header == nil || t.Components.Header.Format == "text" {
		return nil
	}
	for _, v := range []string{src.Value, src.Fallback} {
		ref, err := templates.MediaRef(v)
		if v == "" || err != nil || ref.ID == "" {
			continue
		}
		rows, err := q.MediaByID(ctx, queries.MediaByIDParams{AccountID: accountID, MediaID: ref.ID})
		if err != nil {
			return err
		}
		for _, r := range rows {
			switch {
			case r.ChannelID != channelID:
				return invalid.Field("parameters.header.media", "media id %s was uploaded to another channel (%d); only the number it was uploaded to may send it", ref.ID, r.ChannelID)
			case !r.ExpiresAt.After(at):
				return invalid.Field("parameters.header.media", "the file of media id %s expires at %s, before this sends: upload it again", ref.ID, r.ExpiresAt.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}
