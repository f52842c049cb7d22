package api

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/dripcast/dripcast/media"
)

// uploadMedia takes a multipart form whose "file" part is the file (its type from the part's
// Content-Type, else its name's extension) and uploads it to the channel's number at Meta.
func (s *Server) uploadMedia(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "channel")
	if err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia, Message: "send the file as multipart/form-data, in a part named file"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, media.MaxBody)
	mr, err := r.MultipartReader()
	if err != nil {
		return errValidation("file", "the multipart body could not be read: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return errValidation("file", "the form has no part named file")
		}
		if err != nil {
			return mediaBodyError(err)
		}
		if part.FormName() != "file" {
			continue
		}
		view, err := media.Upload(r.Context(), s.db, s.opts.Meta, s.opts.Secrets, caller(r.Context()).actor(), id,
			media.File{Name: part.FileName(), Type: part.Header.Get("Content-Type"), Body: part})
		if err != nil {
			return mediaBodyError(err)
		}
		writeJSON(w, http.StatusCreated, view)
		return nil
	}
}

func mediaBodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "the file is larger than Meta takes (100 MB for a document, less for images and videos)"}
	}
	return err
}

func (s *Server) listMedia(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "channel")
	if err != nil {
		return err
	}
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	views, err := media.List(r.Context(), s.q, caller(r.Context()).AccountID, id, after, int32(limit+1))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(views, limit, func(v media.View) int64 { return v.ID }))
	return nil
}
