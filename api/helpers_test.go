package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dripcast/dripcast/apikey"
	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

// env is one API server on a database and Redis database of its own, with a metasim of its own
// as Meta (unless opts name another client).
type env struct {
	t    *testing.T
	srv  *httptest.Server
	api  *Server
	pool *pgxpool.Pool
	sim  *metasim.Sim
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	return buildEnv(t, opts, true)
}

// newEnvWithoutMeta is an API with no Cloud API client: what needs Meta answers 503.
func newEnvWithoutMeta(t *testing.T, opts Options) *env {
	t.Helper()
	return buildEnv(t, opts, false)
}

func buildEnv(t *testing.T, opts Options, withMeta bool) *env {
	t.Helper()
	pool := testenv.DB(t)
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.Secrets == nil {
		opts.Secrets = testenv.Secrets(t)
	}
	sim := metasim.New(metasim.Config{})
	t.Cleanup(sim.Close)
	if opts.Meta == nil && withMeta {
		simSrv := httptest.NewServer(sim.Handler())
		t.Cleanup(simSrv.Close)
		opts.Meta = whatsapp.NewClient(simSrv.URL, "v23.0", 5*time.Second)
	}
	s := New(pool, testenv.Redis(t), log, opts, reg, reg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, api: s, pool: pool, sim: sim}
}

// account creates a tenant and returns its id and an owner key.
func (e *env) account(name string) (int64, string) {
	e.t.Helper()
	ctx := context.Background()
	q := queries.New(e.pool)
	acct, err := q.CreateAccount(ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	key := apikey.New()
	if _, err := q.CreateAPIKey(ctx, queries.CreateAPIKeyParams{AccountID: acct.ID, Name: "test", Prefix: key.Prefix, SecretHash: key.Hash, Role: "owner"}); err != nil {
		e.t.Fatal(err)
	}
	return acct.ID, key.Token
}

// response is a decoded answer.
type response struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Header http.Header
}

func (r response) errCode() string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r response) num(key string) int64 {
	f, _ := r.Body[key].(float64)
	return int64(f)
}

// call sends a request with a JSON body (nil: none).
func (e *env) call(key, method, path string, body any) response {
	e.t.Helper()
	return e.send(key, method, path, "application/json", jsonBody(e.t, body))
}

// jsonBody encodes a request body; nil is none.
func jsonBody(t *testing.T, body any) io.Reader {
	t.Helper()
	if body == nil {
		return nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

func (e *env) send(key, method, path, contentType string, body io.Reader) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	return e.do(req)
}

// do sends a request and checks the answer against the OpenAPI document.
func (e *env) do(req *http.Request) response {
	e.t.Helper()
	out, err := e.try(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// try is do for a goroutine other than the test's: it fails the test only with Errorf.
func (e *env) try(req *http.Request) (response, error) {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{Status: res.StatusCode, Raw: raw, Header: res.Header}
	_ = json.Unmarshal(raw, &out.Body)
	if err := checkResponse(req, res, raw); err != nil {
		e.t.Errorf("%s %s answered %d, which api/openapi.yaml does not describe: %v", req.Method, req.URL.Path, res.StatusCode, err)
	}
	return out, nil
}

// want fails the test unless the status is as expected.
func (r response) want(t *testing.T, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// upload is a multipart body with one file part, as a client uploads media.
type upload struct {
	contentType string
	body        []byte
}

func newUpload(t *testing.T, field, filename, mimeType string, content []byte) upload {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, filename))
	if mimeType != "" {
		h.Set("Content-Type", mimeType)
	}
	part, err := w.CreatePart(h)
	if err == nil {
		_, err = part.Write(content)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return upload{w.FormDataContentType(), buf.Bytes()}
}

// upload posts a multipart body.
func (e *env) upload(key, path string, u upload) response {
	e.t.Helper()
	return e.send(key, "POST", path, u.contentType, bytes.NewReader(u.body))
}
