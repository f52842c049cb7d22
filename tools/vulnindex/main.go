// Command vulnindex turns the OSV files of the Go vulnerability database (the golang.org/x/vulndb
// module, served by the module proxy) into the database layout govulncheck reads with
// -db file://…, so `make lint` works without reaching vuln.go.dev.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// entry is the part of an OSV entry the index needs.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

func main() {
	osvDir := flag.String("osv", "", "the data/osv folder of golang.org/x/vulndb")
	out := flag.String("out", "", "where to write the database")
	flag.Parse()
	if *osvDir == "" || *out == "" {
		log.Fatal("usage: vulnindex -osv DIR -out DIR")
	}
	files, err := filepath.Glob(filepath.Join(*osvDir, "GO-*.json"))
	if err != nil || len(files) == 0 {
		log.Fatalf("no OSV files in %s: %v", *osvDir, err)
	}
	for _, d := range []string{"ID", "index"} {
		if err := os.MkdirAll(filepath.Join(*out, d), 0o755); err != nil {
			log.Fatal(err)
		}
	}
	var newest time.Time
	modules := map[string]*module{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			log.Fatalf("%s: %v", f, err)
		}
		if e.Modified.After(newest) {
			newest = e.Modified
		}
		for _, a := range e.Affected {
			m := modules[a.Package.Name]
			if m == nil {
				m = &module{Path: a.Package.Name}
				modules[a.Package.Name] = m
			}
			// No "fixed" version: govulncheck then reads the entry and checks its ranges itself.
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified})
		}
		write(filepath.Join(*out, "ID", e.ID+".json"), raw)
	}
	list := make([]*module, 0, len(modules))
	for _, m := range modules {
		list = append(list, m)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Path < list[j].Path })
	writeJSON(filepath.Join(*out, "index", "modules.json"), list)
	writeJSON(filepath.Join(*out, "index", "db.json"), map[string]time.Time{"modified": newest})
	log.Printf("%d entries, %d modules", len(files), len(list))
}

func writeJSON(path string, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		log.Fatal(err)
	}
	write(path, raw)
}

func write(path string, raw []byte) {
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		log.Fatal(err)
	}
}
