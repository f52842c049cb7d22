package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// upload posts a file with the import form's fields, CSRF token first, as a browser does.
func (b *browser) upload(name, content string, fields map[string]string, csrf string) (int, string, string) {
	b.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", csrf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = io.WriteString(fw, content)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", b.e.srv.URL+"/contacts/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := b.http.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(raw)
}

// A CSV with bad rows: the good rows are imported, the bad ones listed with their line and reason
// and downloadable; a mapped column is read; without the CSRF token nothing is imported; an
// analyst cannot import.
func TestImportPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	b := e.signIn(account, "marketer")
	file := "Mobile,name,city\n+14155550101,Ana,Pune\nnot a number,Bo,Delhi\n+14155550103,Cy,Mumbai\n,Dee,Goa\n"
	fields := map[string]string{"default_country": "US", "opt_in_source": "import", "mapping": "phone = Mobile"}
	if status, _, _ := b.upload("list.csv", file, fields, "forged"); status != http.StatusForbidden {
		t.Fatalf("a forged token: %d", status)
	}
	var n int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM contacts WHERE account_id = $1`, account).Scan(&n)
	if n != 0 {
		t.Fatalf("%d contacts imported without the token", n)
	}
	status, location, _ := b.upload("list.csv", file, fields, b.csrf)
	if status != http.StatusSeeOther || !regexp.MustCompile(`^/contacts/imports/\d+$`).MatchString(location) {
		t.Fatalf("import: %d %q", status, location)
	}
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM contacts WHERE account_id = $1 AND attributes->>'city' IS NOT NULL`, account).Scan(&n)
	if n != 2 {
		t.Fatalf("%d contacts imported, want 2", n)
	}
	_, page := b.do("GET", location, nil)
	if !strings.Contains(page, `id="import-created">2<`) || !strings.Contains(page, `id="import-rejected">2<`) {
		t.Fatalf("the result page:\n%.1500s", regexp.MustCompile(`(?s)<main.*`).FindString(page))
	}
	status, raw := b.do("GET", location+"/rejects.csv", nil)
	rows, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	if status != http.StatusOK || err != nil || len(rows) != 3 || rows[1][0] != "3" || rows[2][0] != "5" {
		t.Fatalf("rejects: %d %v %q", status, err, rows)
	}
	// Again, only filling in: Ana keeps her name and her consent.
	again := "phone,name,opted_in\n+14155550101,Anna Changed,true\n"
	if status, _, _ := b.upload("again.csv", again, map[string]string{"opt_in_source": "import", "existing": "fill"}, b.csrf); status != http.StatusSeeOther {
		t.Fatalf("fill-only import: %d", status)
	}
	var name string
	var optedIn bool
	_ = e.pool.QueryRow(context.Background(), `SELECT name, opted_in FROM contacts WHERE account_id = $1 AND phone = '+14155550101'`, account).Scan(&name, &optedIn)
	if name != "Ana" || optedIn {
		t.Fatalf("a fill-only import changed a known contact: %q, opted in %v", name, optedIn)
	}
	if status, _, body := b.upload("list.xlsx", file, fields, b.csrf); status != http.StatusBadRequest || !strings.Contains(body, ".csv") {
		t.Fatalf("a spreadsheet file: %d", status)
	}
	if status, _, _ := e.signIn(account, "analyst").upload("list.csv", file, fields, ""); status != http.StatusForbidden {
		t.Fatalf("an analyst imports: %d", status)
	}
}
