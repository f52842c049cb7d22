package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/queries"
)

// retryFailed makes a new broadcast, sent now, to the recipients whose messages failed with a
// reason worth retrying (broadcast.Retry says which).
func (s *Server) retryFailed(w http.ResponseWriter, r *http.Request) error {
	b, err := s.loadBroadcast(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	params, err := broadcast.Retry(ctx, s.q, b, time.Now())
	if errors.Is(err, broadcast.ErrNothingToRetry) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error()}
	}
	if err != nil {
		return err
	}
	var out queries.Broadcast
	err = s.inTx(ctx, func(q *queries.Queries) error {
		if out, err = q.CreateBroadcast(ctx, params); err != nil {
			return err
		}
		return s.audit(ctx, q, "broadcast.retry_failed", "broadcast", out.ID, nil, viewBroadcast(out))
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewBroadcast(out))
	return nil
}
