// Command benchtable reads the output of `go test -bench` (each benchmark repeated with -count)
// and writes the results table of BENCHMARKS.md: for each benchmark its figure and its same-run
// baseline as median, min and max, the ratio, the target and whether it holds.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// target is what a benchmark must show: a metric at least, at most, or exactly a value.
type target struct {
	figure, baseline, check string // metric units as the benchmark reports them
	atLeast                 bool
	value                   float64
	what                    string
	exact                   bool // every run must show exactly value
	diagnostic              bool // explains another row: no target
}

// targets lists, per benchmark, the rows of the table: most have one, some check several figures.
var targets = map[string][]target{
	"BenchmarkExpand": {{"rows/s", "messages_rows/s", "ratio-to-messages", true, 0.9, "1. expand 1,000,000 contacts into message rows, against a plain INSERT … SELECT into `messages` itself, with its indexes", false, false},
		{"rows/s", "baseline_rows/s", "ratio", true, 0.35, "1b. the same expansion against a plain INSERT … SELECT into an unindexed table of the same width", false, false}},
	"BenchmarkSends": {{"sends/s", "floor-sends/s", "floor-ratio", true, 0.6, "2a. end-to-end sends/s, 200,000 contacts on 8 numbers, against the floor pipeline's (Asynq task, Cloud API POST, batched UPDATE of a plain table, per recipient)", false, false},
		{"cpu-us/send", "floor-cpu-us/send", "cpu-vs-floor", false, 1.5, "2b. CPU time of a send, every process (µs), against the floor pipeline's", false, false},
		{"bound-cpu-us/send", "cpu-us/send", "bound-cpu-ratio", false, 1.1, "2c. CPU time of a send when one number's limit binds (1,000 mps, 50,000 contacts), against 2's when none binds", false, false},
		{"sends/s", "noop-tasks/s", "ratio", false, 0, "2. (why) the same sends/s against Asynq no-op tasks/s (the old yardstick)", false, true},
		{"cpu-us/send", "noop-cpu-us/task", "cpu-ratio", false, 0, "2. (why) CPU time of a send, every process (µs), against a no-op task's: the ceiling of the ratio on busy cores", false, true},
		{"peak-rss-MB", "", "peak-rss-MB", false, 300, "9. peak RSS of `dripcast serve` during benchmark 2 (MB)", false, false}},
	"BenchmarkWebhooks": {{"statuses/s", "update-rows/s", "ratio", true, 0.25, "3. status webhooks applied/s, 200,000 messages × 3 statuses, against batched UPDATEs", false, false}},
	"BenchmarkRateAccuracy": {{"mps-at-80", "", "ratio-at-80", true, 0.97, "4. achieved rate on an 80 mps number, two worker processes", false, false},
		{"mps-at-1000", "", "ratio-at-1000", true, 0.97, "4. achieved rate on a 1,000 mps number, two worker processes", false, false},
		{"mps-at-80-hog", "", "ratio-at-80-hog", true, 0.9, "4. the same at 80 mps beside a CPU hog (a busy loop on every core)", false, false},
		{"mps-at-1000-hog", "", "ratio-at-1000-hog", true, 0.9, "4. the same at 1,000 mps beside a CPU hog", false, false},
		{"refused-at-80", "", "refused-at-80", false, 0, "4. sends metasim refused for throughput (any sliding second), 80 mps, every run", true, false},
		{"refused-at-1000", "", "refused-at-1000", false, 0, "4. sends metasim refused for throughput (any sliding second), 1,000 mps, every run", true, false},
		{"refused-at-80-hog", "", "refused-at-80-hog", false, 0, "4. the same at 80 mps beside a CPU hog, every run", true, false},
		{"refused-at-1000-hog", "", "refused-at-1000-hog", false, 0, "4. the same at 1,000 mps beside a CPU hog, every run", true, false}},
	"BenchmarkTier":        {{"sent", "tier", "ratio", false, 1, "5. broadcast to 3,000 contacts on a 2,000-user tier: sent in the window, none lost", true, false}},
	"BenchmarkRedisMemory": {{"redis-peak-MB", "all-tasks-MB", "redis-peak-MB", false, 64, "6. Redis peak memory during a 1,000,000-recipient broadcast (MB)", false, false}},
	"BenchmarkScheduleLatency": {{"broadcast-p99-s", "", "broadcast-p99-s", false, 1, "7. schedule latency, broadcast due → first send, p99 (s)", false, false},
		{"drip-p99-s", "", "drip-p99-s", false, 2, "7. schedule latency, drip step due → send, p99 (s)", false, false}},
	"BenchmarkImportCSV": {{"rows/s", "copy_rows/s", "ratio", true, 0.2, "8. import 1,000,000 CSV rows", false, false}},
	"BenchmarkSegmentCount": {{"slowest-ms", "plain-count-ms", "slowest-ms", false, 1000,
		"8b. the segment builder's live count (count and five contacts), slowest of six rules, 100,000 contacts (ms)", false, false}},
	"BenchmarkPanelQueries": {{"slowest-ms", "", "slowest-ms", false, 200, "slowest dashboard panel query on 10,000,000 messages (ms)", false, false}},
}

var (
	line = regexp.MustCompile(`^(Benchmark\w+?)(-\d+)?\s+\d+\s+(.*)$`)
	// A benchmark that prints while it runs gets its name on one line and its figures later; a
	// library's log line may follow the name on its line.
	nameOnly = regexp.MustCompile(`^(Benchmark\w+?)(-\d+)?(\s+[^\s\d].*)?\s*$`)
	figures  = regexp.MustCompile(`^\s*\d+\s+(\d.*ns/op.*)$`)
)

func main() {
	in := flag.String("in", "", "go test -bench output")
	out := flag.String("out", "", "the Markdown file whose results section is replaced")
	flag.Parse()
	raw, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	runs := map[string][]map[string]float64{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	pending := ""
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if n := nameOnly.FindStringSubmatch(sc.Text()); n != nil {
			pending = n[1]
			continue
		}
		if f := figures.FindStringSubmatch(sc.Text()); m == nil && f != nil && pending != "" {
			m = []string{"", pending, "", f[1]}
		}
		if m == nil {
			continue
		}
		pending = ""
		fields := strings.Fields(m[3])
		metrics := map[string]float64{}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err == nil {
				metrics[fields[i+1]] = v
			}
		}
		if _, seen := runs[m[1]]; !seen {
			order = append(order, m[1])
		}
		runs[m[1]] = append(runs[m[1]], metrics)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Measured on %s.\n\n", machine())
	b.WriteString("| benchmark | figure: median (min–max) | baseline, same run | ratio: median (min–max) | target | holds |\n|---|---|---|---|---|---|\n")
	order = slices.DeleteFunc(order, func(name string) bool { return targets[name] == nil })
	slices.SortStableFunc(order, func(a, b string) int { return strings.Compare(targets[a][0].what, targets[b][0].what) })
	for _, name := range order {
		for _, t := range targets[name] {
			writeRow(&b, name, t, runs[name])
		}
	}
	doc, err := os.ReadFile(*out)
	if err != nil {
		log.Fatal(err)
	}
	start, end := bytes.Index(doc, []byte("<!-- results -->")), bytes.Index(doc, []byte("<!-- /results -->"))
	if start < 0 || end < start {
		log.Fatalf("%s has no <!-- results --> … <!-- /results --> section", *out)
	}
	next := append(append(append([]byte{}, doc[:start+len("<!-- results -->\n")]...), b.String()...), doc[end:]...)
	if err := os.WriteFile(*out, next, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Print(b.String())
}

func writeRow(b *strings.Builder, name string, t target, runs []map[string]float64) {
	fig := stats(runs, t.figure)
	base := "—"
	if t.baseline != "" {
		base = stats(runs, t.baseline)
	}
	ratio := "—"
	if strings.Contains(t.check, "ratio") || strings.HasPrefix(t.check, "cpu-vs") { // a ratio of figure to baseline
		ratio = stats(runs, t.check)
	}
	if t.diagnostic {
		fmt.Fprintf(b, "| %s (%s) | %s %s | %s | %s | — | — |\n", t.what, name, fig, t.figure, base, stats(runs, t.check))
		return
	}
	vals := values(runs, t.check)
	med := median(vals)
	holds := med <= t.value
	cmp := "≤"
	switch {
	case t.exact: // every run, not only the median
		holds, cmp = len(vals) > 0 && vals[0] == t.value && vals[len(vals)-1] == t.value, "="
	case t.atLeast:
		holds, cmp = med >= t.value, "≥"
	}
	fmt.Fprintf(b, "| %s (%s) | %s %s | %s | %s | %s %s %g | %s |\n", t.what, name, fig, t.figure, base, ratio, t.check, cmp, t.value,
		map[bool]string{true: "yes", false: "**no**"}[holds])
}

func values(runs []map[string]float64, metric string) []float64 {
	var v []float64
	for _, r := range runs {
		if x, ok := r[metric]; ok {
			v = append(v, x)
		}
	}
	slices.Sort(v)
	return v
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

func stats(runs []map[string]float64, metric string) string {
	v := values(runs, metric)
	if len(v) == 0 {
		return "—"
	}
	return fmt.Sprintf("%s (%s–%s)", num(median(v)), num(v[0]), num(v[len(v)-1]))
}

func num(x float64) string {
	switch {
	case x >= 1000:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// machine describes where the figures come from.
func machine() string {
	cpu := "an unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`model name\s*:\s*(.*)`).FindSubmatch(raw); m != nil {
			cpu = strings.TrimSpace(string(m[1]))
		}
	}
	mem := ""
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		if m := regexp.MustCompile(`MemTotal:\s*(\d+) kB`).FindSubmatch(raw); m != nil {
			kb, _ := strconv.Atoi(string(m[1]))
			mem = fmt.Sprintf(", %d GiB", kb>>20)
		}
	}
	pg, _ := exec.Command("postgres", "--version").Output()
	if len(pg) == 0 {
		pg, _ = exec.Command("psql", "--version").Output()
	}
	return fmt.Sprintf("%d × %s%s, %s, %s", runtime.NumCPU(), cpu, mem, runtime.Version(), strings.TrimSpace(string(pg)))
}
